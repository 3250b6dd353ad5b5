"""What exists in AWS: the account's Aurora clusters, their instances and the source's manual
snapshots, read once per plan, and what they say about copies and clone counts.

Counting: clusters that share a ``CloneGroupId`` with the origin, minus the origin itself (AWS
fills the group in for a source and all its clones, including clones made outside dbscale), or, if
more, clusters tagged ``dbscale:clone-of=<origin>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..aurora import describe_db_cluster
from ..aurora.describe import BROKEN
from ..aws import aws_errors, tag_dict
from ..errors import ClusterNotFound, InvalidRequest
from ..limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE, MAX_CLONES_PER_SOURCE
from .naming import CLONE_OF_TAG_KEY, COPY_CREATED_TAG_KEY, COPY_ID_TAG_KEY, COPY_OF_TAG_KEY, parse_timestamp

DEFAULT_MAX_CLONES_PER_SOURCE = MAX_CLONES_PER_SOURCE
"""15: "You can create up to 15 clones with copy-on-write protocol. After you have 15 clones, the
next clone that you create is a full copy." (Aurora User Guide, Limitations of Aurora cloning)."""
CLONE_LIMIT_SOURCE_URL = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Clone.html"
    "#Aurora.Managing.Clone.Limitations"
)

USABLE_STATES = frozenset({"available", "backing-up"})
"""Cluster and instance states in which a copy or an origin serves and can be cloned or snapshot."""
PENDING_SNAPSHOT = "snapshotting"
"""The status of a copy that exists only as its seed snapshot so far."""


@dataclass(frozen=True)
class CopyInfo:
    """One full copy of a source, as dbscale found it.

    ``created_at`` is the time of the copy's data (its snapshot). ``status`` is the cluster status,
    or ``snapshotting`` while only its seed snapshot exists. ``ready`` means it can be cloned now
    (available, with an available instance); a copy still being made is usable but the clone waits.
    """

    cluster_id: str
    created_at: datetime
    age_hours: float
    status: str
    clones: int
    free_slots: int
    fresh: bool
    ready: bool

    @property
    def usable(self) -> bool:
        """Fresh, not failing or being deleted, and with a free clone slot."""
        return self.fresh and self.free_slots > 0 and self.status not in BROKEN and self.status != "deleting"

    def summary(self, limit: int) -> str:
        """``'x' (3.2 h old, 4/15 clones, available)`` with what makes it unusable, if anything."""
        notes = [f"{self.age_hours:.1f} h old", f"{self.clones}/{limit} clones", self.status]
        if not self.fresh:
            notes.append("too old")
        elif self.free_slots <= 0:
            notes.append("full")
        return f"'{self.cluster_id}' ({', '.join(notes)})"


def clone_count(origin: dict[str, Any], clusters: Iterable[dict[str, Any]]) -> int:
    """How many clones ``origin`` (a DescribeDBClusters entry) has among ``clusters``.

    The larger of: clusters in the origin's clone group (``CloneGroupId``) other than the origin,
    and clusters tagged ``dbscale:clone-of=<origin>``. Clusters being created or deleted count.
    """
    name = origin["DBClusterIdentifier"]
    group = origin.get("CloneGroupId")
    by_group = by_tag = 0
    for cluster in clusters:
        if cluster["DBClusterIdentifier"] == name:
            continue
        if group and cluster.get("CloneGroupId") == group:
            by_group += 1
        if tag_dict(cluster.get("TagList")).get(CLONE_OF_TAG_KEY) == name:
            by_tag += 1
    return max(by_group, by_tag)


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def rds_list(rds: Any, operation: str, key: str, action: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every ``key`` item of the paginated RDS ``operation``; ``action`` names it in errors."""
    with aws_errors(action):
        pages = rds.get_paginator(operation).paginate(**kwargs)
        return [item for page in pages for item in page[key]]


def cluster_instances(rds: Any, cluster_id: str) -> list[dict[str, Any]]:
    """The DB instances of the Aurora cluster ``cluster_id`` (DescribeDBInstances entries)."""
    return rds_list(
        rds,
        "describe_db_instances",
        "DBInstances",
        f"describe the instances of Aurora cluster '{cluster_id}'",
        Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}],
    )


def find_cluster(rds: Any, cluster_id: str) -> dict[str, Any] | None:
    """The Aurora cluster ``cluster_id`` as described, or None when it does not exist."""
    try:
        return describe_db_cluster(rds, cluster_id)
    except ClusterNotFound:
        return None


def find_snapshot(rds: Any, snapshot_id: str) -> dict[str, Any] | None:
    """The cluster snapshot ``snapshot_id`` as described, or None when it does not exist."""
    try:
        with aws_errors(f"describe cluster snapshot '{snapshot_id}'"):
            found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)["DBClusterSnapshots"]
    except ClusterNotFound:
        return None
    snapshot: dict[str, Any] | None = found[0] if found else None
    return snapshot


class Inventory:
    """One consistent look at the account's Aurora clusters, their instances, and the source's
    manual snapshots (read once per plan)."""

    def __init__(self, rds: Any, source_id: str) -> None:
        self.clusters = {
            c["DBClusterIdentifier"]: c
            for c in rds_list(rds, "describe_db_clusters", "DBClusters", "list the Aurora clusters")
        }
        self.instances = {
            i["DBInstanceIdentifier"]: i
            for i in rds_list(rds, "describe_db_instances", "DBInstances", "list the DB instances")
        }
        self.snapshots = rds_list(
            rds,
            "describe_db_cluster_snapshots",
            "DBClusterSnapshots",
            f"list the manual snapshots of '{source_id}'",
            DBClusterIdentifier=source_id,
            SnapshotType="manual",
        )

    def has_available_instance(self, cluster: dict[str, Any]) -> bool:
        for member in cluster.get("DBClusterMembers") or []:
            instance = self.instances.get(member["DBInstanceIdentifier"])
            if instance is not None and instance.get("DBInstanceStatus") in USABLE_STATES:
                return True
        return False

    def writer_class(self, cluster: dict[str, Any]) -> str | None:
        members = cluster.get("DBClusterMembers") or []
        for member in sorted(members, key=lambda m: not m.get("IsClusterWriter")):
            instance = self.instances.get(member["DBInstanceIdentifier"])
            if instance is not None:
                return str(instance["DBInstanceClass"])
        return None

    def clones_of(self, cluster_id: str) -> int:
        return clone_count(self.clusters[cluster_id], self.clusters.values())

    def taken_names(self) -> set[str]:
        names = set(self.clusters)
        for snapshot in self.snapshots:
            copy_id = tag_dict(snapshot.get("TagList")).get(COPY_ID_TAG_KEY)
            if copy_id:
                names.add(copy_id)
        return names

    def copies(self, source_id: str, cutoff: datetime | None, limit: int, now: datetime) -> list[CopyInfo]:
        """Every copy of ``source_id``: copy clusters, and copies that so far exist only as their
        seed snapshot. Newest first."""
        found: dict[str, CopyInfo] = {}

        def info(copy_id: str, created: datetime, status: str, clones: int, ready: bool) -> CopyInfo:
            return CopyInfo(
                cluster_id=copy_id,
                created_at=created,
                age_hours=round((now - created).total_seconds() / 3600, 2),
                status=status,
                clones=clones,
                free_slots=max(0, limit - clones),
                fresh=cutoff is None or created >= cutoff,
                ready=ready,
            )

        for cluster_id, cluster in self.clusters.items():
            tags = tag_dict(cluster.get("TagList"))
            if tags.get(COPY_OF_TAG_KEY) != source_id or tags.get(CREATED_BY_TAG_KEY) != CREATED_BY_TAG_VALUE:
                continue
            created = _created(tags, cluster.get("ClusterCreateTime"), now)
            status = str(cluster["Status"])
            ready = status in USABLE_STATES and self.has_available_instance(cluster)
            found[cluster_id] = info(cluster_id, created, status, self.clones_of(cluster_id), ready)
        for snapshot in self.snapshots:
            tags = tag_dict(snapshot.get("TagList"))
            copy_id = tags.get(COPY_ID_TAG_KEY)
            if not copy_id or copy_id in found or tags.get(COPY_OF_TAG_KEY) != source_id:
                continue
            if snapshot.get("Status") not in ("creating", "available"):
                continue
            created = _created(tags, snapshot.get("SnapshotCreateTime"), now)
            found[copy_id] = info(copy_id, created, PENDING_SNAPSHOT, 0, False)
        return sorted(found.values(), key=lambda c: c.created_at, reverse=True)


def _created(tags: dict[str, str], fallback: Any, now: datetime) -> datetime:
    text = tags.get(COPY_CREATED_TAG_KEY)
    if text:
        try:
            return parse_timestamp(text, field=COPY_CREATED_TAG_KEY)
        except InvalidRequest:
            pass
    return _utc(fallback) or now
