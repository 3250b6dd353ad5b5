"""One Lambda invocation of a provider: a CloudFormation delivery, or a check of a long operation
by its Step Functions execution (see :mod:`dbscale.handlers.runtime` for the guarantees).

A **delivery** reads and validates the request, refuses one whose operation document could not
travel through Step Functions, answers a re-delivery from its execution's record, stops the
executions of older requests for the same physical resource, then steps the resource for up to
:data:`~dbscale.handlers.workflow.CHECK_WINDOW_SECONDS`. Done: it answers (and signals). Not done,
or answered early with a completion signal: it starts the request's execution with the operation
document and returns.

A **check** (the execution's task) continues from the document: it steps, answers and signals,
and returns the document with the next ``phase``. It acts only while its execution runs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dbscale.core.aws import guard_changes, is_transient
from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest, OperationStopped, OperationTimeout

from .response import clip_reason, send_cfn_response
from .runtime import (
    STATE_KEY,
    STEP_RESERVE_SECONDS,
    STOP_CHECK_SECONDS,
    SUPERSEDE_SETTLE_SECONDS,
    WATCHDOG_RESERVE_SECONDS,
    Progress,
    Provider,
    Request,
    failed_create_id,
    failure_reason,
)
from .signal import CompletionSignal, completion_signal, send_signal, signal_data
from .workflow import (
    BACKOFF_SECONDS,
    CHECK_WINDOW_SECONDS,
    DENSE_CHECK_SECONDS,
    INPUT_MARGIN_BYTES,
    INPUT_MAX_BYTES,
    REQUEST_FIELDS,
    SPARSE_CHECK_SECONDS,
    STATE_MACHINE_ENV,
    Workflow,
    document_bytes,
    execution_name,
    is_check,
    operation_document,
    recorded_answer,
    resource_key,
    state_machine_arn,
)

LOG = logging.getLogger("dbscale")
T = TypeVar("T")

STATE_VERSION = 3
DELIVERY_BACKOFF_SECONDS = (10, 30, 60, 120, 300)
"""Waits between the execution's attempts to deliver an answer or signal the endpoint refused (seconds)."""
SIGNAL_MARGIN_SECONDS = 120.0
"""An operation with a completion signal ends this long before the wait condition's timeout
(seconds): more than a sparse check's interval, so its FAILURE signal still lands in time."""
_SLIM_STATE = ("v", "started", "deadline", "timeout", "signal", "signal_timeout", "physical_id", "answered", "outcome")


class Invocation:
    """One Lambda invocation. Lives for the call only."""

    def __init__(self, provider: Provider, event: Any, context: Any) -> None:
        self.provider = provider
        self.resource = provider.resource
        self.clock = provider.clock
        self.event: dict[str, Any] = event if isinstance(event, dict) else {}
        self.context = context
        self.lambda_left = max(0.0, float(context.get_remaining_time_in_millis()) / 1000.0)
        self.started = self.clock.now()
        self.real_end = time.monotonic() + self.lambda_left
        self.reserve = min(STEP_RESERVE_SECONDS, 0.3 * self.lambda_left)
        self.request: Request | None = None
        self.fields: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.signal: CompletionSignal | None = None
        self.execution_arn: str | None = None
        self._workflow: Workflow | None = None
        self._lock = threading.Lock()
        self._answered_here = False  # this invocation sent (or tried to send) a CloudFormation answer
        self._stopped = False  # no further change may be made: answered by the watchdog, or superseded
        self._handing_over = False
        self._running_checked = 0.0

    # --- entry --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any] | None:
        if is_check(self.event):
            return self._run_check()
        self._run_delivery()
        return None

    def _run_delivery(self) -> None:
        url = self.event.get("ResponseURL")
        if not isinstance(url, str) or not url.startswith("https://"):
            LOG.error("event without an https ResponseURL: it cannot be answered, so nothing is done")
            return
        self.fields = {k: self.event.get(k) for k in REQUEST_FIELDS}
        self._log_start("delivery")
        watchdog = threading.Timer(
            max(0.0, self.lambda_left - min(WATCHDOG_RESERVE_SECONDS, self.lambda_left / 4)), self._on_watchdog
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            with guard_changes(self._guard):
                self._deliver_request()
        except OperationStopped as err:
            LOG.info(json.dumps({"stopped": str(err), "logical_id": self._logical_id()}))
        except Exception as err:  # every failure, expected or not, becomes one FAILED answer
            self._end(None, err)
            try:
                if not self._deliver_now() and self.request is not None:
                    self._hand_over()  # the endpoint refused the answer: the execution keeps trying
            except DbscaleError as late:
                LOG.error("could not hand the undelivered answer over: %s", late)
        finally:
            watchdog.cancel()

    def _deliver_request(self) -> None:
        self.request = request = Request.from_event(self.event)
        self.signal = self._signal_of(request)
        self.state = self._new_state(request)
        self._check_fits()
        self.resource.check_request(request)  # a bad template fails here, before any AWS call
        workflow = self._engine()
        if workflow is not None:
            name = execution_name(request.stack_id, request.logical_id, request.request_id)
            described = self._retrying(lambda: workflow.describe(workflow.execution_arn(name)))
            if described is not None:
                self._redelivered(described)
                return
            self._retrying(lambda: self._supersede(workflow, name))
        until = self.started + min(CHECK_WINDOW_SECONDS, self.lambda_left - self.reserve)
        progress = self._drive(until, delivery=True)
        if progress is not None:
            self._end(progress, None)
            if self._deliver_now():
                return
        self._hand_over()

    def _run_check(self) -> dict[str, Any]:
        operation = self.event.get("operation")
        if not isinstance(operation, dict):
            raise InvalidRequest("a check without its operation document")  # a broken definition: retried, then GiveUp
        self.execution_arn = str(self.event.get("execution") or "")
        fields = operation.get("request") or {}
        self.fields = {k: fields.get(k) for k in REQUEST_FIELDS}
        self.request = Request.from_event({**fields, "ResourceProperties": operation.get("properties") or {}})
        self.state = dict(operation.get("state") or {})
        self.signal = self._signal_of(self.request)
        self._log_start(str(self.event.get("mode") or "check"))
        try:
            self._ensure_running(every=0.0)
        except OperationStopped:
            return self._document("done")  # stopped: whatever this check would do is not wanted any more
        except AwsError as err:
            LOG.warning("could not read this operation's execution (%s): checking again later", err.code)
            return self._document("wait", BACKOFF_SECONDS)
        try:
            with guard_changes(self._guard):
                if self.event.get("mode") == "give-up" and not self.state.get("outcome"):
                    self._end(None, self._give_up_error(operation.get("error")))
                elif not self.state.get("outcome"):
                    self._check_operation()
        except OperationStopped as err:
            LOG.info(json.dumps({"stopped": str(err), "logical_id": self._logical_id()}))
            return self._document("done")
        except Exception as err:
            self._end(None, err)
        if not self.state.get("outcome"):
            age = self.clock.now() - float(self.state.get("started", self.started))
            if age >= DENSE_CHECK_SECONDS:
                left = float(self.state["deadline"]) - self.clock.now()
                return self._document("wait", int(max(1.0, min(SPARSE_CHECK_SECONDS, left))))
            return self._document("check")
        try:
            if self._deliver_now():
                return self._document("done")
        except OperationStopped:
            return self._document("done")
        attempt = int(self.state.get("delivery_attempts", 0))
        self.state["delivery_attempts"] = attempt + 1
        return self._document("wait", DELIVERY_BACKOFF_SECONDS[min(attempt, len(DELIVERY_BACKOFF_SECONDS) - 1)])

    def _check_operation(self) -> None:
        age = self.clock.now() - float(self.state.get("started", self.started))
        window = min(CHECK_WINDOW_SECONDS, max(0.0, self.lambda_left - self.reserve))
        if age >= DENSE_CHECK_SECONDS:
            window = 0.0  # one check, then a Wait state: long operations are checked sparsely
        progress = self._drive(self.started + window, delivery=False)
        if progress is not None:
            self._end(progress, None)

    # --- stepping -----------------------------------------------------------------------------

    def _new_state(self, request: Request) -> dict[str, Any]:
        from .properties import service_timeout_seconds

        try:
            timeout = service_timeout_seconds(request.properties)
        except InvalidRequest:
            if request.request_type != "Delete":
                raise
            timeout = 3600  # a Delete must not fail on the property that failed its Create
        now = self.clock.now()
        # Answer before CloudFormation gives up, with some slack for the answer itself.
        margin = min(90.0, max(10.0, timeout * 0.25))
        state: dict[str, Any] = {
            "v": STATE_VERSION,
            "started": now,
            "deadline": now + timeout - margin,
            "timeout": timeout,
            "signal": self.signal is not None,
        }
        if self.signal is not None:
            state["signal_timeout"] = self.signal.timeout_seconds
        return state

    def _drive(self, until: float, *, delivery: bool) -> Progress | None:
        """Step until done (the Progress) or until ``until`` (None: the execution carries on)."""
        request = self.request
        if request is None:  # pragma: no cover - set by both entry paths
            raise InvalidRequest("no request")
        progress: Progress | None = None
        while True:
            now = self.clock.now()
            if now >= float(self.state["deadline"]):
                # Checked before any step: past its deadline a check answers without another AWS call
                # (one that hung is what may have brought it here).
                raise OperationTimeout(self._timeout_reason(progress))
            hold = float(self.state.get("hold_until", 0.0))
            if now < hold:
                # An older request's check may still have a change in flight: act after it lands.
                if hold > until:
                    return None
                self.clock.sleep(hold - now)
                continue
            try:
                if not delivery:
                    self._ensure_running(every=STOP_CHECK_SECONDS)
                progress = self.resource.step(self.provider, request, self.state)
            except AwsError as err:
                if not is_transient(err):
                    raise
                # Throttled or a 5xx: the step is idempotent, so it is retried at the next check.
                LOG.warning("transient AWS error, retried at the next check: %s", err.code)
                self.state["last_error"] = clip_reason(str(err), 300)
                progress = None
            if progress is not None and progress.done:
                return progress
            if progress is not None and progress.detail:
                self.state["last_detail"] = clip_reason(progress.detail, 300)  # for a later timeout's Reason
            early = progress is not None and progress.answer_early and self.signal is not None
            # Answered early: return at once, so that the document that says so is what the next
            # check starts from (a check retried after a crash re-runs its old input). A delivery
            # hands the operation to its execution here in any case.
            if (
                early
                and progress is not None
                and not self.state.get("answered")
                and (self._answer_early(progress) or delivery)
            ):
                return None
            now = self.clock.now()
            if now >= float(self.state["deadline"]):
                raise OperationTimeout(self._timeout_reason(progress))
            if now + self.provider.poll_seconds > until:
                return None
            self.clock.sleep(self.provider.poll_seconds)

    def _timeout_reason(self, progress: Progress | None) -> str:
        request = self.request
        name = (progress.physical_id if progress else "") or (request.logical_id if request else "the resource")
        minutes = (self.clock.now() - float(self.state["started"])) / 60
        detail = (
            (progress.detail if progress else "")
            or self.state.get("last_detail")
            or self.state.get("last_error")
            or "unknown"
        )
        if self.state.get("answered"):
            return (
                f"{name} did not finish within {minutes:.0f} minutes, the CompletionSignalTimeout "
                f"({self.state.get('signal_timeout')} s) less {SIGNAL_MARGIN_SECONDS:.0f} s. Last state: {detail}. "
                "The operation "
                "continues in AWS: wait until the cluster is available, then retry the stack operation, or raise "
                "CompletionSignalTimeout (LongOperations(timeout=...), at most 12 hours)."
            )
        return (
            f"{request.request_type if request else 'Request'} of {name} did not finish within "
            f"{minutes:.0f} minutes and CloudFormation's ServiceTimeout ({self.state['timeout']} s) is near. "
            f"Last state: {detail}. The operation continues in AWS: wait until the cluster is available, then "
            "retry the stack operation (it picks up where AWS is), raise ServiceTimeout (max 3600 s), add a "
            "completion signal to wait up to 12 hours (CompletionSignalUrl with an "
            "AWS::CloudFormation::WaitConditionHandle, or long_operations=LongOperations() on the construct), "
            "or set WaitForCompletion to false."
        )

    # --- Step Functions ------------------------------------------------------------------------

    def _engine(self) -> Workflow | None:
        if self._workflow is None:
            arn = self.provider.state_machine_arn or os.environ.get(STATE_MACHINE_ENV)
            if not arn:
                try:
                    arn = state_machine_arn(str(getattr(self.context, "invoked_function_arn", "")))
                except ValueError:
                    return None  # run outside Lambda without a state machine: the first invocation is all
            self._workflow = Workflow(arn, self.provider.session)
        return self._workflow

    def _check_fits(self) -> None:
        """Refuse, before anything is made, a request whose document could not travel between checks."""
        request = self.request
        if request is None:  # pragma: no cover
            return
        document = operation_document(self.fields, request.physical_id, request.properties, self.state)
        # States hold copies of some properties (pending settings, say): count the properties twice.
        size = document_bytes(document) + document_bytes({"p": request.properties})
        if size > INPUT_MAX_BYTES - INPUT_MARGIN_BYTES:
            raise InvalidRequest(
                f"the request's properties take {size:,} bytes as a long operation's state, over the "
                f"{INPUT_MAX_BYTES - INPUT_MARGIN_BYTES:,} bytes Step Functions' 256 KiB input limit leaves; "
                "shorten the longest property values (lists of ARNs, tags)",
                field="ResourceProperties",
            )

    def _document(self, phase: str, wait_seconds: int = 0) -> dict[str, Any]:
        request = self.request
        fields = dict(self.fields)
        if self.state.get("answered"):
            fields["ResponseURL"] = ""  # answered: the presigned URL is not kept any longer
        physical = request.physical_id if request else None
        document = operation_document(fields, physical, request.properties if request else {}, self.state)
        document["phase"] = phase
        document["wait_seconds"] = int(wait_seconds)
        # The state machine reads these three in every document: on AWS a Choice or an OutputPath
        # on a field that is not there fails the execution (States.Runtime).
        document.update(outcome="", answer={}, answer_text="")
        outcome = self.state.get("outcome")
        if phase == "done" and isinstance(outcome, dict):
            answer = {
                "Status": outcome["status"],
                "PhysicalResourceId": outcome["physical_id"],
                "Reason": outcome.get("reason", ""),
                "Data": outcome.get("data", {}),
            }
            document.update(outcome=outcome["status"], answer=answer, answer_text=json.dumps(answer))
        if document_bytes(document) > INPUT_MAX_BYTES - INPUT_MARGIN_BYTES and phase != "done":
            # The state outgrew what _check_fits allowed for: end the operation with a reason rather
            # than let Step Functions fail the execution unanswered (States.DataLimitExceeded).
            self.state.pop("outcome", None)
            self._end(None, DbscaleError("the operation's state outgrew Step Functions' 256 KiB limit"))
            slim = {k: v for k, v in self.state.items() if k in _SLIM_STATE}
            self.state = slim
            return self._document("done" if self._deliver_now() else "wait", BACKOFF_SECONDS)
        return document

    def _hand_over(self) -> None:
        request = self.request
        workflow = self._engine()
        if request is None:  # pragma: no cover
            return
        with self._lock:
            if self._stopped:
                return
            self._handing_over = True
        try:
            if workflow is None:
                raise OperationTimeout(
                    f"{request.logical_id}: the operation outlasts this invocation and the provider has no state "
                    "machine to carry it (deploy the provider with dbscale's constructs, or set "
                    f"{STATE_MACHINE_ENV})"
                )
            name = execution_name(request.stack_id, request.logical_id, request.request_id)
            document = self._document("check")
            arn = self._retrying(lambda: workflow.start(name, document), keep=self.reserve / 2)
            LOG.info(json.dumps({"execution": arn or "already started", "logical_id": request.logical_id}))
        except DbscaleError:
            with self._lock:
                self._handing_over = False
            raise

    def _retrying(self, call: Callable[[], T], *, keep: float | None = None) -> T:
        """``call()``, again after a transient AWS error (throttled, 5xx) for as long as more than
        ``keep`` seconds of the invocation are left (default: the step reserve)."""
        keep = self.reserve if keep is None else keep
        while True:
            try:
                return call()
            except AwsError as err:
                if not is_transient(err) or self._time_left() - self.provider.poll_seconds <= keep:
                    raise
                LOG.warning("transient AWS error, retrying: %s", err.code)
                self.clock.sleep(self.provider.poll_seconds)

    def _supersede(self, workflow: Workflow, own_name: str) -> None:
        """Stop the running executions of older requests for this physical resource."""
        request = self.request
        if request is None or not request.physical_id:
            return  # a Create supersedes nothing: its resource is new
        stopped = []
        for execution in workflow.running(resource_key(request.stack_id, request.logical_id)):
            if execution.get("name") == own_name:
                continue
            arn = str(execution["executionArn"])
            described = workflow.describe(arn) or {}
            try:
                document = json.loads(described.get("input") or "{}")
            except ValueError:
                document = {}
            older_state = document.get("state") if isinstance(document.get("state"), dict) else {}
            older_request = document.get("request") if isinstance(document.get("request"), dict) else {}
            older_id = older_state.get("physical_id") or older_request.get("PhysicalResourceId")
            if older_id != request.physical_id:
                continue  # another physical resource's operation (a replacement being made): not ours to end
            workflow.stop(arn, f"superseded by {request.request_type} request {request.request_id}")
            stopped.append(older_request.get("RequestId"))
        if stopped:
            LOG.info(json.dumps({"superseded": stopped, "logical_id": request.logical_id, "by": request.request_id}))
            self.state["hold_until"] = self.clock.now() + SUPERSEDE_SETTLE_SECONDS

    def _redelivered(self, described: dict[str, Any]) -> None:
        """A delivery of a request that has an execution: never act again; answer from its record."""
        status = described.get("status")
        LOG.info(json.dumps({"redelivery": status, "logical_id": self._logical_id()}))
        if status == "RUNNING":
            return  # the execution answers this very ResponseURL
        record = recorded_answer(described)
        if record is not None:
            self._answer(
                str(record["Status"]),
                str(record.get("PhysicalResourceId") or self._failure_physical_id()),
                str(record.get("Reason") or ""),
                dict(record.get("Data") or {}),
            )
            return
        try:
            recorded = json.loads(described.get("input") or "{}")
        except ValueError:
            recorded = {}
        recorded_state = recorded.get("state") if isinstance(recorded.get("state"), dict) else {}
        if recorded_state.get("physical_id"):
            self.state["physical_id"] = recorded_state["physical_id"]  # what a create in flight used
        self._answer(
            "FAILED",
            self._failure_physical_id(),
            f"request {self.fields.get('RequestId')} was stopped ({status}): a newer request for this resource "
            "took over, or an operator stopped its execution; nothing more was done for it",
            {},
        )

    def _ensure_running(self, *, every: float) -> None:
        """Raise OperationStopped once this check's execution has been stopped (re-read every ``every`` s)."""
        workflow = self._engine()
        if workflow is None or not self.execution_arn:
            return
        now = self.clock.now()
        if every and now - self._running_checked < every:
            return
        self._running_checked = now
        if not workflow.is_running(self.execution_arn):
            with self._lock:
                self._stopped = True
            raise OperationStopped("this operation's execution was stopped (superseded by a newer request)")

    def _still_running(self) -> bool:
        """Whether this check's execution still runs, read now: OperationStopped once it does not (a
        superseded operation never answers or signals), False when it could not be read."""
        try:
            self._ensure_running(every=0.0)
        except AwsError as err:
            LOG.warning("could not read this operation's execution (%s): not sending now", err.code)
            return False
        return True

    def _guard(self, service: str, operation: str) -> None:
        """Before every AWS call that may change something (see guard_changes)."""
        if self._stopped:
            raise OperationStopped(f"{service}:{operation} not sent: this invocation has answered already")
        if service == "sfn":
            return  # starting / stopping executions is the runtime's own bookkeeping
        self._ensure_running(every=0.0)

    # --- outcome and answers ---------------------------------------------------------------------

    def _signal_of(self, request: Request) -> CompletionSignal | None:
        if request.request_type == "Delete":
            return None  # nothing waits for a Delete; its properties' handle belongs to the old resource
        return completion_signal(request.properties)

    def _end(self, progress: Progress | None, err: BaseException | None) -> None:
        """Record the operation's outcome (delivered by :meth:`_deliver_now`)."""
        if progress is not None:
            outcome = {"status": "SUCCESS", "physical_id": progress.physical_id, "reason": "", "data": progress.data}
        else:
            if err is not None and not isinstance(err, DbscaleError):
                LOG.error("unexpected error", exc_info=err)
            reason = failure_reason(err) if err is not None else "failed"
            outcome = {"status": "FAILED", "physical_id": self._failure_physical_id(), "reason": reason, "data": {}}
        self.state["outcome"] = outcome
        summary = {"result": outcome["status"], "logical_id": self._logical_id(), "reason": outcome["reason"]}
        LOG.info(json.dumps(summary))

    def _deliver_now(self) -> bool:
        """Send what the outcome still owes (the answer, the signal); True when nothing is owed any more."""
        outcome = self.state.get("outcome")
        if self._stopped:
            return True  # answered by the watchdog, or superseded: nothing more is sent
        if not isinstance(outcome, dict):
            return False
        success = outcome["status"] == "SUCCESS"
        now = self.clock.now()
        started = float(self.state.get("started", self.started))
        if not self.state.get("answered"):
            if now > started + float(self.state.get("timeout", 3600)):
                LOG.error("CloudFormation's ServiceTimeout has passed: the answer can no longer be accepted")
                self.state["answered"] = True
            elif self._answer(outcome["status"], outcome["physical_id"], outcome["reason"], outcome["data"]):
                self.state["answered"] = True
            else:
                return False
            if not success:
                return True  # a FAILED answer rolls the stack back: no wait condition waits any more
        signal = self.signal
        if signal is None or self.state.get("signalled"):
            return True
        if now > started + signal.timeout_seconds:
            LOG.error("the wait condition's timeout has passed: the signal can no longer be accepted")
            self.state["signalled"] = True
            return True
        if self._send_signal(success, outcome):
            self.state["signalled"] = True
            return True
        return False

    def _answer_early(self, progress: Progress) -> bool:
        """Answer SUCCESS while the operation runs on (its outcome goes to the completion signal);
        whether the answer was delivered (if not, the next check answers again)."""
        signal = self.signal
        if signal is None:  # pragma: no cover - checked by the caller
            return False
        LOG.info(json.dumps({"result": "SUCCESS (operation continues)", "logical_id": self._logical_id()}))
        if not self._answer("SUCCESS", progress.physical_id, "", {**progress.data, "InProgress": "true"}):
            return False
        self.state["answered"] = True
        self.state["deadline"] = float(self.state["started"]) + signal.timeout_seconds - SIGNAL_MARGIN_SECONDS
        return True

    def _send_signal(self, success: bool, outcome: dict[str, Any]) -> bool:
        signal = self.signal
        if signal is None:  # pragma: no cover
            return True
        if self.execution_arn and not self._still_running():
            return False  # not known to be still wanted (a read failed): tried again at the next check
        LOG.info(json.dumps({"signal": "SUCCESS" if success else "FAILURE", "logical_id": self._logical_id()}))
        return send_signal(
            signal,
            success=success,
            unique_id=str(outcome["physical_id"]),
            reason=outcome["reason"] or f"{outcome['physical_id']}: done",
            data=signal_data(outcome["data"], self.resource.signal_attributes) if success else "",
            ssl_verify=self.provider.ssl_verify,
            budget_seconds=self._send_budget(),
            sleep=self.clock.sleep,
        )

    def _answer(self, status: str, physical_id: str, reason: str, data: dict[str, str]) -> bool:
        url = self.fields.get("ResponseURL")
        if not isinstance(url, str) or not url.startswith("https://"):
            LOG.error("no https ResponseURL to send %s to", status)
            return True  # nothing can ever be sent: not owed
        with self._lock:
            if self._answered_here:
                LOG.warning("this request was already answered in this invocation; not answering again")
                return True
            self._answered_here = True
        if self.execution_arn and not self._stopped and not self._still_running():
            with self._lock:
                self._answered_here = False
            return False  # not known to be still wanted (a read failed): tried again at the next check
        body = {
            "Status": status,
            "PhysicalResourceId": str(physical_id),
            "StackId": self.fields.get("StackId"),
            "RequestId": self.fields.get("RequestId"),
            "LogicalResourceId": self.fields.get("LogicalResourceId"),
            "Reason": clip_reason(reason or ""),
            "Data": {k: v for k, v in (data or {}).items() if k != STATE_KEY},
            "NoEcho": False,
        }
        sent = send_cfn_response(
            url, body, self.provider.ssl_verify, budget_seconds=self._send_budget(), sleep=self.clock.sleep
        )
        if not sent:
            with self._lock:
                self._answered_here = False  # the execution tries again
        return sent

    def _send_budget(self) -> float:
        return max(1.0, min(25.0, self.real_end - time.monotonic() - 1.0))

    def _time_left(self) -> float:
        return self.lambda_left - (self.clock.now() - self.started)

    def _on_watchdog(self) -> None:
        with self._lock:
            if self._answered_here or self._handing_over or self._stopped or self.state.get("answered"):
                return
            self._stopped = True  # from now on no AWS call that changes something leaves this invocation
        minutes = self.lambda_left / 60
        err = OperationTimeout(
            f"The provider function was about to reach its timeout ({minutes:.1f} minutes) before the operation "
            "could be handed over to its execution; the operation may continue in AWS. Raise the function's "
            "timeout (dbscale's providers use 15 minutes) and retry the stack operation."
        )
        self._answer("FAILED", self._failure_physical_id(), failure_reason(err), {})

    @staticmethod
    def _give_up_error(error: Any) -> DbscaleError:
        detail = error if isinstance(error, dict) else {}
        name, cause = str(detail.get("Error") or "unknown"), str(detail.get("Cause") or "")
        return DbscaleError(
            f"The operation's checks kept failing ({name}: {clip_reason(cause, 600)}); see the provider function's "
            "logs and the execution's history. The operation may continue in AWS."
        )

    # --- helpers ------------------------------------------------------------------------------

    def _log_start(self, kind: str) -> None:
        LOG.info(
            json.dumps(
                {
                    "request": self.fields.get("RequestType"),
                    "invocation": kind,
                    "resource_type": self.fields.get("ResourceType"),
                    "logical_id": self.fields.get("LogicalResourceId"),
                    "stack_id": self.fields.get("StackId"),
                    "request_id": self.fields.get("RequestId"),
                },
                default=str,
            )
        )

    def _logical_id(self) -> str | None:
        return self.request.logical_id if self.request else self.fields.get("LogicalResourceId")

    def _failure_physical_id(self) -> str:
        # A resource that may have created something has recorded its id: the rollback Delete
        # then removes it. One that made nothing answers a marker the Delete recognizes.
        if self.state.get("physical_id"):
            return str(self.state["physical_id"])
        request = self.request
        if request is not None and request.physical_id:
            return request.physical_id
        physical = self.event.get("PhysicalResourceId")
        if isinstance(physical, str) and physical:
            return physical
        return failed_create_id(str(self.fields.get("RequestId") or "unknown"))
