"""Plans: the steps of the operations that make a copy, make a clone, and delete an obsolete copy,
as JSON-safe dicts that :class:`~dbscale.core.clones.steps.CloneSteps` runs, and what a clone
request planned (:class:`ClonePlan`).

A copy is made with a snapshot restore (``CreateDBClusterSnapshot`` then
``RestoreDBClusterFromSnapshot``) rather than a ``full-copy`` point-in-time restore because a
snapshot restore starts a new clone group, while a point-in-time restore inherits the source's
``CloneGroupId`` (see the ``CloneGroupId`` field of
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html), and the clone group
is how clones are counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..aurora import instance_identifier
from ..errors import DbscaleError, InvalidRequest
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS, CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from ..operation import Operation
from ..validation import validate_serverless_v2_capacity
from .inventory import CopyInfo
from .naming import (
    CLONE_OF_TAG_KEY,
    CLONED_FROM_SOURCE_TAG_KEY,
    COPY_CREATED_TAG_KEY,
    COPY_ID_TAG_KEY,
    COPY_OF_TAG_KEY,
    seed_snapshot_identifier,
)

DEFAULT_COPY_SERVERLESS_V2_CAPACITY = (0.5, 8.0)
"""ACU range of a copy whose instance is ``db.serverless`` when the source has none to copy."""

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


def waiting_only(operation: Operation) -> bool:
    """True when every step left in ``operation`` only waits for AWS (all changes are requested)."""
    for step in operation.steps[operation.index :]:
        action = step["action"]
        if action == "aurora":
            action = step["step"]["action"]
        if action not in _WAIT_ACTIONS:
            return False
    return True


def acu_config(cluster: dict[str, Any]) -> dict[str, float] | None:
    """The Serverless v2 ACU range of ``cluster`` as RDS takes it, or None when it has none."""
    config = cluster.get("ServerlessV2ScalingConfiguration") or {}
    if config.get("MaxCapacity") is None:
        return None
    return {"MinCapacity": float(config.get("MinCapacity", 0.5)), "MaxCapacity": float(config["MaxCapacity"])}


def network_options(source: dict[str, Any]) -> dict[str, Any]:
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


def copy_steps(
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
    options = network_options(source)
    options["Engine"] = engine
    if source.get("EngineVersion"):
        options["EngineVersion"] = source["EngineVersion"]
    if source.get("Port"):
        options["Port"] = source["Port"]
    if instance_class == AURORA_SERVERLESS_INSTANCE_CLASS:
        min_acu, max_acu = DEFAULT_COPY_SERVERLESS_V2_CAPACITY
        options["ServerlessV2ScalingConfiguration"] = acu_config(source) or {
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


def clone_steps(
    source: dict[str, Any],
    origin_id: str,
    clone_id: str,
    instance_class: str,
    tags: dict[str, str],
    acu: dict[str, float] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The steps that make the clone, split in (requests, final wait)."""
    options = network_options(source)
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


def purge_steps(copy_ids: Iterable[str], phase: str) -> list[dict[str, Any]]:
    """The ``purge_copy`` steps of ``phase`` (``start`` or ``finish``) for each copy in ``copy_ids``."""
    return [{"action": "purge_copy", "copy": copy_id, "phase": phase} for copy_id in copy_ids]


def clone_acu(
    instance_class: str, source: dict[str, Any], min_acu: float | None, max_acu: float | None
) -> dict[str, float] | None:
    """The clone's ACU range: the one given, else the source's, for ``db.serverless``; None for other classes."""
    if instance_class != AURORA_SERVERLESS_INSTANCE_CLASS:
        validate_serverless_v2_capacity(min_acu, max_acu, instance_class=instance_class)
        return None
    if min_acu is None and max_acu is None:
        config = acu_config(source)
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
