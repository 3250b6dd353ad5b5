"""An operation's outcome and what it owes: the one CloudFormation answer (also an early one, and
the watchdog's) and the completion signal; what could not be delivered is tried again by a later check."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from dbscale.core.errors import DbscaleError, OperationTimeout

from .answer import clip_reason, failure_reason, send_cfn_response
from .resource import Progress
from .signal import SIGNAL_MARGIN_SECONDS, send_signal, signal_data
from .state import STATE_KEY, InvocationState, OutcomeRecord

LOG = logging.getLogger("dbscale")


class Outcome:
    """Records the operation's outcome and sends what it owes, at most one answer per invocation.

    ``still_running`` says whether this check's execution still runs (a superseded operation never
    answers or signals); it raises OperationStopped once it does not, and is False when it could
    not be read."""

    def __init__(self, shared: InvocationState, still_running: Callable[[], bool]) -> None:
        self.shared = shared
        self._still_running = still_running

    def end(self, progress: Progress | None, err: BaseException | None) -> None:
        """Record the operation's outcome (delivered by :meth:`deliver_now`)."""
        shared = self.shared
        if progress is not None:
            outcome = OutcomeRecord("SUCCESS", progress.physical_id, "", dict(progress.data))
        else:
            if err is not None and not isinstance(err, DbscaleError):
                LOG.error("unexpected error", exc_info=err)
            reason = failure_reason(err) if err is not None else "failed"
            outcome = OutcomeRecord("FAILED", shared.failure_physical_id(), reason)
        shared.state.outcome = outcome
        summary = {"result": outcome.status, "logical_id": shared.logical_id(), "reason": outcome.reason}
        LOG.info(json.dumps(summary))

    def deliver_now(self) -> bool:
        """Send what the outcome still owes (the answer, the signal); True when nothing is owed any more."""
        shared = self.shared
        state = shared.state
        outcome = state.outcome
        if shared.stopped:
            return True  # answered by the watchdog, or superseded: nothing more is sent
        if outcome is None:
            return False
        success = outcome.status == "SUCCESS"
        now = shared.clock.now()
        started = state.started
        if not state.answered:
            if now > started + state.timeout:
                LOG.error("CloudFormation's ServiceTimeout has passed: the answer can no longer be accepted")
                state.answered = True
            elif self.answer(outcome.status, outcome.physical_id, outcome.reason, outcome.data):
                state.answered = True
            else:
                return False
            if not success:
                return True  # a FAILED answer rolls the stack back: no wait condition waits any more
        signal = shared.signal
        if signal is None or state.signalled:
            return True
        if now > started + signal.timeout_seconds:
            LOG.error("the wait condition's timeout has passed: the signal can no longer be accepted")
            state.signalled = True
            return True
        if self._send_signal(success, outcome):
            state.signalled = True
            return True
        return False

    def answer_early(self, progress: Progress) -> bool:
        """Answer SUCCESS while the operation runs on (its outcome goes to the completion signal);
        whether the answer was delivered (if not, the next check answers again)."""
        shared = self.shared
        signal = shared.signal
        if signal is None:  # pragma: no cover - checked by the caller
            return False
        LOG.info(json.dumps({"result": "SUCCESS (operation continues)", "logical_id": shared.logical_id()}))
        if not self.answer("SUCCESS", progress.physical_id, "", {**progress.data, "InProgress": "true"}):
            return False
        shared.state.answered = True
        shared.state.deadline = shared.state.started + signal.timeout_seconds - SIGNAL_MARGIN_SECONDS
        return True

    def _send_signal(self, success: bool, outcome: OutcomeRecord) -> bool:
        shared = self.shared
        signal = shared.signal
        if signal is None:  # pragma: no cover
            return True
        if shared.execution_arn and not self._still_running():
            return False  # not known to be still wanted (a read failed): tried again at the next check
        LOG.info(json.dumps({"signal": "SUCCESS" if success else "FAILURE", "logical_id": shared.logical_id()}))
        return send_signal(
            signal,
            success=success,
            unique_id=outcome.physical_id,
            reason=outcome.reason or f"{outcome.physical_id}: done",
            data=signal_data(outcome.data, shared.resource.signal_attributes) if success else "",
            ssl_verify=shared.provider.ssl_verify,
            budget_seconds=shared.send_budget(),
            sleep=shared.clock.sleep,
        )

    def answer(self, status: str, physical_id: str, reason: str, data: dict[str, str]) -> bool:
        """Send one answer to the request's ResponseURL; whether nothing more is owed for it."""
        shared = self.shared
        url = shared.fields.get("ResponseURL")
        if not isinstance(url, str) or not url.startswith("https://"):
            LOG.error("no https ResponseURL to send %s to", status)
            return True  # nothing can ever be sent: not owed
        with shared.lock:
            if shared.answered_here:
                LOG.warning("this request was already answered in this invocation; not answering again")
                return True
            shared.answered_here = True
        if shared.execution_arn and not shared.stopped and not self._still_running():
            with shared.lock:
                shared.answered_here = False
            return False  # not known to be still wanted (a read failed): tried again at the next check
        body = {
            "Status": status,
            "PhysicalResourceId": str(physical_id),
            "StackId": shared.fields.get("StackId"),
            "RequestId": shared.fields.get("RequestId"),
            "LogicalResourceId": shared.fields.get("LogicalResourceId"),
            "Reason": clip_reason(reason or ""),
            "Data": {k: v for k, v in (data or {}).items() if k != STATE_KEY},
            "NoEcho": False,
        }
        sent = send_cfn_response(
            url, body, shared.provider.ssl_verify, budget_seconds=shared.send_budget(), sleep=shared.clock.sleep
        )
        if not sent:
            with shared.lock:
                shared.answered_here = False  # the execution tries again
        return sent

    def on_watchdog(self) -> None:
        """Just before the Lambda timeout: answer FAILED unless answered or handed over; no change after."""
        shared = self.shared
        with shared.lock:
            if shared.answered_here or shared.handing_over or shared.stopped or shared.state.answered:
                return
            shared.stopped = True  # from now on no AWS call that changes something leaves this invocation
        minutes = shared.lambda_left / 60
        err = OperationTimeout(
            f"The provider function was about to reach its timeout ({minutes:.1f} minutes) before the operation "
            "could be handed over to its execution; the operation may continue in AWS. Raise the function's "
            "timeout (dbscale's providers use 15 minutes) and retry the stack operation."
        )
        self.answer("FAILED", shared.failure_physical_id(), failure_reason(err), {})


def give_up_error(error: Any) -> DbscaleError:
    """The error of an operation whose checks kept failing (the state machine's GiveUp)."""
    detail = error if isinstance(error, dict) else {}
    name, cause = str(detail.get("Error") or "unknown"), str(detail.get("Cause") or "")
    return DbscaleError(
        f"The operation's checks kept failing ({name}: {clip_reason(cause, 600)}); see the provider function's "
        "logs and the execution's history. The operation may continue in AWS."
    )
