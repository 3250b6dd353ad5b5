"""Planning a Redshift rescale: elastic or classic by AWS's resize rules, and the steps to the target shape."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest
from ..limits import REDSHIFT_NODE_TYPES
from ..validation import validate_redshift_nodes, validate_resize_type

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class ResizePlan:
    """The resize dbscale will ask for and why: ``method`` is ``"elastic"`` or ``"classic"``."""

    method: str
    reason: str


def choose_resize(
    current_type: str, current_nodes: int, new_type: str, new_nodes: int, resize_type: str = "auto"
) -> ResizePlan:
    """Choose elastic or classic resize for a node type/count change, following AWS's rules.

    AWS (Amazon Redshift Management Guide, "Resizing a cluster" -> "Elastic resize",
    https://docs.aws.amazon.com/redshift/latest/mgmt/resizing-cluster.html): elastic resize of the
    node count grows it up to 2x (4x for ra3.4xlarge and ra3.16xlarge) and shrinks it to 1/2 (1/4
    for ra3.xlplus, ra3.4xlarge and ra3.16xlarge), up to the elastic maximum of the node type; it is
    not available to or from a single-node cluster. Elastic resize can also change the node type
    (e.g. DC2 to RA3) when AWS can map the slices, which AWS decides at request time, so ``auto``
    picks classic (always allowed) for a node type change and ``resize_type="elastic"`` tries it.
    Nothing resizes back to DC2. ``resize_type="elastic"`` on a count change elastic resize cannot
    do raises :class:`InvalidRequest` naming the allowed counts.
    """
    validate_resize_type(resize_type)
    if new_type != current_type and new_type.startswith("dc2.") and not current_type.startswith("dc2."):
        raise InvalidRequest(
            f"{current_type} cannot be resized to {new_type}: AWS does not resize back to DC2",
            field="new_instance_type",
        )
    if resize_type == "classic":
        return ResizePlan("classic", "classic resize requested")
    spec = REDSHIFT_NODE_TYPES[current_type]
    shrink = spec.elastic_shrink_factor or spec.elastic_factor
    low = max(math.ceil(current_nodes / shrink), 2)
    high = min(current_nodes * spec.elastic_factor, spec.elastic_max_nodes)
    why_not: str | None = None
    if current_nodes == 1 or new_nodes == 1:
        why_not = "elastic resize is not available to or from a single-node cluster"
    elif new_type != current_type:
        if resize_type == "elastic":
            return ResizePlan("elastic", f"elastic node type change {current_type} -> {new_type} requested")
        why_not = f"a node type change ({current_type} -> {new_type}) uses classic resize unless elastic is forced"
    elif not low <= new_nodes <= high:
        why_not = f"elastic resize of a {current_nodes}-node {current_type} cluster allows {low} to {high} nodes"
    if why_not is None:
        return ResizePlan("elastic", f"{current_nodes} -> {new_nodes} nodes is within elastic bounds")
    if resize_type == "elastic":
        raise InvalidRequest(f"cannot force elastic resize: {why_not}", field="resize_type")
    return ResizePlan("classic", why_not)


def plan_rescale(
    c: dict[str, Any], target_type: str, target_nodes: int, new_paused: bool | None, resize_type: str
) -> list[dict[str, Any]]:
    """The steps that take a settled cluster ``c`` to the target shape and paused state."""
    paused_now = c["ClusterStatus"] == "paused"
    paused_after = paused_now if new_paused is None else new_paused
    must_resize = (target_type, target_nodes) != (c["NodeType"], int(c["NumberOfNodes"]))
    steps: list[dict[str, Any]] = []
    if must_resize:
        plan = choose_resize(c["NodeType"], int(c["NumberOfNodes"]), target_type, target_nodes, resize_type)
        if plan.method == "classic":
            # Counts only elastic resize reaches (RA3 beyond its create maximum) are out of reach now.
            validate_redshift_nodes(
                target_type, target_nodes, node_type_field="new_instance_type", count_field="new_cluster_size"
            )
        if paused_now:
            steps += [{"action": "resume"}, {"action": "wait_available"}]
        steps += [
            {
                "action": "resize",
                "node_type": target_type,
                "number_of_nodes": target_nodes,
                "classic": plan.method == "classic",
                "reason": plan.reason,
            },
            {"action": "wait_resized", "node_type": target_type, "number_of_nodes": target_nodes},
        ]
        if paused_after:
            steps += [{"action": "pause"}, {"action": "wait_paused"}]
    elif paused_after and not paused_now:
        steps += [{"action": "pause"}, {"action": "wait_paused"}]
    elif paused_now and not paused_after:
        steps += [{"action": "resume"}, {"action": "wait_available"}]
    return steps
