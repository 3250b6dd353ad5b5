"""Scheduled clone pool maintenance: ``dbscale.handlers.clone_pool.handler``.

A plain Lambda handler for an EventBridge schedule: each run calls
:meth:`dbscale.core.clones.ClonePool.maintain` once (it never waits: copies being made are driven
on by the next run, as every step first checks what AWS already did) and logs one JSON line per
decision. Configuration comes from environment variables, overridden by the event's ``detail``:

=========================  =====================  ==========================================
environment                detail                 meaning
=========================  =====================  ==========================================
``SOURCE_CLUSTER_ID``      ``SourceClusterId``    the source cluster (required)
``MIN_SPARE_SLOTS``        ``MinSpareSlots``      clone slots to keep free (required)
``MAX_COPY_AGE_HOURS``     ``MaxCopyAgeHours``    copies older than this are replaced
``COPY_CREATED_SINCE``     ``CopyCreatedSince``   copies must be newer than this ISO-8601 time
``MAX_CLONES_PER_SOURCE``  ``MaxClonesPerSource`` clone slots per source or copy (default 15)
``COPY_INSTANCE_CLASS``    ``CopyInstanceClass``  instance class of each copy's one instance
``DRY_RUN``                ``DryRun``             ``true``: decide and log, change nothing
(none)                     ``StartCopies``        ``false``: drive copies on, start none
=========================  =====================  ==========================================

The return value (a JSON-safe dict) summarizes the run. Invalid configuration or an AWS error
raises, so the invocation is marked failed (and counted in the function's Errors metric).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dbscale.cfn import Prop, failure_reason, parse
from dbscale.core.clock import SYSTEM_CLOCK, Clock
from dbscale.core.clones import ClonePool, iso
from dbscale.core.errors import InvalidRequest
from dbscale.core.validation import renamed, validate_copy_age_hours

if TYPE_CHECKING:
    import boto3

LOG = logging.getLogger("dbscale.clone_pool")
LOG.setLevel(logging.INFO)

SCHEMA: tuple[Prop, ...] = (
    Prop("SourceClusterId", required=True),
    Prop("MinSpareSlots", "int", required=True, minimum=0),
    Prop("MaxCopyAgeHours", "float"),
    Prop("CopyCreatedSince"),
    Prop("MaxClonesPerSource", "int", minimum=1),
    Prop("CopyInstanceClass"),
    Prop("DryRun", "bool", default=False),
    Prop("StartCopies", "bool", default=True),
)
ENVIRONMENT: Mapping[str, str] = {
    "SOURCE_CLUSTER_ID": "SourceClusterId",
    "MIN_SPARE_SLOTS": "MinSpareSlots",
    "MAX_COPY_AGE_HOURS": "MaxCopyAgeHours",
    "COPY_CREATED_SINCE": "CopyCreatedSince",
    "MAX_CLONES_PER_SOURCE": "MaxClonesPerSource",
    "COPY_INSTANCE_CLASS": "CopyInstanceClass",
    "DRY_RUN": "DryRun",
}

# ClonePool's argument names -> the names this handler's configuration uses (for messages).
ARGUMENT_NAMES: Mapping[str, str] = {
    "source_cluster_id": "SourceClusterId",
    "min_spare_slots": "MinSpareSlots",
    "max_copy_age": "MaxCopyAgeHours",
    "copy_created_since": "CopyCreatedSince",
    "max_clones_per_source": "MaxClonesPerSource",
    "copy_instance_class": "CopyInstanceClass",
    "dry_run": "DryRun",
    "start_copies": "StartCopies",
}

session: boto3.Session | None = None
"""The boto3 session to use (None: the default one). Tests replace it."""
clock: Clock = SYSTEM_CLOCK
"""The clock to use. Tests replace it."""


def configuration(event: Mapping[str, Any] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The pool settings: environment variables, overridden by the event's ``detail`` object."""
    raw: dict[str, Any] = {prop: environ[name] for name, prop in ENVIRONMENT.items() if environ.get(name, "") != ""}
    detail = (event or {}).get("detail")
    if detail not in (None, {}):
        if not isinstance(detail, dict):
            raise InvalidRequest(f"the event's detail must be an object, got {detail!r}", field="detail")
        raw.update(detail)
    values = parse(SCHEMA, raw)
    if values["MaxCopyAgeHours"] is not None:
        validate_copy_age_hours(values["MaxCopyAgeHours"], field="MaxCopyAgeHours")
    return values


def _log(record: dict[str, Any]) -> None:
    LOG.info(json.dumps(record, sort_keys=False, default=str))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: one maintenance run of one source's clone pool."""
    try:
        config = configuration(event, os.environ)
        max_age = config["MaxCopyAgeHours"]
        pool = ClonePool(
            config["SourceClusterId"],
            min_spare_slots=config["MinSpareSlots"],
            max_copy_age=None if max_age is None else timedelta(hours=max_age),
            copy_created_since=config["CopyCreatedSince"],
            max_clones_per_source=config["MaxClonesPerSource"],
            copy_instance_class=config["CopyInstanceClass"],
            session=session,
            clock=clock,
        )
        outcome = pool.maintain(dry_run=config["DryRun"], start_copies=config["StartCopies"])
    except Exception as err:
        failure = renamed(err, ARGUMENT_NAMES) if isinstance(err, InvalidRequest) else err
        detail = (event or {}).get("detail")
        source = detail.get("SourceClusterId") if isinstance(detail, dict) else None
        _log({"source": source or os.environ.get("SOURCE_CLUSTER_ID"), "error": failure_reason(failure)})
        if failure is not err:
            raise failure from None
        raise
    status = outcome.status
    progress = {op.cluster_name: result for op, result in zip(outcome.operations, outcome.results, strict=True)}
    decisions = []
    for decision in outcome.decisions:
        record: dict[str, Any] = {
            "source": status.source_cluster_id,
            "decision": decision.action,
            "cluster": decision.cluster_id,
            "reason": decision.reason,
            "dry_run": outcome.dry_run,
        }
        result = progress.get(decision.cluster_id)
        if result is not None and decision.action in ("create-copy", "continue-copy", "delete-copy"):
            record["operation"] = result.status.value
            record["detail"] = result.reason
        _log(record)
        decisions.append(record)
    return {
        "source": status.source_cluster_id,
        "checked_at": iso(status.checked_at),
        "source_clones": status.source_clones,
        "spare_slots": status.spare_slots,
        "min_spare_slots": status.min_spare_slots,
        "copies": [
            {
                "cluster": c.cluster_id,
                "age_hours": c.age_hours,
                "clones": c.clones,
                "free_slots": c.free_slots,
                "fresh": c.fresh,
                "status": c.status,
            }
            for c in status.copies
        ],
        "decisions": decisions,
        "dry_run": outcome.dry_run,
    }
