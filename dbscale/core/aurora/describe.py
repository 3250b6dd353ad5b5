"""Reading an Aurora cluster: its states, the names dbscale gives its instances, DescribeDBClusters /
DescribeDBInstances for one of them, and whether a parameter group change waits for a reboot."""

from __future__ import annotations

import re
from typing import Any

from ..limits import CLUSTER_IDENTIFIER_MAX_LENGTH, CREATED_BY_TAG_KEY
from ..provisioning import describe_one

# Cluster states a change may start from; anything else is an operation in flight.
SETTLED = frozenset({"available", "stopped"})
# States where the cluster serves and accepts changes.
USABLE = frozenset({"available", "backing-up"})
BROKEN = frozenset(
    {
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "incompatible-parameters",
        "incompatible-restore",
        "cloning-failed",
        "migration-failed",
        "failed",
        "incompatible-network",
        "incompatible-option-group",
        "storage-full",
    }
)
"""Cluster states that need someone's attention in the RDS console: no step waits them out."""
# The cluster tags its instances inherit at create (dbscale.core.clones' clone-of and copy-of, named
# here because clones imports this module): the providers' IAM conditions on instances read them.
INSTANCE_KIND_TAG_KEYS: tuple[str, ...] = (CREATED_BY_TAG_KEY, "dbscale:clone-of", "dbscale:copy-of")
_INSTANCE_SUFFIX = re.compile(r"-(\d+)$")


def instance_identifier(cluster_name: str, number: int) -> str:
    """The identifier of the ``number``-th instance dbscale creates in a cluster: ``<cluster>-<n>``.

    The cluster part is shortened when needed so the result stays within 63 characters.
    """
    suffix = f"-{number}"
    base = cluster_name[: CLUSTER_IDENTIFIER_MAX_LENGTH - len(suffix)].rstrip("-")
    return base + suffix


def next_instance_ids(cluster_name: str, existing: list[str], count: int) -> list[str]:
    """``count`` new instance identifiers for the cluster (:func:`instance_identifier`), lowest free numbers first."""
    used = {int(m.group(1)) for name in existing if (m := _INSTANCE_SUFFIX.search(name))}
    ids: list[str] = []
    number = 1
    while len(ids) < count:
        candidate = instance_identifier(cluster_name, number)
        if number not in used and candidate not in existing:
            ids.append(candidate)
        number += 1
    return ids


def instance_pending_reboot(cluster: dict[str, Any], instance: dict[str, Any]) -> bool:
    """True when a parameter group change of ``instance`` (its own or its cluster's) waits for a reboot."""
    member: dict[str, Any] = next(
        (
            m
            for m in cluster.get("DBClusterMembers", [])
            if m["DBInstanceIdentifier"] == instance["DBInstanceIdentifier"]
        ),
        {},
    )
    statuses = [g.get("ParameterApplyStatus") for g in instance.get("DBParameterGroups") or []]
    return "pending-reboot" in statuses or member.get("DBClusterParameterGroupStatus") == "pending-reboot"


def pending_reboot(rds: Any, cluster: dict[str, Any]) -> bool:
    """True when any instance of ``cluster`` waits for a reboot to apply a parameter group change."""
    pages = rds.get_paginator("describe_db_instances").paginate(
        Filters=[{"Name": "db-cluster-id", "Values": [cluster["DBClusterIdentifier"]]}]
    )
    return any(instance_pending_reboot(cluster, i) for page in pages for i in page["DBInstances"])


def acu_range(cluster: dict[str, Any]) -> tuple[float, float] | None:
    """A Serverless v2 cluster's (minimum, maximum) ACU, or None for a provisioned one."""
    config = cluster.get("ServerlessV2ScalingConfiguration")
    if not config or config.get("MaxCapacity") is None:
        return None
    return float(config.get("MinCapacity", 0)), float(config["MaxCapacity"])


def describe_db_cluster(rds: Any, cluster_name: str) -> dict[str, Any]:
    """DescribeDBClusters for one cluster; :class:`ClusterNotFound` when it does not exist."""
    return describe_one(
        f"Aurora cluster '{cluster_name}'",
        lambda: rds.describe_db_clusters(DBClusterIdentifier=cluster_name)["DBClusters"],
    )


def describe_db_instance(rds: Any, instance_id: str) -> dict[str, Any]:
    """DescribeDBInstances for one instance; :class:`ClusterNotFound` when it does not exist."""
    return describe_one(
        f"DB instance '{instance_id}'",
        lambda: rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"],
    )


def cluster_members(rds: Any, cluster: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The writer instance (or None) and the reader instances, described."""
    writer = None
    readers = []
    for member in cluster.get("DBClusterMembers", []):
        instance = describe_db_instance(rds, member["DBInstanceIdentifier"])
        if member.get("IsClusterWriter"):
            writer = instance
        else:
            readers.append(instance)
    readers.sort(key=lambda i: i["DBInstanceIdentifier"])
    return writer, readers
