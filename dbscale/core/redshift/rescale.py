"""Planning a Redshift rescale: elastic or classic by AWS's resize rules, and the steps to the target shape."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest, InvalidState
from ..limits import REDSHIFT_NODE_TYPES
from ..validation import validate_redshift_node_type, validate_redshift_nodes, validate_resize_type
from .describe import SETTLED


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


def validate_rescale(new_cluster_size: int | None, new_instance_type: str | None, resize_type: str) -> None:
    """The checks of a rescale's arguments that need no AWS call (see ``RedshiftProvisioning.rescale``)."""
    validate_resize_type(resize_type)
    if new_instance_type is not None:
        validate_redshift_node_type(new_instance_type, field="new_instance_type")
    if new_cluster_size is not None:
        if isinstance(new_cluster_size, bool) or not isinstance(new_cluster_size, int) or new_cluster_size < 1:
            raise InvalidRequest(
                f"new_cluster_size must be a whole number of at least 1, got {new_cluster_size!r}",
                field="new_cluster_size",
            )
        if new_instance_type is not None:
            validate_redshift_nodes(
                new_instance_type,
                new_cluster_size,
                node_type_field="new_instance_type",
                count_field="new_cluster_size",
                elastic=resize_type != "classic",
            )


def rescale_steps(
    cluster_name: str,
    cluster: dict[str, Any],
    new_cluster_size: int | None,
    new_paused: bool | None,
    new_instance_type: str | None,
    resize_type: str,
    after_pending: bool,
) -> tuple[list[dict[str, Any]], str, bool]:
    """The steps of a rescale of the described ``cluster`` named ``cluster_name``, its description, and
    whether the cluster is paused now. A cluster mid-operation raises :class:`InvalidState` unless
    ``after_pending``: then the steps wait for it to settle and plan from there (a ``replan`` step)."""
    name = cluster_name
    status = str(cluster["ClusterStatus"])
    c: dict[str, Any] | None = cluster
    steps: list[dict[str, Any]] = []
    if status not in SETTLED:
        if not after_pending:
            raise InvalidState(
                f"Redshift cluster '{name}' is '{status}'; wait until it is available or paused before changing it"
            )
        steps.append({"action": "wait_settled"})
        c = None  # the settled state is unknown until then: plan on what is asked
    target_type = new_instance_type if new_instance_type is not None else (str(c["NodeType"]) if c else None)
    target_nodes = new_cluster_size if new_cluster_size is not None else (int(c["NumberOfNodes"]) if c else None)
    if c is not None and target_type is not None and target_nodes is not None:
        validate_redshift_nodes(
            target_type,
            target_nodes,
            node_type_field="new_instance_type",
            count_field="new_cluster_size",
            elastic=resize_type != "classic",
        )
        steps += plan_rescale(c, target_type, target_nodes, new_paused, resize_type)
    else:
        steps.append(
            {
                "action": "replan",
                "node_type": new_instance_type,
                "number_of_nodes": new_cluster_size,
                "paused": new_paused,
                "resize_type": resize_type,
            }
        )
    parts = []
    if new_instance_type is not None or new_cluster_size is not None:
        parts.append(f"resize to {target_nodes or '?'} x {target_type or '?'}")
    if new_paused is not None:
        parts.append("pause" if new_paused else "resume")
    description = f"{' and '.join(parts) or 'no change'} for Redshift cluster '{name}'"
    return steps, description, status == "paused"
