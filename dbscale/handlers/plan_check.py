"""A cluster resource's rescale plan: logged, kept for the attributes (``PlanMethod``,
``PlanMinutes``), and refused before anything starts when it cannot finish in time."""

from __future__ import annotations

import json
from typing import Any

from dbscale.cfn import LOG
from dbscale.cfn.state import OperationState
from dbscale.core.errors import InvalidRequest, OperationTimeout

from .state import ClusterSteps

SIGNAL_TIMEOUT_DEFAULT_SECONDS = 43_200
"""The CompletionSignalTimeout of a state that does not record one (seconds)."""


def check_plan(service: str, plan: Any, props: dict[str, Any], state: OperationState[ClusterSteps], now: float) -> None:
    """Log ``plan`` (the core's :class:`~dbscale.core.plan.RescalePlan`, or None), keep it in
    ``state``, and refuse a change whose shortest expected duration (AWS's figures) exceeds what
    is left of the ServiceTimeout when no completion signal will carry it (or of the wait
    condition's timeout when one will)."""
    if plan is None or not plan.changes:
        return
    low, high = plan.duration_minutes
    state.resource.plan = {"method": plan.method, "minutes": [low, high]}
    summary = {k: v for k, v in plan.to_dict().items() if k != "operation_steps"}
    LOG.info(json.dumps({"plan": summary}, default=str))
    if not props["WaitForCompletion"]:
        return
    if state.signal:
        # The completion signal carries the operation: it must fit in the wait condition's timeout.
        end = state.started + float(state.signal_timeout or SIGNAL_TIMEOUT_DEFAULT_SECONDS) - 60.0
        left_minutes = (end - now) / 60
        if low > left_minutes:
            raise InvalidRequest(
                f"{service} cluster '{plan.cluster_name}': the planned {plan.method} change "
                f"({plan.description}) takes {low:g} to {high:g} minutes by AWS's figures, more than the "
                f"{max(left_minutes, 0):.0f} minutes left of CompletionSignalTimeout "
                f"({state.signal_timeout} s); nothing was started. Raise CompletionSignalTimeout "
                "(LongOperations(timeout=...), at most 43200 s) above the change's shortest duration.",
                field="CompletionSignalTimeout",
            )
        return
    left_minutes = (state.deadline - now) / 60
    if low > left_minutes:
        raise OperationTimeout(
            f"{service} cluster '{plan.cluster_name}': the planned {plan.method} change ({plan.description}) "
            f"takes {low:g} to {high:g} minutes by AWS's figures, more than the {max(left_minutes, 0):.0f} "
            "minutes left of the ServiceTimeout; nothing was started. Add a completion signal "
            "(CompletionSignalUrl with an AWS::CloudFormation::WaitConditionHandle, or "
            "long_operations=LongOperations() on the construct), or set WaitForCompletion to false."
        )


def with_plan(data: dict[str, str], steps: ClusterSteps) -> dict[str, str]:
    """``data`` with the kept plan's ``PlanMethod`` and ``PlanMinutes`` (when there is one)."""
    plan = steps.plan
    if plan:
        data["PlanMethod"] = str(plan["method"])
        data["PlanMinutes"] = f"{plan['minutes'][0]:g}-{plan['minutes'][1]:g}"
    return data
