"""Making one clone: :func:`provision_clone` chooses where to clone from (the source, a fresh copy,
or a new copy), plans the steps, and runs them as an :class:`~dbscale.core.operation.Operation`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..aurora import describe_db_cluster
from ..aws import client, tag_dict
from ..clock import SYSTEM_CLOCK, Clock, utc_datetime
from ..errors import ClusterAlreadyExists, ClusterNotFound, InvalidRequest
from ..limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from ..operation import Operation
from ..validation import (
    validate_aurora_instance_class,
    validate_cluster_identifier,
    validate_flag,
    validate_positive_number,
    validate_tags,
)
from .inputs import check_age, check_limit, check_since
from .inventory import PENDING_SNAPSHOT, CopyInfo, Inventory
from .naming import CLONE_OF_TAG_KEY, CLONED_FROM_SOURCE_TAG_KEY, MANAGED_TAG_KEYS, copy_cutoff, copy_identifier, iso
from .plans import ClonePlan, CloneSlotUnavailable, clone_acu, clone_steps, copy_steps, purge_steps

if TYPE_CHECKING:
    import boto3


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
    flags = {"copy_ok": copy_ok, "purge_obsolete_copies": purge_obsolete_copies, "dry_run": dry_run, "wait": wait}
    _check_arguments(
        source_cluster_id, clone_cluster_id, instance_class, copy_instance_class, flags, timeout_minutes, tags
    )
    limit = check_limit(max_clones_per_source)
    age = check_age(max_copy_age)
    clock = clock or SYSTEM_CLOCK
    now = utc_datetime(clock)
    since = check_since(copy_created_since, now)
    rds = client("rds", session)
    source = _describe_source(rds, source_cluster_id)
    acu = clone_acu(instance_class, source, serverless_v2_min_acu, serverless_v2_max_acu)
    cutoff = copy_cutoff(now, age, since)
    job = _CloneJob.read(
        rds, source_cluster_id, source, clone_cluster_id, instance_class, _user_tags(tags), acu, limit, cutoff, now
    )
    existing = job.inventory.clusters.get(clone_cluster_id)
    if existing is not None:
        plan, steps, description = _resume(job, existing, dry_run)
    else:
        plan, steps, description = _new_clone(job, copy_ok, purge_obsolete_copies, copy_instance_class, dry_run, now)
    if dry_run:
        return plan
    op = Operation("clones", clone_cluster_id, steps, description=description, session=session, clock=clock)
    if wait:
        op.wait(timeout_minutes=timeout_minutes)
    return replace(plan, operation=op)


@dataclass(frozen=True)
class _CloneJob:
    """One clone to make: what was asked, and what was read of the source's copies and clones."""

    source_cluster_id: str
    source: dict[str, Any]
    clone_cluster_id: str
    instance_class: str
    user_tags: dict[str, str]
    acu: dict[str, float] | None
    limit: int
    inventory: Inventory
    copies: list[CopyInfo]
    cutoff: datetime | None
    source_clones: int

    @classmethod
    def read(
        cls,
        rds: Any,
        source_cluster_id: str,
        source: dict[str, Any],
        clone_cluster_id: str,
        instance_class: str,
        user_tags: dict[str, str],
        acu: dict[str, float] | None,
        limit: int,
        cutoff: datetime | None,
        now: datetime,
    ) -> _CloneJob:
        """The job, with the source's copies (fresh when newer than ``cutoff``) and clones read from RDS."""
        inventory = Inventory(rds, source_cluster_id)
        copies = inventory.copies(source_cluster_id, cutoff, limit, now)
        source_clones = inventory.clones_of(source_cluster_id)
        fields = (source_cluster_id, source, clone_cluster_id, instance_class, user_tags, acu, limit)
        return cls(*fields, inventory, copies, cutoff, source_clones)

    def plan(self, dry_run: bool, **fields: Any) -> ClonePlan:
        """The :class:`ClonePlan` of ``fields`` (action, origin, reason ...) with what every plan reports."""
        return ClonePlan(
            source_cluster_id=self.source_cluster_id,
            clone_cluster_id=self.clone_cluster_id,
            source_clones=self.source_clones,
            max_clones_per_source=self.limit,
            copies=tuple(self.copies),
            cutoff=self.cutoff,
            dry_run=dry_run,
            **fields,
        )

    def clone_steps(self, origin_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The steps that clone ``origin_id`` into the clone, split in (requests, final wait)."""
        return clone_steps(
            self.source, origin_id, self.clone_cluster_id, self.instance_class, self.user_tags, self.acu, self.limit
        )


_Steps = tuple[ClonePlan, list[dict[str, Any]], str]
"""A plan, the steps of its operation, and the operation's description."""


def _resume(job: _CloneJob, existing: dict[str, Any], dry_run: bool) -> _Steps:
    """Finish the clone that exists already, when dbscale made it from this source."""
    origin = _resumable_origin(existing, job.source_cluster_id, job.clone_cluster_id)
    requests, final = job.clone_steps(origin)
    reason = f"'{job.clone_cluster_id}' exists already as a clone of '{origin}'; finishing it"
    plan = job.plan(dry_run, action="resume", cloned_from=origin, reason=reason)
    return plan, requests + final, f"finish clone '{job.clone_cluster_id}' of '{origin}'"


def _new_clone(
    job: _CloneJob,
    copy_ok: bool,
    purge_obsolete_copies: bool,
    copy_instance_class: str | None,
    dry_run: bool,
    now: datetime,
) -> _Steps:
    """Clone the source or a copy (making the copy first when it is new or unfinished), purging obsolete
    copies when asked; :class:`CloneSlotUnavailable` (unless ``dry_run``) when there is nothing to clone."""
    action, origin_id, reason, new_copy_id = _choose_origin(job, copy_ok, now)
    if origin_id is None:
        plan = job.plan(dry_run, action="none", cloned_from=None, reason=reason)
        if dry_run:
            return plan, [], ""
        raise CloneSlotUnavailable(reason, plan=plan)
    purge = _obsolete_copies(job.copies) if purge_obsolete_copies and job.cutoff is not None else []
    if purge:
        reason += f"; deleting obsolete copies without clones: {', '.join(purge)}"
    copy_class = copy_instance_class or job.inventory.writer_class(job.source) or job.instance_class
    steps = purge_steps(purge, "start")
    steps += _copy_first(job.source, action, origin_id, new_copy_id, job.copies, copy_class, now)
    requests, final = job.clone_steps(origin_id)
    steps += requests + purge_steps(purge, "finish") + final
    plan = job.plan(
        dry_run,
        action=action,
        cloned_from=origin_id,
        reason=reason,
        new_copy_id=new_copy_id,
        purged_copies=tuple(purge),
    )
    return plan, steps, f"clone '{origin_id}' into '{job.clone_cluster_id}' ({action})"


def _check_arguments(
    source_cluster_id: str,
    clone_cluster_id: str,
    instance_class: str,
    copy_instance_class: str | None,
    flags: dict[str, bool],
    timeout_minutes: float,
    tags: dict[str, str] | None,
) -> None:
    validate_cluster_identifier(source_cluster_id, field="source_cluster_id")
    validate_cluster_identifier(clone_cluster_id, field="clone_cluster_id")
    if source_cluster_id == clone_cluster_id:
        raise InvalidRequest("clone_cluster_id must differ from source_cluster_id", field="clone_cluster_id")
    validate_aurora_instance_class(instance_class)
    if copy_instance_class is not None:
        validate_aurora_instance_class(copy_instance_class, field="copy_instance_class")
    for flag_name, flag in flags.items():
        validate_flag(flag, field=flag_name)
    validate_positive_number(timeout_minutes, field="timeout_minutes")
    validate_tags(tags, field="tags", user=False)  # the handler adds its dbscale:cfn-* tags


def _describe_source(rds: Any, source_cluster_id: str) -> dict[str, Any]:
    try:
        return describe_db_cluster(rds, source_cluster_id)
    except ClusterNotFound:
        raise ClusterNotFound(f"source Aurora cluster '{source_cluster_id}' does not exist") from None


def _user_tags(tags: dict[str, str] | None) -> dict[str, str]:
    user_tags = dict(tags or {})
    for key in user_tags:
        if key in MANAGED_TAG_KEYS or key.lower().startswith("aws:"):
            raise InvalidRequest(f"tag key {key!r} is set by dbscale (or AWS) and cannot be given", field="tags")
    return user_tags


def _resumable_origin(existing: dict[str, Any], source_cluster_id: str, clone_cluster_id: str) -> str:
    """What the existing cluster ``clone_cluster_id`` is a clone of, when dbscale made it from this
    source; any other cluster of that name raises :class:`ClusterAlreadyExists`."""
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
    return origin


def _obsolete_copies(copies: list[CopyInfo]) -> list[str]:
    """The copies to purge: older than the age limit, without clones, not being deleted already."""
    return [
        c.cluster_id for c in copies if not c.fresh and c.clones == 0 and c.status not in ("deleting", PENDING_SNAPSHOT)
    ]


def _copy_first(
    source: dict[str, Any],
    action: str,
    origin_id: str,
    new_copy_id: str | None,
    copies: list[CopyInfo],
    copy_class: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The steps that make the copy to be cloned, when it is new or still being made."""
    if new_copy_id is not None:
        return copy_steps(source, new_copy_id, iso(now), copy_class)
    chosen = next((c for c in copies if c.cluster_id == origin_id), None) if action == "clone-copy" else None
    if chosen is not None and not chosen.ready:
        # The copy is still being made (perhaps by an earlier, timed-out attempt): drive it on.
        return copy_steps(source, chosen.cluster_id, iso(chosen.created_at), copy_class)
    return []


def _choose_origin(job: _CloneJob, copy_ok: bool, now: datetime) -> tuple[str, str | None, str, str | None]:
    """Where to clone from: ``(action, origin, reason, new copy)``; origin None (action ``none``)
    when nothing can be done."""
    source, source_cluster_id, clone_cluster_id = job.source, job.source_cluster_id, job.clone_cluster_id
    copies, cutoff, source_clones, limit = job.copies, job.cutoff, job.source_clones, job.limit
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
        new_copy_id = copy_identifier(source_cluster_id, now, job.inventory.taken_names())
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
        return "none", None, reason, None
    return action, origin_id, reason, new_copy_id
