"""Carrying out a decision: start its change in AWS, or advance the one in flight by one poll (never waiting)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..clock import Clock
from ..errors import DbscaleError
from .decisions import ClusterRef, Decision
from .memory import Memory
from .rules import fmt_minutes

if TYPE_CHECKING:
    import boto3


def start_change(
    ref: ClusterRef, decision: Decision, memory: Memory, *, session: boto3.Session | None, clock: Clock
) -> tuple[Memory, str]:
    """Start ``decision``'s change (never waiting): the memory with the operation in flight, and the outcome."""
    target = decision.target
    if ref.service == "redshift":
        from ..redshift import RedshiftProvisioning

        redshift = RedshiftProvisioning(ref.name, session=session, clock=clock)
        op = redshift.rescale(
            new_cluster_size=target.get("nodes"),
            new_paused=target.get("paused"),
            resize_type="elastic",  # the rules stay within one elastic resize; a classic one takes hours
            wait=False,
        )
    else:
        from ..aurora import RdsProvisioning

        aurora = RdsProvisioning(ref.name, session=session, clock=clock)
        acu = target.get("acu")
        op = aurora.rescale(
            new_paused=target.get("paused"),
            new_instance_type=target.get("instance_class"),
            new_reader_count=target.get("readers"),
            new_serverless_v2_capacity=(float(acu[0]), float(acu[1])) if acu else None,
            new_seconds_until_auto_pause=target.get("auto_pause_seconds"),
            wait=False,
        )
    result = op.poll()
    if result.failed:
        return replace(memory, operation=None), f"failed: {result.reason}"
    if result.done:
        return replace(memory, operation=None), f"done: {op.description}"
    return replace(memory, operation=op.to_dict()), f"started: {op.description} ({result.reason})"


def continue_change(
    memory: Memory, *, session: boto3.Session | None, clock: Clock, timeout_minutes: float
) -> tuple[Memory, str]:
    """Advance the operation in ``memory`` one poll (given up after ``timeout_minutes``): the memory and the outcome."""
    from ..operation import Operation

    try:
        op = Operation.from_dict(dict(memory.operation or {}), session=session, clock=clock)
    except (ValueError, KeyError) as err:
        return replace(memory, operation=None), f"dropped an unreadable stored operation: {err}"
    if op.elapsed_seconds() > timeout_minutes * 60:
        return (
            replace(memory, operation=None),
            f"gave up on '{op.description}' after {fmt_minutes(op.elapsed_seconds())} "
            f"(operation_timeout_minutes {timeout_minutes:g}); last state: {op.last_detail}",
        )
    try:
        result = op.poll()
    except (DbscaleError, KeyError) as err:  # a step that cannot run again: drop it, do not loop on it
        return replace(memory, operation=None), f"failed: '{op.description}' cannot continue: {err!r}"
    if result.done:
        return replace(memory, operation=None), f"done: {op.description}"
    if result.failed:
        return replace(memory, operation=None), f"failed: {result.reason}"
    return replace(memory, operation=op.to_dict()), f"in progress: {result.reason}"
