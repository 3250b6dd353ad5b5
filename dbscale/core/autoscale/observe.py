"""What the autoscaler sees of a cluster: shape, state, and whether it is busy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client
from ..errors import ClusterNotFound
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS

if TYPE_CHECKING:
    import boto3
from .decisions import ClusterRef

_REDSHIFT_SETTLED = frozenset({"available", "paused"})
_AURORA_SETTLED = frozenset({"available", "stopped"})
_REDSHIFT_BUSY_AVAILABILITY = frozenset({"Modifying", "Maintenance", "Failed"})


# --- what the autoscaler sees ---------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """A cluster as the autoscaler saw it: ``status``, ``busy`` (why it cannot be changed now, None when it can),
    Redshift's node type and count, or Aurora's writer class, roles, ACU range and engine."""

    ref: ClusterRef
    found: bool
    status: str = ""
    busy: str | None = None
    node_type: str | None = None
    nodes: int | None = None
    instance_class: str | None = None
    roles: Mapping[str, str] = field(default_factory=dict)  # instance id -> writer | reader
    acu: tuple[float, float] | None = None
    engine: str = ""
    engine_version: str = ""
    all_serverless: bool = False
    auto_pause_seconds: int | None = None

    @property
    def paused(self) -> bool:
        return self.status in ("paused", "stopped")

    @property
    def readers(self) -> int:
        return sum(1 for role in self.roles.values() if role == "reader")

    def current(self) -> dict[str, Any]:
        """The shape and state a decision quotes as ``current``."""
        if not self.found:
            return {"status": "not found"}
        if self.ref.service == "redshift":
            return {"node_type": self.node_type, "nodes": self.nodes, "paused": self.paused, "status": self.status}
        data: dict[str, Any] = {"instance_class": self.instance_class, "readers": self.readers}
        if self.acu is not None:
            data["acu"] = list(self.acu)
        data.update({"paused": self.paused, "status": self.status})
        return data


# --- observing ------------------------------------------------------------------------------------


def observe(ref: ClusterRef, session: boto3.Session | None = None) -> Observed:
    """What ``ref`` looks like now (``found=False`` when it does not exist)."""
    try:
        return _observe_redshift(ref, session) if ref.service == "redshift" else _observe_aurora(ref, session)
    except ClusterNotFound:
        return Observed(ref, found=False)


def _observe_redshift(ref: ClusterRef, session: boto3.Session | None) -> Observed:
    from ..redshift import describe_cluster

    c = describe_cluster(client("redshift", session), ref.name)
    status = str(c.get("ClusterStatus", ""))
    busy = None
    if status not in _REDSHIFT_SETTLED:
        busy = f"the cluster is '{status}'"
    elif c.get("ClusterAvailabilityStatus") in _REDSHIFT_BUSY_AVAILABILITY:
        busy = f"the cluster's availability is '{c['ClusterAvailabilityStatus']}'"
    return Observed(ref, True, status=status, busy=busy, node_type=str(c["NodeType"]), nodes=int(c["NumberOfNodes"]))


def _observe_aurora(ref: ClusterRef, session: boto3.Session | None) -> Observed:
    from ..aurora.describe import acu_range, describe_db_cluster

    rds = client("rds", session)
    c = describe_db_cluster(rds, ref.name)
    with aws_errors(f"describe the instances of Aurora cluster '{ref.name}'"):
        pages = rds.get_paginator("describe_db_instances").paginate(
            Filters=[{"Name": "db-cluster-id", "Values": [ref.name]}]
        )
        instances = {str(i["DBInstanceIdentifier"]): i for page in pages for i in page["DBInstances"]}
    roles = {
        str(m["DBInstanceIdentifier"]): "writer" if m.get("IsClusterWriter") else "reader"
        for m in c.get("DBClusterMembers") or []
    }
    writer = next((name for name, role in roles.items() if role == "writer"), None)
    status = str(c.get("Status", ""))
    busy = None
    if status not in _AURORA_SETTLED:
        busy = f"the cluster is '{status}'"
    else:
        for name, instance in sorted(instances.items()):
            if instance.get("DBInstanceStatus") not in _AURORA_SETTLED:
                busy = f"instance '{name}' is '{instance.get('DBInstanceStatus')}'"
                break
    if busy is None and writer is None:
        busy = "the cluster has no writer instance"
    instance_class = str(instances[writer]["DBInstanceClass"]) if writer in instances else None
    scaling = c.get("ServerlessV2ScalingConfiguration") or {}
    return Observed(
        ref,
        True,
        status=status,
        busy=busy,
        instance_class=instance_class,
        roles=roles,
        acu=acu_range(c),
        engine=str(c.get("Engine", "")),
        engine_version=str(c.get("EngineVersion", "")),
        all_serverless=bool(instances)
        and all(i.get("DBInstanceClass") == AURORA_SERVERLESS_INSTANCE_CLASS for i in instances.values()),
        auto_pause_seconds=int(scaling["SecondsUntilAutoPause"]) if scaling.get("SecondsUntilAutoPause") else None,
    )
