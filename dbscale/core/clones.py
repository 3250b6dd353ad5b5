"""Aurora copy-on-write clones, and a pool of full copies for when a source has no free clone slot.

A *clone* (``RestoreDBClusterToPointInTime`` with ``RestoreType=copy-on-write``) shares its
source's storage pages and is ready in minutes whatever the size of the data. Aurora allows
:data:`DEFAULT_MAX_CLONES_PER_SOURCE` (15) copy-on-write clones per copy of the data, clones of
clones included; after that AWS silently makes the next "clone" a full copy, which takes as long
as a restore (source: :data:`CLONE_LIMIT_SOURCE_URL`). dbscale therefore counts the clones of a
cluster before cloning it and never asks AWS for one more than the limit.

A *copy* is a full, independent copy of the source (``CreateDBClusterSnapshot`` then
``RestoreDBClusterFromSnapshot``, plus one DB instance, because Aurora clones only clusters that
have one) with its own 15 clone slots. Copies are made with a snapshot restore rather than a
``full-copy`` point-in-time restore because a snapshot restore starts a new clone group, while a
point-in-time restore inherits the source's ``CloneGroupId`` (see the ``CloneGroupId`` field of
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html), and the clone group
is how clones are counted.

Counting: clusters that share a ``CloneGroupId`` with the origin, minus the origin itself (AWS
fills the group in for a source and all its clones, including clones made outside dbscale), or, if
more, clusters tagged ``dbscale:clone-of=<origin>``.

Tags dbscale writes:

* on a copy: ``dbscale:copy-of=<source>``, ``dbscale:copy-created=<ISO-8601 UTC time of its data>``,
  ``dbscale:copy-id=<copy>`` (also on the snapshot it is restored from), ``dbscale:created-by=dbscale``;
* on a clone: ``dbscale:clone-of=<source or copy it was cloned from>``,
  ``dbscale:cloned-from-source=<source>``, ``dbscale:created-by=dbscale``.

:func:`provision_clone` makes one clone (choosing the source, a fresh copy, or a new copy), and
:class:`ClonePool` keeps enough fresh copies with free slots around. Every long change is an
:class:`~dbscale.core.operation.Operation` of idempotent :class:`CloneSteps`, so a Lambda can start
it and a later invocation can finish it.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .aurora import AuroraSteps, describe_db_cluster, instance_identifier
from .aurora.describe import _BROKEN as BROKEN_STATES
from .aws import aws_errors, client, tag_dict, tag_list
from .clock import SYSTEM_CLOCK, Clock, utc_datetime
from .errors import AwsError, ClusterAlreadyExists, ClusterNotFound, DbscaleError, InvalidRequest, OperationFailed
from .limits import (
    AURORA_SERVERLESS_INSTANCE_CLASS,
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    CREATED_BY_TAG_KEY,
    CREATED_BY_TAG_VALUE,
    EARLIEST_TIMESTAMP_YEAR,
    MAX_CLONES_PER_SOURCE,
    MAX_COPY_AGE_HOURS,
)
from .operation import Operation, PollResult, StepOutcome
from .validation import (
    validate_aurora_instance_class,
    validate_cluster_identifier,
    validate_copy_age_hours,
    validate_flag,
    validate_positive_number,
    validate_serverless_v2_capacity,
    validate_tags,
    validate_text,
)

if TYPE_CHECKING:
    import boto3

DEFAULT_MAX_CLONES_PER_SOURCE = MAX_CLONES_PER_SOURCE
"""15: "You can create up to 15 clones with copy-on-write protocol. After you have 15 clones, the
next clone that you create is a full copy." (Aurora User Guide, Limitations of Aurora cloning)."""
CLONE_LIMIT_SOURCE_URL = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Clone.html"
    "#Aurora.Managing.Clone.Limitations"
)

COPY_OF_TAG_KEY = "dbscale:copy-of"
COPY_CREATED_TAG_KEY = "dbscale:copy-created"
COPY_ID_TAG_KEY = "dbscale:copy-id"
CLONE_OF_TAG_KEY = "dbscale:clone-of"
CLONED_FROM_SOURCE_TAG_KEY = "dbscale:cloned-from-source"

_MANAGED_TAG_KEYS = frozenset(
    {
        CREATED_BY_TAG_KEY,
        COPY_OF_TAG_KEY,
        COPY_CREATED_TAG_KEY,
        COPY_ID_TAG_KEY,
        CLONE_OF_TAG_KEY,
        CLONED_FROM_SOURCE_TAG_KEY,
    }
)

DEFAULT_COPY_SERVERLESS_V2_CAPACITY = (0.5, 8.0)
"""ACU range of a copy whose instance is ``db.serverless`` when the source has none to copy."""

# Cluster states an origin can be cloned in (point-in-time restore works on a stopped cluster).
_CLONABLE = frozenset({"available", "backing-up", "stopped"})
_USABLE = frozenset({"available", "backing-up"})
_PENDING_SNAPSHOT = "snapshotting"  # status of a copy that exists only as its seed snapshot so far
_STAMP = "%Y%m%d%H%M"
_STAMP_EXAMPLE = "202501151200"  # what _STAMP renders: 12 characters
_ISO = "%Y-%m-%dT%H:%M:%SZ"
# Step actions (and wrapped Aurora steps) that only wait for AWS: no change is requested by them.
_WAIT_ACTIONS = frozenset({"wait_snapshot", "wait_available", "wait_deleted", "wait_settled", "wait_stopped"})


class CloneSlotUnavailable(DbscaleError):
    """No clone can be made: the source is full, no copy is usable and making a copy was not allowed.

    ``str(err)`` says what was found (the clone count of the source, every copy with its age and
    clone count); ``plan`` is the :class:`ClonePlan` that was refused.
    """

    def __init__(self, message: str, *, plan: ClonePlan) -> None:
        super().__init__(message)
        self.plan = plan


# --- results --------------------------------------------------------------------------------


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
        return self.fresh and self.free_slots > 0 and self.status not in BROKEN_STATES and self.status != "deleting"

    def summary(self, limit: int) -> str:
        """``'x' (3.2 h old, 4/15 clones, available)`` with what makes it unusable, if anything."""
        notes = [f"{self.age_hours:.1f} h old", f"{self.clones}/{limit} clones", self.status]
        if not self.fresh:
            notes.append("too old")
        elif self.free_slots <= 0:
            notes.append("full")
        return f"'{self.cluster_id}' ({', '.join(notes)})"


@dataclass(frozen=True)
class ClonePlan:
    """What :func:`provision_clone` did (or, with ``dry_run``, would do) and why.

    ``action`` is one of:

    * ``clone-source``: clone the source, which has a free slot;
    * ``clone-copy``: clone the fresh copy ``cloned_from`` (the source is full);
    * ``copy-and-clone``: make the copy ``new_copy_id`` (slow), then clone it;
    * ``resume``: the clone exists already (made by dbscale from this source): finish it;
    * ``none``: nothing can be done (only returned with ``dry_run``; otherwise
      :class:`CloneSlotUnavailable` is raised).

    ``reason`` is a sentence saying why. ``copies`` lists every copy of the source found,
    ``purged_copies`` the obsolete copies deleted (or that would be). ``operation`` is the running
    operation (None with ``dry_run`` or ``none``).
    """

    source_cluster_id: str
    clone_cluster_id: str
    action: str
    cloned_from: str | None
    reason: str
    source_clones: int
    max_clones_per_source: int
    copies: tuple[CopyInfo, ...] = ()
    cutoff: datetime | None = None
    new_copy_id: str | None = None
    purged_copies: tuple[str, ...] = ()
    dry_run: bool = False
    operation: Operation | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """True unless the plan is ``none``."""
        return self.action != "none"


@dataclass(frozen=True)
class PoolStatus:
    """The clone capacity of one source: its own free slots plus those of its fresh copies.

    ``spare_slots`` counts the clones that can be made without a new copy: the source's free slots
    and the free slots of every usable (fresh, healthy) copy, copies still being made included.
    """

    source_cluster_id: str
    source_clones: int
    source_free_slots: int
    max_clones_per_source: int
    copies: tuple[CopyInfo, ...]
    cutoff: datetime | None
    spare_slots: int
    min_spare_slots: int
    checked_at: datetime

    @property
    def short_of(self) -> int:
        """How many slots are missing to reach ``min_spare_slots`` (0 when there are enough)."""
        return max(0, self.min_spare_slots - self.spare_slots)


@dataclass(frozen=True)
class PoolDecision:
    """One thing :meth:`ClonePool.maintain` decided about one cluster.

    ``action``: ``create-copy``, ``continue-copy`` (a copy being made is driven on),
    ``delete-copy``, ``keep-copy``, ``keep-obsolete-copy`` (too old but still has clones),
    ``enough-slots`` or ``copy-deferred`` (short of slots, but new copies are not started in this
    run: ``maintain(start_copies=False)``).
    """

    action: str
    cluster_id: str
    reason: str


@dataclass(frozen=True)
class PoolMaintenance:
    """The outcome of :meth:`ClonePool.maintain`: the status found, the decisions, and the
    operations started (none with ``dry_run``), each already polled once."""

    status: PoolStatus
    decisions: tuple[PoolDecision, ...]
    dry_run: bool
    operations: tuple[Operation, ...] = field(default=(), compare=False, repr=False)
    results: tuple[PollResult, ...] = ()


# --- helpers --------------------------------------------------------------------------------


def parse_timestamp(value: datetime | str, *, field: str = "copy_created_since") -> datetime:
    """An aware UTC datetime from a datetime (naive means UTC) or an ISO-8601 string
    (``2025-01-15``, ``2025-01-15T12:00:00Z``, ``2025-01-15T13:00:00+01:00``), no earlier than
    2014-01-01 UTC (Aurora's launch: no copy is older)."""
    if isinstance(value, str):
        text = validate_text(value, field=field, max_length=64).strip(" ")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidRequest(
                f"{field} must be an ISO-8601 date or time such as 2025-01-15T12:00:00Z, got {value!r}", field=field
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise InvalidRequest(f"{field} must be a datetime or an ISO-8601 string, got {value!r}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    earliest = datetime(EARLIEST_TIMESTAMP_YEAR, 1, 1, tzinfo=timezone.utc)
    try:
        # Years 1 and 9999 with an offset fall outside datetime's range when moved to UTC.
        utc = parsed.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or utc < earliest:
        raise InvalidRequest(f"{field} {value!s} is out of range: use a time from {iso(earliest)} to now", field=field)
    return utc


def validate_clone_request(
    *,
    source_cluster_id: object,
    instance_class: object,
    clone_cluster_id: object = None,
    copy_instance_class: object = None,
    copy_created_since: object = None,
    max_copy_age_hours: object = None,
    max_clones_per_source: object = None,
    serverless_v2_min_acu: object = None,
    serverless_v2_max_acu: object = None,
    fields: dict[str, str] | None = None,
) -> None:
    """Check the inputs of a clone request (``Custom::AuroraClone``, the ``AuroraClone`` construct).

    Identifiers and classes as for clusters; ``copy_created_since`` an ISO-8601 time or datetime;
    ``max_copy_age_hours`` above 0; ``max_clones_per_source`` at least 1; an ACU range only with
    ``db.serverless`` (which may also leave it out: the clone then takes the source's range); the
    clone named differently from its source. ``fields`` renames inputs in messages, keyed by the
    Python argument name. None means "not given" for every optional input.
    """
    names = {
        "source_cluster_id": "source_cluster_id",
        "instance_class": "instance_class",
        "clone_cluster_id": "clone_cluster_id",
        "copy_instance_class": "copy_instance_class",
        "copy_created_since": "copy_created_since",
        "max_copy_age_hours": "max_copy_age_hours",
        "max_clones_per_source": "max_clones_per_source",
        "serverless_v2_min_acu": "serverless_v2_min_acu",
        "serverless_v2_max_acu": "serverless_v2_max_acu",
        **(fields or {}),
    }
    validate_cluster_identifier(source_cluster_id, field=names["source_cluster_id"])
    checked_class = validate_aurora_instance_class(instance_class, field=names["instance_class"])
    if copy_instance_class is not None:
        validate_aurora_instance_class(copy_instance_class, field=names["copy_instance_class"])
    if copy_created_since is not None:
        if not isinstance(copy_created_since, (str, datetime)):
            raise InvalidRequest(
                f"{names['copy_created_since']} must be an ISO-8601 string or a datetime, got {copy_created_since!r}",
                field=names["copy_created_since"],
            )
        parse_timestamp(copy_created_since, field=names["copy_created_since"])
    if max_copy_age_hours is not None:
        validate_copy_age_hours(max_copy_age_hours, field=names["max_copy_age_hours"])
    limit = max_clones_per_source
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidRequest(
            f"{names['max_clones_per_source']} must be a whole number of at least 1, got {max_clones_per_source!r}",
            field=names["max_clones_per_source"],
        )
    if checked_class != AURORA_SERVERLESS_INSTANCE_CLASS or serverless_v2_max_acu is not None:
        validate_serverless_v2_capacity(
            serverless_v2_min_acu,
            serverless_v2_max_acu,
            instance_class=checked_class,
            min_field=names["serverless_v2_min_acu"],
            max_field=names["serverless_v2_max_acu"],
        )
    if clone_cluster_id is not None:
        validate_cluster_identifier(clone_cluster_id, field=names["clone_cluster_id"])
        if clone_cluster_id == source_cluster_id:
            raise InvalidRequest(
                f"{names['clone_cluster_id']} must differ from {names['source_cluster_id']}",
                field=names["clone_cluster_id"],
            )


def copy_identifier_prefix(source_cluster_id: str) -> str:
    """What the name of every copy of ``source_cluster_id`` starts with (for IAM scoping).

    ``<source>-copy-`` while the source's name is short enough to stay whole in
    :func:`copy_identifier`; for longer names, the part of the source that is always kept.
    """
    longest_suffix = len("-copy-") + len(_STAMP_EXAMPLE) + len("-99")
    if len(source_cluster_id) + longest_suffix <= CLUSTER_IDENTIFIER_MAX_LENGTH:
        return f"{source_cluster_id}-copy-"
    return source_cluster_id[: CLUSTER_IDENTIFIER_MAX_LENGTH - longest_suffix].rstrip("-")


def iso(moment: datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SSZ`` (the form dbscale writes in tags)."""
    return moment.astimezone(timezone.utc).strftime(_ISO)


def copy_cutoff(now: datetime, max_copy_age: timedelta | None, copy_created_since: datetime | None) -> datetime | None:
    """The time a copy's data must be newer than: the later of ``now - max_copy_age`` and
    ``copy_created_since``; None (any copy will do) when neither is given."""
    bounds = []
    if max_copy_age is not None:
        bounds.append(now - max_copy_age)
    if copy_created_since is not None:
        bounds.append(copy_created_since)
    return max(bounds) if bounds else None


def copy_identifier(source_cluster_id: str, when: datetime, taken: Container[str] = ()) -> str:
    """The name of a new copy: ``<source>-copy-<UTC yyyymmddhhmm>``, the source part shortened to
    stay within 63 characters, and ``-2``, ``-3`` ... appended when the name is ``taken``."""
    stamp = when.astimezone(timezone.utc).strftime(_STAMP)
    number = 1
    while True:
        suffix = f"-copy-{stamp}" + (f"-{number}" if number > 1 else "")
        base = source_cluster_id[: CLUSTER_IDENTIFIER_MAX_LENGTH - len(suffix)].rstrip("-")
        candidate = base + suffix
        if candidate not in taken:
            return candidate
        number += 1


def seed_snapshot_identifier(copy_id: str) -> str:
    """The manual cluster snapshot a copy is restored from (deleted once the copy is ready)."""
    return f"{copy_id}-seed"


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


def waiting_only(operation: Operation) -> bool:
    """True when every step left in ``operation`` only waits for AWS (all changes are requested)."""
    for step in operation.steps[operation.index :]:
        action = step["action"]
        if action == "aurora":
            action = step["step"]["action"]
        if action not in _WAIT_ACTIONS:
            return False
    return True


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _rds_list(rds: Any, operation: str, key: str, action: str, **kwargs: Any) -> list[dict[str, Any]]:
    with aws_errors(action):
        pages = rds.get_paginator(operation).paginate(**kwargs)
        return [item for page in pages for item in page[key]]


def _cluster_instances(rds: Any, cluster_id: str) -> list[dict[str, Any]]:
    return _rds_list(
        rds,
        "describe_db_instances",
        "DBInstances",
        f"describe the instances of Aurora cluster '{cluster_id}'",
        Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}],
    )


def _find_cluster(rds: Any, cluster_id: str) -> dict[str, Any] | None:
    try:
        return describe_db_cluster(rds, cluster_id)
    except ClusterNotFound:
        return None


def _find_snapshot(rds: Any, snapshot_id: str) -> dict[str, Any] | None:
    try:
        with aws_errors(f"describe cluster snapshot '{snapshot_id}'"):
            found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)["DBClusterSnapshots"]
    except ClusterNotFound:
        return None
    snapshot: dict[str, Any] | None = found[0] if found else None
    return snapshot


def _acu_config(cluster: dict[str, Any]) -> dict[str, float] | None:
    config = cluster.get("ServerlessV2ScalingConfiguration") or {}
    if config.get("MaxCapacity") is None:
        return None
    return {"MinCapacity": float(config.get("MinCapacity", 0.5)), "MaxCapacity": float(config["MaxCapacity"])}


def _network_options(source: dict[str, Any]) -> dict[str, Any]:
    """Settings a restored cluster does not take from its source unless they are passed."""
    options: dict[str, Any] = {"CopyTagsToSnapshot": True, "DeletionProtection": False}
    if source.get("DBSubnetGroup"):
        options["DBSubnetGroupName"] = source["DBSubnetGroup"]
    groups = [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups") or [] if g.get("VpcSecurityGroupId")]
    if groups:
        options["VpcSecurityGroupIds"] = groups
    if source.get("DBClusterParameterGroup"):
        options["DBClusterParameterGroupName"] = source["DBClusterParameterGroup"]
    if source.get("IAMDatabaseAuthenticationEnabled"):
        options["EnableIAMDatabaseAuthentication"] = True
    return options


# --- what exists ----------------------------------------------------------------------------


class _Inventory:
    """One consistent look at the account's Aurora clusters, their instances, and the source's
    manual snapshots (read once per plan)."""

    def __init__(self, rds: Any, source_id: str) -> None:
        self.clusters = {
            c["DBClusterIdentifier"]: c
            for c in _rds_list(rds, "describe_db_clusters", "DBClusters", "list the Aurora clusters")
        }
        self.instances = {
            i["DBInstanceIdentifier"]: i
            for i in _rds_list(rds, "describe_db_instances", "DBInstances", "list the DB instances")
        }
        self.snapshots = _rds_list(
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
            if instance is not None and instance.get("DBInstanceStatus") in _USABLE:
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
            ready = status in _USABLE and self.has_available_instance(cluster)
            found[cluster_id] = info(cluster_id, created, status, self.clones_of(cluster_id), ready)
        for snapshot in self.snapshots:
            tags = tag_dict(snapshot.get("TagList"))
            copy_id = tags.get(COPY_ID_TAG_KEY)
            if not copy_id or copy_id in found or tags.get(COPY_OF_TAG_KEY) != source_id:
                continue
            if snapshot.get("Status") not in ("creating", "available"):
                continue
            created = _created(tags, snapshot.get("SnapshotCreateTime"), now)
            found[copy_id] = info(copy_id, created, _PENDING_SNAPSHOT, 0, False)
        return sorted(found.values(), key=lambda c: c.created_at, reverse=True)


def _created(tags: dict[str, str], fallback: Any, now: datetime) -> datetime:
    text = tags.get(COPY_CREATED_TAG_KEY)
    if text:
        try:
            return parse_timestamp(text, field=COPY_CREATED_TAG_KEY)
        except InvalidRequest:
            pass
    return _utc(fallback) or now


# --- plans ----------------------------------------------------------------------------------


def _copy_steps(
    source: dict[str, Any],
    copy_id: str,
    created: str,
    instance_class: str,
) -> list[dict[str, Any]]:
    """The steps that make the copy ``copy_id`` of ``source`` (each skips what is done already)."""
    source_id = source["DBClusterIdentifier"]
    engine = source["Engine"]
    snapshot_id = seed_snapshot_identifier(copy_id)
    tags = {
        CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE,
        COPY_OF_TAG_KEY: source_id,
        COPY_CREATED_TAG_KEY: created,
        COPY_ID_TAG_KEY: copy_id,
    }
    options = _network_options(source)
    options["Engine"] = engine
    if source.get("EngineVersion"):
        options["EngineVersion"] = source["EngineVersion"]
    if source.get("Port"):
        options["Port"] = source["Port"]
    if instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
        min_acu, max_acu = DEFAULT_COPY_SERVERLESS_V2_CAPACITY
        options["ServerlessV2ScalingConfiguration"] = _acu_config(source) or {
            "MinCapacity": min_acu,
            "MaxCapacity": max_acu,
        }
    return [
        {"action": "snapshot", "source": source_id, "snapshot": snapshot_id, "copy": copy_id, "tags": tags},
        {"action": "wait_snapshot", "snapshot": snapshot_id, "copy": copy_id},
        {"action": "restore_copy", "snapshot": snapshot_id, "copy": copy_id, "options": options, "tags": tags},
        {"action": "aurora", "cluster": copy_id, "step": {"action": "wait_available"}},
        {
            "action": "aurora",
            "cluster": copy_id,
            "step": {
                "action": "create_instance",
                "instance_id": instance_identifier(copy_id, 1),
                "instance_class": instance_class,
                "engine": engine,
                "promotion_tier": 0,
            },
        },
        {"action": "aurora", "cluster": copy_id, "step": {"action": "wait_available"}},
        {"action": "delete_snapshot", "snapshot": snapshot_id},
    ]


def _clone_steps(
    source: dict[str, Any],
    origin_id: str,
    clone_id: str,
    instance_class: str,
    tags: dict[str, str],
    acu: dict[str, float] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The steps that make the clone, split in (requests, final wait)."""
    options = _network_options(source)
    if acu is not None:
        options["ServerlessV2ScalingConfiguration"] = acu
    clone_tags = {
        **tags,
        CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE,
        CLONE_OF_TAG_KEY: origin_id,
        CLONED_FROM_SOURCE_TAG_KEY: source["DBClusterIdentifier"],
    }
    steps: list[dict[str, Any]] = [
        {
            "action": "clone",
            "origin": origin_id,
            "clone": clone_id,
            "limit": limit,
            "options": options,
            "tags": clone_tags,
        },
        {"action": "aurora", "cluster": clone_id, "step": {"action": "wait_available"}},
    ]
    if source.get("MasterUserSecret"):
        # A restored cluster keeps the source's password but gets no secret of its own; ask AWS
        # for a new managed password so the clone has its own secret (no password is ever sent).
        steps.append({"action": "manage_password", "cluster": clone_id})
    steps.append(
        {
            "action": "aurora",
            "cluster": clone_id,
            "step": {
                "action": "create_instance",
                "instance_id": instance_identifier(clone_id, 1),
                "instance_class": instance_class,
                "engine": source["Engine"],
                "promotion_tier": 0,
            },
        }
    )
    final = [{"action": "aurora", "cluster": clone_id, "step": {"action": "wait_available"}}]
    return steps, final


def _purge_steps(copy_ids: Iterable[str], phase: str) -> list[dict[str, Any]]:
    return [{"action": "purge_copy", "copy": copy_id, "phase": phase} for copy_id in copy_ids]


def _check_limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_MAX_CLONES_PER_SOURCE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest(
            f"max_clones_per_source must be a whole number of at least 1, got {value!r}", field="max_clones_per_source"
        )
    return value


def _check_age(value: timedelta | None) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, timedelta) or not timedelta(0) < value <= timedelta(hours=MAX_COPY_AGE_HOURS):
        raise InvalidRequest(
            f"max_copy_age must be a positive timedelta of at most {MAX_COPY_AGE_HOURS:,.0f} hours, got {value!r}",
            field="max_copy_age",
        )
    return value


def _check_since(value: datetime | str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    since = parse_timestamp(value)
    if since > now:
        raise InvalidRequest(
            f"copy_created_since {iso(since)} is in the future (now: {iso(now)}); no copy could ever satisfy it",
            field="copy_created_since",
        )
    return since


def _clone_acu(
    instance_class: str, source: dict[str, Any], min_acu: float | None, max_acu: float | None
) -> dict[str, float] | None:
    if instance_class != AURORA_SERVERLESS_INSTANCE_CLASS:
        validate_serverless_v2_capacity(min_acu, max_acu, instance_class=instance_class)
        return None
    if min_acu is None and max_acu is None:
        config = _acu_config(source)
        if config is None:
            raise InvalidRequest(
                f"instance class {AURORA_SERVERLESS_INSTANCE_CLASS} needs a Serverless v2 capacity range and "
                f"'{source['DBClusterIdentifier']}' has none to copy; pass serverless_v2_min_acu and "
                "serverless_v2_max_acu",
                field="serverless_v2_max_acu",
            )
        return config
    acu = validate_serverless_v2_capacity(min_acu, max_acu, instance_class=instance_class)
    assert acu is not None
    return {"MinCapacity": acu[0], "MaxCapacity": acu[1]}


def provision_clone(
    source_cluster_id: str,
    clone_cluster_id: str,
    *,
    instance_class: str,
    max_copy_age: timedelta | None = None,
    copy_created_since: datetime | str | None = None,
    copy_ok: bool = False,
    purge_obsolete_copies: bool = False,
    max_clones_per_source: int | None = None,
    dry_run: bool = False,
    tags: dict[str, str] | None = None,
    copy_instance_class: str | None = None,
    serverless_v2_min_acu: float | None = None,
    serverless_v2_max_acu: float | None = None,
    session: boto3.Session | None = None,
    clock: Clock | None = None,
    wait: bool = True,
    timeout_minutes: float = 120,
) -> ClonePlan:
    """Make ``clone_cluster_id``, a copy-on-write clone of ``source_cluster_id`` or of one of its
    copies, with a writer instance of ``instance_class``; return the :class:`ClonePlan`.

    The clone is made from, in this order: the source, when it has fewer than
    ``max_clones_per_source`` (default 15) clones; else a copy of the source that is newer than
    the later of (now - ``max_copy_age``, ``copy_created_since``) and has a free slot (ready copies
    first, then the newest; a copy still being made is driven on and cloned when ready);
    else, when ``copy_ok``, a new copy (snapshot and restore: as slow as a restore of the source's
    data), which is then cloned. Otherwise :class:`CloneSlotUnavailable` is raised, naming every
    copy with its age and clone count.

    ``purge_obsolete_copies`` also deletes the copies older than that limit that have no clones.
    ``dry_run`` only reads: the plan says what would be done and nothing changes in AWS.

    The clone gets the source's subnet group, security groups and cluster parameter group, tags
    ``tags`` plus dbscale's (``dbscale:clone-of``, ``dbscale:cloned-from-source``,
    ``dbscale:created-by``), and, when the source's master password is managed in Secrets Manager,
    a managed password and secret of its own (its ``MasterUserSecret``). ``copy_instance_class``
    (default: the source writer's class) is the class of a new copy's one instance.
    ``serverless_v2_min_acu``/``serverless_v2_max_acu`` set the clone's ACU range when
    ``instance_class`` is ``db.serverless`` (default: the source's range).

    A clone that exists already and was made by dbscale from this source is finished (``resume``);
    any other cluster of that name raises :class:`ClusterAlreadyExists`.

    ``wait`` (default True) waits at most ``timeout_minutes`` (default 120); with ``wait=False``
    the plan's ``operation`` is left running (poll it, or save it with ``to_dict``).
    """
    validate_cluster_identifier(source_cluster_id, field="source_cluster_id")
    validate_cluster_identifier(clone_cluster_id, field="clone_cluster_id")
    if source_cluster_id == clone_cluster_id:
        raise InvalidRequest("clone_cluster_id must differ from source_cluster_id", field="clone_cluster_id")
    validate_aurora_instance_class(instance_class)
    if copy_instance_class is not None:
        validate_aurora_instance_class(copy_instance_class, field="copy_instance_class")
    flags = {"copy_ok": copy_ok, "purge_obsolete_copies": purge_obsolete_copies, "dry_run": dry_run, "wait": wait}
    for flag_name, flag in flags.items():
        validate_flag(flag, field=flag_name)
    validate_positive_number(timeout_minutes, field="timeout_minutes")
    validate_tags(tags, field="tags", user=False)  # the handler adds its dbscale:cfn-* tags
    limit = _check_limit(max_clones_per_source)
    age = _check_age(max_copy_age)
    clock = clock or SYSTEM_CLOCK
    now = utc_datetime(clock)
    since = _check_since(copy_created_since, now)
    rds = client("rds", session)

    try:
        source = describe_db_cluster(rds, source_cluster_id)
    except ClusterNotFound:
        raise ClusterNotFound(f"source Aurora cluster '{source_cluster_id}' does not exist") from None
    acu = _clone_acu(instance_class, source, serverless_v2_min_acu, serverless_v2_max_acu)
    user_tags = dict(tags or {})
    for key in user_tags:
        if key in _MANAGED_TAG_KEYS or key.lower().startswith("aws:"):
            raise InvalidRequest(f"tag key {key!r} is set by dbscale (or AWS) and cannot be given", field="tags")
    inventory = _Inventory(rds, source_cluster_id)
    cutoff = copy_cutoff(now, age, since)
    copies = inventory.copies(source_cluster_id, cutoff, limit, now)
    source_clones = inventory.clones_of(source_cluster_id)
    common: dict[str, Any] = {
        "source_cluster_id": source_cluster_id,
        "clone_cluster_id": clone_cluster_id,
        "source_clones": source_clones,
        "max_clones_per_source": limit,
        "copies": tuple(copies),
        "cutoff": cutoff,
        "dry_run": dry_run,
    }

    def operation(steps: list[dict[str, Any]], description: str) -> Operation:
        return Operation("clones", clone_cluster_id, steps, description=description, session=session, clock=clock)

    def finish(plan: ClonePlan, steps: list[dict[str, Any]], description: str) -> ClonePlan:
        if dry_run:
            return plan
        op = operation(steps, description)
        if wait:
            op.wait(timeout_minutes=timeout_minutes)
        return replace(plan, operation=op)

    existing = inventory.clusters.get(clone_cluster_id)
    if existing is not None:
        existing_tags = tag_dict(existing.get("TagList"))
        origin = existing_tags.get(CLONE_OF_TAG_KEY)
        if (
            existing_tags.get(CREATED_BY_TAG_KEY) != CREATED_BY_TAG_VALUE
            or existing_tags.get(CLONED_FROM_SOURCE_TAG_KEY) != source_cluster_id
            or not origin
        ):
            raise ClusterAlreadyExists(
                f"cluster '{clone_cluster_id}' already exists and is not a dbscale clone of '{source_cluster_id}'; "
                "choose another clone identifier"
            )
        requests, final = _clone_steps(source, origin, clone_cluster_id, instance_class, user_tags, acu, limit)
        plan = ClonePlan(
            action="resume",
            cloned_from=origin,
            reason=f"'{clone_cluster_id}' exists already as a clone of '{origin}'; finishing it",
            **common,
        )
        return finish(plan, requests + final, f"finish clone '{clone_cluster_id}' of '{origin}'")

    # Where to clone from.
    source_free = limit - source_clones
    source_has_instance = bool(source.get("DBClusterMembers"))
    usable = sorted((c for c in copies if c.usable), key=lambda c: (not c.ready, -c.created_at.timestamp()))
    limit_text = f"'{source_cluster_id}' has {source_clones} of {limit} clones"
    found_text = "; ".join(c.summary(limit) for c in copies) if copies else "no copies"
    if cutoff is not None:
        found_text += f" (copies must be newer than {iso(cutoff)})"
    new_copy_id: str | None = None
    if source_free > 0 and source_has_instance:
        action, origin_id = "clone-source", source_cluster_id
        reason = f"{limit_text}; cloning it directly"
    elif usable:
        action, origin_id = "clone-copy", usable[0].cluster_id
        why = limit_text if source_has_instance else f"'{source_cluster_id}' has no DB instance to clone"
        reason = f"{why}; cloning copy {usable[0].summary(limit)}"
    elif copy_ok:
        new_copy_id = copy_identifier(source_cluster_id, now, inventory.taken_names())
        action, origin_id = "copy-and-clone", new_copy_id
        why = limit_text if source_has_instance else f"'{source_cluster_id}' has no DB instance to clone"
        reason = (
            f"{why} and no copy is usable ({found_text}); making copy '{new_copy_id}' (snapshot and restore: "
            "as slow as restoring the data) and cloning it"
        )
    else:
        why = (
            f"it has {source_clones} of {limit} clones"
            if source_has_instance
            else "it has no DB instance (Aurora clones only clusters with at least one)"
        )
        reason = (
            f"cannot clone '{source_cluster_id}' into '{clone_cluster_id}': {why}, and no copy is usable: "
            f"{found_text}. Allow a new copy (copy_ok / CopyOk: a snapshot and restore, slow), relax the age "
            f"limit, or delete clones of '{source_cluster_id}'."
        )
        plan = ClonePlan(action="none", cloned_from=None, reason=reason, **common)
        if dry_run:
            return plan
        raise CloneSlotUnavailable(reason, plan=plan)

    purge: list[str] = []
    if purge_obsolete_copies and cutoff is not None:
        purge = [
            c.cluster_id
            for c in copies
            if not c.fresh and c.clones == 0 and c.status not in ("deleting", _PENDING_SNAPSHOT)
        ]
    if purge:
        reason += f"; deleting obsolete copies without clones: {', '.join(purge)}"

    steps: list[dict[str, Any]] = _purge_steps(purge, "start")
    copy_class = copy_instance_class or inventory.writer_class(source) or instance_class
    if new_copy_id is not None:
        steps += _copy_steps(source, new_copy_id, iso(now), copy_class)
    elif action == "clone-copy" and not usable[0].ready:
        # The copy is still being made (perhaps by an earlier, timed-out attempt): drive it on.
        steps += _copy_steps(source, usable[0].cluster_id, iso(usable[0].created_at), copy_class)
    requests, final = _clone_steps(source, origin_id, clone_cluster_id, instance_class, user_tags, acu, limit)
    steps += requests + _purge_steps(purge, "finish") + final
    plan = ClonePlan(
        action=action,
        cloned_from=origin_id,
        reason=reason,
        new_copy_id=new_copy_id,
        purged_copies=tuple(purge),
        **common,
    )
    return finish(plan, steps, f"clone '{origin_id}' into '{clone_cluster_id}' ({action})")


# --- the pool -------------------------------------------------------------------------------


def validate_pool_settings(
    source_cluster_id: object,
    *,
    min_spare_slots: object,
    max_copy_age: object,
    copy_created_since: object = None,
    max_clones_per_source: object = None,
    copy_instance_class: object = None,
    fields: dict[str, str] | None = None,
) -> None:
    """Check the settings of a :class:`ClonePool` (and of the ``ClonePoolMaintenance`` construct).

    ``min_spare_slots`` a whole number, at least 0; ``max_copy_age`` a positive timedelta or None;
    the rest as in :func:`validate_clone_request`. ``fields`` renames inputs in messages.
    """
    names = {"min_spare_slots": "min_spare_slots", "max_copy_age": "max_copy_age", **(fields or {})}
    if isinstance(min_spare_slots, bool) or not isinstance(min_spare_slots, int) or min_spare_slots < 0:
        raise InvalidRequest(
            f"{names['min_spare_slots']} must be a whole number of at least 0, got {min_spare_slots!r}",
            field=names["min_spare_slots"],
        )
    if max_copy_age is not None and (
        not isinstance(max_copy_age, timedelta)
        or not timedelta(0) < max_copy_age <= timedelta(hours=MAX_COPY_AGE_HOURS)
    ):
        raise InvalidRequest(
            f"{names['max_copy_age']} must be a positive timedelta of at most {MAX_COPY_AGE_HOURS:,.0f} hours, "
            f"got {max_copy_age!r}",
            field=names["max_copy_age"],
        )
    # The rest are checked as for a clone request; the instance class there is a placeholder.
    validate_clone_request(
        source_cluster_id=source_cluster_id,
        instance_class=AURORA_SERVERLESS_INSTANCE_CLASS,
        copy_instance_class=copy_instance_class,
        copy_created_since=copy_created_since,
        max_clones_per_source=max_clones_per_source,
        fields=fields,
    )


class ClonePool:
    """Keeps ``min_spare_slots`` clone slots free for ``source_cluster_id`` by making full copies,
    and deletes copies older than the age limit once they have no clones.

    Spare slots are the source's free slots plus the free slots of every usable copy (fresh, not
    failing, copies still being made included). ``max_copy_age`` and ``copy_created_since`` define
    fresh as in :func:`provision_clone`; ``max_clones_per_source`` defaults to 15.
    ``copy_instance_class`` (default: the source writer's class) is the class of each copy's one
    instance: a copy needs an instance to be cloned, and costs that instance while it lives.
    """

    def __init__(
        self,
        source_cluster_id: str,
        *,
        min_spare_slots: int,
        max_copy_age: timedelta | None,
        copy_created_since: datetime | str | None = None,
        max_clones_per_source: int | None = None,
        copy_instance_class: str | None = None,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        validate_pool_settings(
            source_cluster_id,
            min_spare_slots=min_spare_slots,
            max_copy_age=max_copy_age,
            copy_created_since=copy_created_since,
            max_clones_per_source=max_clones_per_source,
            copy_instance_class=copy_instance_class,
        )
        self.source_cluster_id = source_cluster_id
        self.min_spare_slots = min_spare_slots
        self.max_copy_age = max_copy_age
        self.copy_created_since = None if copy_created_since is None else parse_timestamp(copy_created_since)
        self.max_clones_per_source = _check_limit(max_clones_per_source)
        self.copy_instance_class = copy_instance_class
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._rds = client("rds", session)

    def __repr__(self) -> str:
        return (
            f"ClonePool({self.source_cluster_id!r}, min_spare_slots={self.min_spare_slots}, "
            f"max_copy_age={self.max_copy_age}, max_clones_per_source={self.max_clones_per_source})"
        )

    def _look(self) -> tuple[dict[str, Any], _Inventory, PoolStatus]:
        now = utc_datetime(self._clock)
        if self.copy_created_since is not None and self.copy_created_since > now:
            raise InvalidRequest(
                f"copy_created_since {iso(self.copy_created_since)} is in the future (now: {iso(now)})",
                field="copy_created_since",
            )
        source = describe_db_cluster(self._rds, self.source_cluster_id)
        inventory = _Inventory(self._rds, self.source_cluster_id)
        limit = self.max_clones_per_source
        cutoff = copy_cutoff(now, self.max_copy_age, self.copy_created_since)
        copies = inventory.copies(self.source_cluster_id, cutoff, limit, now)
        source_clones = inventory.clones_of(self.source_cluster_id)
        source_free = max(0, limit - source_clones) if source.get("DBClusterMembers") else 0
        spare = source_free + sum(c.free_slots for c in copies if c.usable)
        status = PoolStatus(
            source_cluster_id=self.source_cluster_id,
            source_clones=source_clones,
            source_free_slots=source_free,
            max_clones_per_source=limit,
            copies=tuple(copies),
            cutoff=cutoff,
            spare_slots=spare,
            min_spare_slots=self.min_spare_slots,
            checked_at=now,
        )
        return source, inventory, status

    def status(self) -> PoolStatus:
        """The source's clones and free slots, every copy (age, clones, free slots), the spare total."""
        return self._look()[2]

    def maintain(
        self,
        dry_run: bool = False,
        *,
        wait: bool = False,
        timeout_minutes: float = 240,
        start_copies: bool = True,
    ) -> PoolMaintenance:
        """Bring the pool to ``min_spare_slots`` and the age limit; return what was decided.

        Deletes every copy that is older than the limit (or failed) and has no clones; drives on
        every copy still being made; makes as many new copies as the spare slots fall short
        (``ceil(shortfall / max_clones_per_source)``). Each operation is polled once and left
        running (``wait=False``, the default: a scheduled run picks them up again next time, as
        every step first checks what AWS already did), or waited for, at most ``timeout_minutes``.
        ``dry_run`` only reads and reports the decisions. ``start_copies=False`` drives on and
        tidies up but starts no new copy (a ``copy-deferred`` decision says what is missing): for
        frequent follow-up runs between the scheduled ones, so the snapshot load stays in the
        scheduled window. Default True.
        """
        for flag_name, flag in {"dry_run": dry_run, "wait": wait, "start_copies": start_copies}.items():
            validate_flag(flag, field=flag_name)
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        source, inventory, status = self._look()
        limit = self.max_clones_per_source
        decisions: list[PoolDecision] = []
        plans: list[tuple[list[dict[str, Any]], str, str]] = []  # steps, operation name, description
        copy_class = self.copy_instance_class or inventory.writer_class(source)
        seeds = {snapshot["DBClusterSnapshotIdentifier"] for snapshot in inventory.snapshots}
        for copy in status.copies:
            text = copy.summary(limit)
            if copy.status == "deleting":
                continue
            broken = copy.status in BROKEN_STATES
            if (not copy.fresh or broken) and copy.clones == 0:
                why = "failed" if broken else "older than the age limit"
                decisions.append(
                    PoolDecision("delete-copy", copy.cluster_id, f"copy {text} is {why} and has no clones")
                )
                steps = _purge_steps([copy.cluster_id], "start") + _purge_steps([copy.cluster_id], "finish")
                if copy.status == _PENDING_SNAPSHOT:
                    steps = [{"action": "delete_snapshot", "snapshot": seed_snapshot_identifier(copy.cluster_id)}]
                plans.append((steps, copy.cluster_id, f"delete obsolete copy '{copy.cluster_id}'"))
            elif not copy.fresh or broken:
                decisions.append(
                    PoolDecision(
                        "keep-obsolete-copy",
                        copy.cluster_id,
                        f"copy {text} is {'failed' if broken else 'too old'} but has clones; it is deleted once "
                        "they are gone",
                    )
                )
            elif not copy.ready or seed_snapshot_identifier(copy.cluster_id) in seeds:
                if copy_class is None:
                    raise InvalidRequest(
                        f"'{self.source_cluster_id}' has no instance to take the copy's instance class from; "
                        "pass copy_instance_class",
                        field="copy_instance_class",
                    )
                decisions.append(
                    PoolDecision("continue-copy", copy.cluster_id, f"copy {text} is still being made (or tidied up)")
                )
                steps = _copy_steps(source, copy.cluster_id, iso(copy.created_at), copy_class)
                plans.append((steps, copy.cluster_id, f"make copy '{copy.cluster_id}' of '{self.source_cluster_id}'"))
            else:
                decisions.append(
                    PoolDecision("keep-copy", copy.cluster_id, f"copy {text} has {copy.free_slots} free slots")
                )
        missing = status.short_of
        if missing and not start_copies:
            decisions.append(
                PoolDecision(
                    "copy-deferred",
                    self.source_cluster_id,
                    f"{status.spare_slots} spare clone slots, fewer than the {self.min_spare_slots} wanted; "
                    "new copies are started by the next scheduled maintenance run",
                )
            )
        elif missing:
            if copy_class is None:
                raise InvalidRequest(
                    f"'{self.source_cluster_id}' has no instance to take the copies' instance class from; "
                    "pass copy_instance_class",
                    field="copy_instance_class",
                )
            taken = inventory.taken_names()
            for _ in range(math.ceil(missing / limit)):
                copy_id = copy_identifier(self.source_cluster_id, status.checked_at, taken)
                taken.add(copy_id)
                decisions.append(
                    PoolDecision(
                        "create-copy",
                        copy_id,
                        f"{status.spare_slots} spare clone slots, fewer than the {self.min_spare_slots} wanted "
                        f"(source '{self.source_cluster_id}': {status.source_clones}/{limit} clones); "
                        f"making copy '{copy_id}' ({limit} slots)",
                    )
                )
                steps = _copy_steps(source, copy_id, iso(status.checked_at), copy_class)
                plans.append((steps, copy_id, f"make copy '{copy_id}' of '{self.source_cluster_id}'"))
        else:
            decisions.append(
                PoolDecision(
                    "enough-slots",
                    self.source_cluster_id,
                    f"{status.spare_slots} spare clone slots (source: {status.source_free_slots} free), "
                    f"at least the {self.min_spare_slots} wanted",
                )
            )
        if dry_run:
            return PoolMaintenance(status, tuple(decisions), True)
        operations = [
            Operation("clones", name, steps, description=description, session=self._session, clock=self._clock)
            for steps, name, description in plans
        ]
        results = [op.poll() for op in operations]
        if wait:
            results = self._wait_all(operations, results, timeout_minutes)
        return PoolMaintenance(status, tuple(decisions), False, tuple(operations), tuple(results))

    def _wait_all(
        self, operations: list[Operation], results: list[PollResult], timeout_minutes: float
    ) -> list[PollResult]:
        deadline = self._clock.now() + timeout_minutes * 60
        while any(r.in_progress for r in results):
            if self._clock.now() >= deadline:
                running = [op.description for op, r in zip(operations, results, strict=True) if r.in_progress]
                raise OperationFailed(
                    f"pool maintenance of '{self.source_cluster_id}' did not finish within {timeout_minutes:g} "
                    f"minutes: {'; '.join(running)} still running in AWS (the next maintain() picks them up)"
                )
            self._clock.sleep(15)
            results = [op.poll() if r.in_progress else r for op, r in zip(operations, results, strict=True)]
        return results


# --- the step runner ------------------------------------------------------------------------


class CloneSteps:
    """Runs the steps of clone and copy operations (the ``clones`` service of
    :class:`~dbscale.core.operation.Operation`). Each step checks AWS before it acts, so running
    it again after it took effect changes nothing. ``aurora`` steps run an
    :class:`~dbscale.core.aurora.AuroraSteps` step on the cluster the step names."""

    def __init__(self, *, session: boto3.Session | None = None, clock: Clock | None = None) -> None:
        self._client = client("rds", session)
        self._aurora_steps = AuroraSteps(session=session, clock=clock)

    def run(self, cluster_name: str, step: dict[str, Any]) -> StepOutcome:
        action = step["action"]
        method = getattr(self, f"_{action}", None)
        if method is None:
            return StepOutcome.fail(f"unknown clone step '{action}'")
        outcome: StepOutcome = method(step)
        return outcome

    def _aurora(self, step: dict[str, Any]) -> StepOutcome:
        return self._aurora_steps.run(step["cluster"], step["step"])

    def _all_clusters(self) -> list[dict[str, Any]]:
        return _rds_list(self._client, "describe_db_clusters", "DBClusters", "list the Aurora clusters")

    # --- copies -------------------------------------------------------------------------

    def _snapshot(self, step: dict[str, Any]) -> StepOutcome:
        if _find_cluster(self._client, step["copy"]) is not None or _find_snapshot(self._client, step["snapshot"]):
            return StepOutcome.next()
        source = describe_db_cluster(self._client, step["source"])
        status = source["Status"]
        if status in BROKEN_STATES:
            return StepOutcome.fail(f"source '{step['source']}' is '{status}' and needs attention in the RDS console")
        if status not in _USABLE:
            return StepOutcome.wait(f"source '{step['source']}' is '{status}'; waiting to snapshot it")
        try:
            with aws_errors(f"snapshot '{step['source']}' for copy '{step['copy']}'"):
                self._client.create_db_cluster_snapshot(
                    DBClusterIdentifier=step["source"],
                    DBClusterSnapshotIdentifier=step["snapshot"],
                    Tags=tag_list(step["tags"]),
                )
        except AwsError as err:
            # A retried request whose first attempt went through finds its own snapshot.
            if err.code != "DBClusterSnapshotAlreadyExistsFault" or not self._ours(
                _find_snapshot(self._client, step["snapshot"]), step["tags"]
            ):
                raise
        return StepOutcome.next()

    @staticmethod
    def _ours(found: dict[str, Any] | None, tags: dict[str, str]) -> bool:
        """True when ``found`` (a described cluster or snapshot) carries every tag in ``tags``."""
        if found is None:
            return False
        have = tag_dict(found.get("TagList"))
        return all(have.get(key) == value for key, value in tags.items())

    def _wait_snapshot(self, step: dict[str, Any]) -> StepOutcome:
        if _find_cluster(self._client, step["copy"]) is not None:
            return StepOutcome.next()
        snapshot = _find_snapshot(self._client, step["snapshot"])
        if snapshot is None:
            return StepOutcome.fail(f"snapshot '{step['snapshot']}' disappeared before copy '{step['copy']}' was made")
        status = snapshot.get("Status")
        if status == "available":
            return StepOutcome.next()
        if status == "creating":
            progress = snapshot.get("PercentProgress")
            done = f" ({progress}% done)" if progress is not None else ""
            return StepOutcome.wait(f"snapshot '{step['snapshot']}' for copy '{step['copy']}' is being made{done}")
        return StepOutcome.fail(f"snapshot '{step['snapshot']}' is '{status}'")

    def _restore_copy(self, step: dict[str, Any]) -> StepOutcome:
        if _find_cluster(self._client, step["copy"]) is not None:
            return StepOutcome.next()
        try:
            with aws_errors(f"restore copy '{step['copy']}' from snapshot '{step['snapshot']}'"):
                self._client.restore_db_cluster_from_snapshot(
                    DBClusterIdentifier=step["copy"],
                    SnapshotIdentifier=step["snapshot"],
                    Tags=tag_list(step["tags"]),
                    **step["options"],
                )
        except AwsError as err:
            if err.code != "DBClusterAlreadyExistsFault" or not self._ours(
                _find_cluster(self._client, step["copy"]), step["tags"]
            ):
                raise
        return StepOutcome.next()

    def _delete_snapshot(self, step: dict[str, Any]) -> StepOutcome:
        snapshot = _find_snapshot(self._client, step["snapshot"])
        if snapshot is None or snapshot.get("Status") == "deleting":
            return StepOutcome.next()
        if snapshot.get("Status") == "creating":
            return StepOutcome.wait(f"snapshot '{step['snapshot']}' is still being made; deleting it when it is done")
        with aws_errors(f"delete snapshot '{step['snapshot']}'"):
            self._client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=step["snapshot"])
        return StepOutcome.next()

    # --- clones -------------------------------------------------------------------------

    def _clone(self, step: dict[str, Any]) -> StepOutcome:
        clusters = {c["DBClusterIdentifier"]: c for c in self._all_clusters()}
        clone_id, origin_id = step["clone"], step["origin"]
        existing = clusters.get(clone_id)
        if existing is not None:
            if tag_dict(existing.get("TagList")).get(CLONE_OF_TAG_KEY) == origin_id:
                return StepOutcome.next()  # made by an earlier, interrupted poll
            return StepOutcome.fail(f"cluster '{clone_id}' exists and is not a clone of '{origin_id}'")
        origin = clusters.get(origin_id)
        if origin is None:
            return StepOutcome.fail(f"'{origin_id}' no longer exists; it cannot be cloned")
        status = origin["Status"]
        if status in BROKEN_STATES:
            return StepOutcome.fail(f"'{origin_id}' is '{status}' and cannot be cloned")
        if status not in _CLONABLE:
            return StepOutcome.wait(f"'{origin_id}' is '{status}'; waiting to clone it")
        instances = _cluster_instances(self._client, origin_id)
        if not instances:
            return StepOutcome.wait(f"'{origin_id}' has no DB instance yet; Aurora clones only clusters with one")
        if status != "stopped" and not any(i.get("DBInstanceStatus") in _USABLE for i in instances):
            return StepOutcome.wait(f"waiting for an instance of '{origin_id}' to be available before cloning it")
        count = clone_count(origin, clusters.values())
        if count >= step["limit"]:
            return StepOutcome.fail(
                f"'{origin_id}' already has {count} clones, the limit of {step['limit']}: another clone took the "
                "last free slot after this plan was made. Retry: a new plan picks another copy (or makes one when "
                "copies are allowed)."
            )
        try:
            with aws_errors(f"clone '{origin_id}' into '{clone_id}'"):
                self._client.restore_db_cluster_to_point_in_time(
                    DBClusterIdentifier=clone_id,
                    SourceDBClusterIdentifier=origin_id,
                    RestoreType="copy-on-write",
                    UseLatestRestorableTime=True,
                    Tags=tag_list(step["tags"]),
                    **step["options"],
                )
        except AwsError as err:
            if err.code != "DBClusterAlreadyExistsFault" or not self._ours(
                _find_cluster(self._client, clone_id), step["tags"]
            ):
                raise
        return StepOutcome.next()

    def _manage_password(self, step: dict[str, Any]) -> StepOutcome:
        cluster = describe_db_cluster(self._client, step["cluster"])
        if cluster.get("MasterUserSecret"):
            return StepOutcome.next()
        if cluster["Status"] not in _USABLE:
            return StepOutcome.wait(f"clone is '{cluster['Status']}'; waiting to give it a managed password")
        with aws_errors(f"give clone '{step['cluster']}' a managed master password"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=step["cluster"], ManageMasterUserPassword=True, ApplyImmediately=True
            )
        return StepOutcome.next()

    # --- purging --------------------------------------------------------------------------

    def _purge_copy(self, step: dict[str, Any]) -> StepOutcome:
        """Delete an obsolete copy without clones: ``start`` deletes its instances (and seed snapshot)
        without waiting; ``finish`` waits for them to go, then deletes the cluster. A copy that has
        clones is left alone (it may be deleted safely, but its clones would then pay its storage)."""
        copy_id = step["copy"]
        clusters = self._all_clusters()
        copy = next((c for c in clusters if c["DBClusterIdentifier"] == copy_id), None)
        if copy is None or copy["Status"] == "deleting":
            return StepOutcome.next()
        instances = _cluster_instances(self._client, copy_id)
        has_clones = clone_count(copy, clusters) > 0
        if step["phase"] == "start":
            if has_clones or copy["Status"] not in _USABLE:
                return StepOutcome.next()
            self._delete_snapshot({"snapshot": seed_snapshot_identifier(copy_id)})
            for instance in instances:
                if instance.get("DBInstanceStatus") != "deleting":
                    with aws_errors(f"delete instance '{instance['DBInstanceIdentifier']}' of copy '{copy_id}'"):
                        self._client.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
            return StepOutcome.next()
        if any(i.get("DBInstanceStatus") != "deleting" for i in instances):
            return StepOutcome.next()  # left alone at the start (it had clones), or in use again
        if instances:
            return StepOutcome.wait(f"waiting for the instances of obsolete copy '{copy_id}' to be deleted")
        if has_clones:
            return StepOutcome.next()
        if copy["Status"] not in _USABLE and copy["Status"] != "stopped":
            return StepOutcome.wait(f"copy '{copy_id}' is '{copy['Status']}'; waiting to delete it")
        with aws_errors(f"delete obsolete copy '{copy_id}'"):
            self._client.delete_db_cluster(DBClusterIdentifier=copy_id, SkipFinalSnapshot=True)
        return StepOutcome.next()


__all__ = [
    "CLONED_FROM_SOURCE_TAG_KEY",
    "CLONE_LIMIT_SOURCE_URL",
    "CLONE_OF_TAG_KEY",
    "COPY_CREATED_TAG_KEY",
    "COPY_ID_TAG_KEY",
    "COPY_OF_TAG_KEY",
    "DEFAULT_MAX_CLONES_PER_SOURCE",
    "ClonePlan",
    "ClonePool",
    "CloneSlotUnavailable",
    "CloneSteps",
    "CopyInfo",
    "PoolDecision",
    "PoolMaintenance",
    "PoolStatus",
    "clone_count",
    "copy_cutoff",
    "copy_identifier",
    "parse_timestamp",
    "provision_clone",
    "seed_snapshot_identifier",
    "waiting_only",
]
