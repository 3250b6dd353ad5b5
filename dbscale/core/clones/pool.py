"""A pool of full copies: :class:`ClonePool` keeps enough clone slots free for a source by making
copies (each with its own 15 slots) and deletes copies that are too old once they have no clones."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..aurora import describe_db_cluster
from ..aurora.describe import BROKEN
from ..aws import client
from ..clock import SYSTEM_CLOCK, Clock, utc_datetime
from ..errors import InvalidRequest, OperationFailed
from ..operation import Operation, PollResult
from ..validation import validate_flag, validate_positive_number
from .inputs import check_limit, validate_pool_settings
from .inventory import PENDING_SNAPSHOT, CopyInfo, Inventory
from .naming import copy_cutoff, copy_identifier, iso, parse_timestamp, seed_snapshot_identifier
from .plans import copy_steps, purge_steps

if TYPE_CHECKING:
    import boto3

# What one maintenance run starts: the steps, the operation's cluster name, its description.
_Plan = tuple[list[dict[str, Any]], str, str]


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
        self.max_clones_per_source = check_limit(max_clones_per_source)
        self.copy_instance_class = copy_instance_class
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._rds = client("rds", session)

    def __repr__(self) -> str:
        return (
            f"ClonePool({self.source_cluster_id!r}, min_spare_slots={self.min_spare_slots}, "
            f"max_copy_age={self.max_copy_age}, max_clones_per_source={self.max_clones_per_source})"
        )

    def _look(self) -> tuple[dict[str, Any], Inventory, PoolStatus]:
        now = utc_datetime(self._clock)
        if self.copy_created_since is not None and self.copy_created_since > now:
            raise InvalidRequest(
                f"copy_created_since {iso(self.copy_created_since)} is in the future (now: {iso(now)})",
                field="copy_created_since",
            )
        source = describe_db_cluster(self._rds, self.source_cluster_id)
        inventory = Inventory(self._rds, self.source_cluster_id)
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
        copy_class = self.copy_instance_class or inventory.writer_class(source)
        seeds = {snapshot["DBClusterSnapshotIdentifier"] for snapshot in inventory.snapshots}
        decisions: list[PoolDecision] = []
        plans: list[_Plan] = []
        for copy in status.copies:
            if copy.status == "deleting":
                continue
            decision, plan = self._review_copy(copy, source, copy_class, seeds)
            decisions.append(decision)
            if plan is not None:
                plans.append(plan)
        more_decisions, more_plans = self._top_up(status, inventory, source, copy_class, start_copies)
        decisions += more_decisions
        plans += more_plans
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

    def _review_copy(
        self, copy: CopyInfo, source: dict[str, Any], copy_class: str | None, seeds: set[str]
    ) -> tuple[PoolDecision, _Plan | None]:
        """What to do with one existing copy: delete, keep, or drive on its making."""
        text = copy.summary(self.max_clones_per_source)
        broken = copy.status in BROKEN
        if (not copy.fresh or broken) and copy.clones == 0:
            why = "failed" if broken else "older than the age limit"
            decision = PoolDecision("delete-copy", copy.cluster_id, f"copy {text} is {why} and has no clones")
            steps = purge_steps([copy.cluster_id], "start") + purge_steps([copy.cluster_id], "finish")
            if copy.status == PENDING_SNAPSHOT:
                steps = [{"action": "delete_snapshot", "snapshot": seed_snapshot_identifier(copy.cluster_id)}]
            return decision, (steps, copy.cluster_id, f"delete obsolete copy '{copy.cluster_id}'")
        if not copy.fresh or broken:
            decision = PoolDecision(
                "keep-obsolete-copy",
                copy.cluster_id,
                f"copy {text} is {'failed' if broken else 'too old'} but has clones; it is deleted once they are gone",
            )
            return decision, None
        if not copy.ready or seed_snapshot_identifier(copy.cluster_id) in seeds:
            if copy_class is None:
                raise InvalidRequest(
                    f"'{self.source_cluster_id}' has no instance to take the copy's instance class from; "
                    "pass copy_instance_class",
                    field="copy_instance_class",
                )
            decision = PoolDecision("continue-copy", copy.cluster_id, f"copy {text} is still being made (or tidied up)")
            steps = copy_steps(source, copy.cluster_id, iso(copy.created_at), copy_class)
            return decision, (steps, copy.cluster_id, f"make copy '{copy.cluster_id}' of '{self.source_cluster_id}'")
        return PoolDecision("keep-copy", copy.cluster_id, f"copy {text} has {copy.free_slots} free slots"), None

    def _top_up(
        self,
        status: PoolStatus,
        inventory: Inventory,
        source: dict[str, Any],
        copy_class: str | None,
        start_copies: bool,
    ) -> tuple[list[PoolDecision], list[_Plan]]:
        """The new copies the spare slots fall short by (or why none is made)."""
        limit = self.max_clones_per_source
        missing = status.short_of
        if missing and not start_copies:
            deferred = PoolDecision(
                "copy-deferred",
                self.source_cluster_id,
                f"{status.spare_slots} spare clone slots, fewer than the {self.min_spare_slots} wanted; "
                "new copies are started by the next scheduled maintenance run",
            )
            return [deferred], []
        if not missing:
            enough = PoolDecision(
                "enough-slots",
                self.source_cluster_id,
                f"{status.spare_slots} spare clone slots (source: {status.source_free_slots} free), "
                f"at least the {self.min_spare_slots} wanted",
            )
            return [enough], []
        if copy_class is None:
            raise InvalidRequest(
                f"'{self.source_cluster_id}' has no instance to take the copies' instance class from; "
                "pass copy_instance_class",
                field="copy_instance_class",
            )
        decisions: list[PoolDecision] = []
        plans: list[_Plan] = []
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
            steps = copy_steps(source, copy_id, iso(status.checked_at), copy_class)
            plans.append((steps, copy_id, f"make copy '{copy_id}' of '{self.source_cluster_id}'"))
        return decisions, plans

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
