"""The tag autoscaler Lambda: ``dbscale.handlers.tag_autoscaler.handler``.

Invoked by an EventBridge schedule (not a CloudFormation custom resource). One invocation manages
every Redshift and Aurora cluster of its account and region tagged ``dbscale:autoscale=<policy>``,
under the policy of that name in the JSON document of the SSM parameter named by
``DBSCALE_AUTOSCALE_POLICIES_PARAMETER`` (read once per invocation). ``DBSCALE_AUTOSCALE_TAG_KEY``
changes the tag key, ``DBSCALE_AUTOSCALE_DRY_RUN=true`` changes nothing. Set by the
``TagAutoscaler`` construct. Imports the core only (no crhelper, no CDK).

No batch starts with less than 100 s of the invocation left; a cluster that fails is reported and
the others go on (see :func:`dbscale.core.autoscale.run_tagged`). Each decision and each skipped
cluster is one JSON line on stdout; the return value summarizes the run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from dbscale.core.autoscale import DRY_RUN_ENV, POLICIES_PARAMETER_ENV, TAG_KEY, TAG_KEY_ENV, run_tagged
from dbscale.core.errors import InvalidRequest


def settings(environ: Mapping[str, str] | None = None) -> tuple[str, str, bool]:
    """(policy parameter, tag key, dry run) from the environment; :class:`InvalidRequest` when unset or invalid."""
    env = environ if environ is not None else os.environ
    parameter = env.get(POLICIES_PARAMETER_ENV, "").strip()
    if not parameter:
        raise InvalidRequest(
            f"the environment variable {POLICIES_PARAMETER_ENV} is not set", field=POLICIES_PARAMETER_ENV
        )
    dry_run = env.get(DRY_RUN_ENV, "false").strip().lower()
    if dry_run not in ("true", "false"):
        raise InvalidRequest(f"{DRY_RUN_ENV} must be 'true' or 'false', got {dry_run!r}", field=DRY_RUN_ENV)
    return parameter, env.get(TAG_KEY_ENV, "").strip() or TAG_KEY, dry_run == "true"


def _remaining(context: Any) -> Callable[[], float] | None:
    """The Lambda context's time left in seconds (None outside Lambda: no bound)."""
    left = getattr(context, "get_remaining_time_in_millis", None)
    return (lambda: float(left()) / 1000) if callable(left) else None


def _trigger(event: Any) -> str:
    return "schedule" if isinstance(event, Mapping) and event.get("source") == "aws.events" else "manual"


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: one run over every tagged cluster; a summary of decisions and skips."""
    parameter, tag_key, dry_run = settings()
    run = run_tagged(
        parameter,
        tag_key=tag_key,
        dry_run=dry_run,
        remaining_seconds=_remaining(context),
        trigger=_trigger(event),
        log=_stdout,
    )
    return {"trigger": _trigger(event), "dry_run": dry_run, "tag_key": tag_key, **run.to_dict()}
