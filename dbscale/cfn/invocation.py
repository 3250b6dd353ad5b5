"""One Lambda invocation of a provider: a CloudFormation delivery, or a check of a long operation
by its Step Functions execution (see :mod:`dbscale.cfn.runtime` for the guarantees).

A **delivery** reads and validates the request, refuses one whose operation document could not
travel through Step Functions, answers a re-delivery from its execution's record, stops the
executions of older requests for the same physical resource, then steps the resource for up to
:data:`~dbscale.cfn.workflow.CHECK_WINDOW_SECONDS`. Done: it answers (and signals). Not done,
or answered early with a completion signal: it starts the request's execution with the operation
document and returns.

A **check** (the execution's task) continues from the document: it steps, answers and signals,
and returns the document with the next ``phase``. It acts only while its execution runs.

The invocation loop is here; what it owes CloudFormation is :class:`~dbscale.cfn.outcome.Outcome`,
its Step Functions side :class:`~dbscale.cfn.execution.Execution`, and what they share
:class:`~dbscale.cfn.state.InvocationState`.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from dbscale.core.aws import guard_changes, is_transient
from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest, OperationStopped, OperationTimeout

from .answer import clip_reason
from .execution import STOP_CHECK_SECONDS, Execution
from .outcome import Outcome, give_up_error
from .request import Request
from .resource import Progress
from .schema import service_timeout_seconds
from .signal import SIGNAL_MARGIN_SECONDS, CompletionSignal, completion_signal
from .state import InvocationState, OperationState, StateError, new_state
from .workflow import (
    BACKOFF_SECONDS,
    CHECK_WINDOW_SECONDS,
    DENSE_CHECK_SECONDS,
    REQUEST_FIELDS,
    SPARSE_CHECK_SECONDS,
    execution_name,
    is_check,
)

if TYPE_CHECKING:
    from .runtime import Provider

LOG = logging.getLogger("dbscale")

WATCHDOG_RESERVE_SECONDS = 12.0
"""The watchdog answers this long before the Lambda timeout (seconds; at most a quarter of it)."""
DELIVERY_BACKOFF_SECONDS = (10, 30, 60, 120, 300)
"""Waits between the execution's attempts to deliver an answer or signal the endpoint refused (seconds)."""


class Invocation:
    """One Lambda invocation. Lives for the call only."""

    def __init__(self, provider: Provider, event: Any, context: Any) -> None:
        self.shared = InvocationState(provider, event, context)
        self.outcome = Outcome(self.shared, lambda: self.execution.still_running())
        self.execution = Execution(self.shared, self.outcome)

    @property
    def execution_arn(self) -> str | None:
        """The ARN of the execution this check runs in (None for a delivery)."""
        return self.shared.execution_arn

    @execution_arn.setter
    def execution_arn(self, arn: str | None) -> None:
        self.shared.execution_arn = arn

    def _guard(self, service: str, operation: str) -> None:
        """Before every AWS call that may change something (see guard_changes)."""
        self.execution.guard(service, operation)

    # --- entry --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any] | None:
        if is_check(self.shared.event):
            return self._run_check()
        self._run_delivery()
        return None

    def _run_delivery(self) -> None:
        shared = self.shared
        url = shared.event.get("ResponseURL")
        if not isinstance(url, str) or not url.startswith("https://"):
            LOG.error("event without an https ResponseURL: it cannot be answered, so nothing is done")
            return
        shared.fields = {k: shared.event.get(k) for k in REQUEST_FIELDS}
        self._log_start("delivery")
        watchdog = threading.Timer(
            max(0.0, shared.lambda_left - min(WATCHDOG_RESERVE_SECONDS, shared.lambda_left / 4)),
            self.outcome.on_watchdog,
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            with guard_changes(self._guard):
                self._deliver_request()
        except OperationStopped as err:
            LOG.info(json.dumps({"stopped": str(err), "logical_id": shared.logical_id()}))
        except Exception as err:  # every failure, expected or not, becomes one FAILED answer
            self.outcome.end(None, err)
            try:
                if not self.outcome.deliver_now() and shared.request is not None:
                    self.execution.hand_over()  # the endpoint refused the answer: the execution keeps trying
            except DbscaleError as late:
                LOG.error("could not hand the undelivered answer over: %s", late)
        finally:
            watchdog.cancel()

    def _deliver_request(self) -> None:
        shared, execution = self.shared, self.execution
        shared.request = request = Request.from_event(shared.event)
        shared.signal = self._signal_of(request)
        shared.state = self._new_state(request)
        execution.check_fits()
        shared.resource.check_request(request)  # a bad template fails here, before any AWS call
        workflow = execution.engine()
        if workflow is not None:
            name = execution_name(request.stack_id, request.logical_id, request.request_id)
            described = execution.retrying(lambda: workflow.describe(workflow.execution_arn(name)))
            if described is not None:
                execution.redelivered(described)
                return
            execution.retrying(lambda: execution.supersede(workflow, name))
        until = shared.started + min(CHECK_WINDOW_SECONDS, shared.lambda_left - shared.reserve)
        progress = self._drive(until, delivery=True)
        if progress is not None:
            self.outcome.end(progress, None)
            if self.outcome.deliver_now():
                return
        execution.hand_over()

    def _run_check(self) -> dict[str, Any]:
        shared, execution, outcome = self.shared, self.execution, self.outcome
        operation = shared.event.get("operation")
        if not isinstance(operation, dict):
            raise InvalidRequest("a check without its operation document")  # a broken definition: retried, then GiveUp
        shared.execution_arn = str(shared.event.get("execution") or "")
        fields = operation.get("request") or {}
        shared.fields = {k: fields.get(k) for k in REQUEST_FIELDS}
        shared.request = Request.from_event({**fields, "ResourceProperties": operation.get("properties") or {}})
        shared.signal = self._signal_of(shared.request)
        unreadable = self._load_state(operation.get("state"))
        self._log_start(str(shared.event.get("mode") or "check"))
        try:
            execution.ensure_running(every=0.0)
        except OperationStopped:
            return execution.document("done")  # stopped: whatever this check would do is not wanted any more
        except AwsError as err:
            LOG.warning("could not read this operation's execution (%s): checking again later", err.code)
            return execution.document("wait", BACKOFF_SECONDS)
        try:
            with guard_changes(self._guard):
                if unreadable is not None and not shared.state.outcome:
                    outcome.end(None, unreadable)
                elif shared.event.get("mode") == "give-up" and not shared.state.outcome:
                    outcome.end(None, give_up_error(operation.get("error")))
                elif not shared.state.outcome:
                    self._check_operation()
        except OperationStopped as err:
            LOG.info(json.dumps({"stopped": str(err), "logical_id": shared.logical_id()}))
            return execution.document("done")
        except Exception as err:
            outcome.end(None, err)
        if not shared.state.outcome:
            age = shared.clock.now() - shared.state.started
            if age >= DENSE_CHECK_SECONDS:
                left = shared.state.deadline - shared.clock.now()
                return execution.document("wait", int(max(1.0, min(SPARSE_CHECK_SECONDS, left))))
            return execution.document("check")
        try:
            if outcome.deliver_now():
                return execution.document("done")
        except OperationStopped:
            return execution.document("done")
        attempt = shared.state.delivery_attempts
        shared.state.delivery_attempts = attempt + 1
        return execution.document("wait", DELIVERY_BACKOFF_SECONDS[min(attempt, len(DELIVERY_BACKOFF_SECONDS) - 1)])

    def _load_state(self, saved: Any) -> StateError | None:
        """The check's state from its document; one this release cannot read becomes a new state
        (this invocation's start and the request's ServiceTimeout) and the error that ends the operation."""
        shared = self.shared
        try:
            shared.state = OperationState.from_dict(saved, shared.resource.state_type)
        except StateError as err:
            if shared.request is None:  # pragma: no cover - set by the caller
                raise
            shared.state = self._new_state(shared.request)
            physical = saved.get("physical_id") if isinstance(saved, dict) else None
            shared.state.physical_id = physical if isinstance(physical, str) and physical else None
            return err
        return None

    def _check_operation(self) -> None:
        shared = self.shared
        age = shared.clock.now() - shared.state.started
        window = min(CHECK_WINDOW_SECONDS, max(0.0, shared.lambda_left - shared.reserve))
        if age >= DENSE_CHECK_SECONDS:
            window = 0.0  # one check, then a Wait state: long operations are checked sparsely
        progress = self._drive(shared.started + window, delivery=False)
        if progress is not None:
            self.outcome.end(progress, None)

    # --- stepping -----------------------------------------------------------------------------

    def _new_state(self, request: Request) -> OperationState[Any]:
        try:
            timeout = service_timeout_seconds(request.properties)
        except InvalidRequest:
            if request.request_type != "Delete":
                raise
            timeout = 3600  # a Delete must not fail on the property that failed its Create
        return new_state(timeout, self.shared.clock.now(), self.shared.signal, self.shared.resource.state_type())

    def _drive(self, until: float, *, delivery: bool) -> Progress | None:
        """Step until done (the Progress) or until ``until`` (None: the execution carries on)."""
        shared = self.shared
        request = shared.request
        if request is None:  # pragma: no cover - set by both entry paths
            raise InvalidRequest("no request")
        progress: Progress | None = None
        while True:
            now = shared.clock.now()
            if now >= shared.state.deadline:
                # Checked before any step: past its deadline a check answers without another AWS call
                # (one that hung is what may have brought it here).
                raise OperationTimeout(self._timeout_reason(progress))
            hold = shared.state.hold_until
            if now < hold:
                # An older request's check may still have a change in flight: act after it lands.
                if hold > until:
                    return None
                shared.clock.sleep(hold - now)
                continue
            try:
                if not delivery:
                    self.execution.ensure_running(every=STOP_CHECK_SECONDS)
                progress = shared.resource.step(shared.provider, request, shared.state)
            except AwsError as err:
                if not is_transient(err):
                    raise
                # Throttled or a 5xx: the step is idempotent, so it is retried at the next check.
                LOG.warning("transient AWS error, retried at the next check: %s", err.code)
                shared.state.last_error = clip_reason(str(err), 300)
                progress = None
            if progress is not None and progress.done:
                return progress
            if progress is not None and progress.detail:
                shared.state.last_detail = clip_reason(progress.detail, 300)  # for a later timeout's Reason
            early = progress is not None and progress.answer_early and shared.signal is not None
            # Answered early: return at once, so that the document that says so is what the next
            # check starts from (a check retried after a crash re-runs its old input). A delivery
            # hands the operation to its execution here in any case.
            if (
                early
                and progress is not None
                and not shared.state.answered
                and (self.outcome.answer_early(progress) or delivery)
            ):
                return None
            now = shared.clock.now()
            if now >= shared.state.deadline:
                raise OperationTimeout(self._timeout_reason(progress))
            if now + shared.provider.poll_seconds > until:
                return None
            shared.clock.sleep(shared.provider.poll_seconds)

    def _timeout_reason(self, progress: Progress | None) -> str:
        shared = self.shared
        request = shared.request
        name = (progress.physical_id if progress else "") or (request.logical_id if request else "the resource")
        minutes = (shared.clock.now() - shared.state.started) / 60
        detail = (
            (progress.detail if progress else "") or shared.state.last_detail or shared.state.last_error or "unknown"
        )
        if shared.state.answered:
            return (
                f"{name} did not finish within {minutes:.0f} minutes, the CompletionSignalTimeout "
                f"({shared.state.signal_timeout} s) less {SIGNAL_MARGIN_SECONDS:.0f} s. Last state: {detail}. "
                "The operation "
                "continues in AWS: wait until the cluster is available, then retry the stack operation, or raise "
                "CompletionSignalTimeout (LongOperations(timeout=...), at most 12 hours)."
            )
        return (
            f"{request.request_type if request else 'Request'} of {name} did not finish within "
            f"{minutes:.0f} minutes and CloudFormation's ServiceTimeout ({shared.state.timeout} s) is near. "
            f"Last state: {detail}. The operation continues in AWS: wait until the cluster is available, then "
            "retry the stack operation (it picks up where AWS is), raise ServiceTimeout (max 3600 s), add a "
            "completion signal to wait up to 12 hours (CompletionSignalUrl with an "
            "AWS::CloudFormation::WaitConditionHandle, or long_operations=LongOperations() on the construct), "
            "or set WaitForCompletion to false."
        )

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _signal_of(request: Request) -> CompletionSignal | None:
        if request.request_type == "Delete":
            return None  # nothing waits for a Delete; its properties' handle belongs to the old resource
        return completion_signal(request.properties)

    def _log_start(self, kind: str) -> None:
        fields = self.shared.fields
        LOG.info(
            json.dumps(
                {
                    "request": fields.get("RequestType"),
                    "invocation": kind,
                    "resource_type": fields.get("ResourceType"),
                    "logical_id": fields.get("LogicalResourceId"),
                    "stack_id": fields.get("StackId"),
                    "request_id": fields.get("RequestId"),
                },
                default=str,
            )
        )
