"""The Step Functions side of one invocation: find the request's execution, stop older requests'
executions, hand the operation over with its document, and stop acting once the execution is stopped."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from dbscale.core.aws import is_transient
from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest, OperationStopped, OperationTimeout

from .outcome import Outcome
from .state import InvocationState
from .workflow import (
    BACKOFF_SECONDS,
    INPUT_MARGIN_BYTES,
    INPUT_MAX_BYTES,
    STATE_MACHINE_ENV,
    Workflow,
    document_bytes,
    execution_name,
    operation_document,
    recorded_answer,
    resource_key,
    state_machine_arn,
)

LOG = logging.getLogger("dbscale")
T = TypeVar("T")

SUPERSEDE_SETTLE_SECONDS = 30.0
"""After stopping an older request's execution, a request waits this long before it acts (seconds):
an attempt the older check had already sent when the stop landed (at most a connect and a read
timeout, 20 s) has reached AWS by then, and it sends no other (it re-reads its execution's status
before every attempt of every change)."""
STOP_CHECK_SECONDS = 60.0
"""A check re-reads its execution's status at least this often (seconds), to stop soon once superseded."""


class Execution:
    """The request's Step Functions execution, as one invocation sees it."""

    def __init__(self, shared: InvocationState, outcome: Outcome) -> None:
        self.shared = shared
        self.outcome = outcome
        self._workflow: Workflow | None = None
        self._running_checked = 0.0

    def engine(self) -> Workflow | None:
        """The provider's state machine, or None outside Lambda without one."""
        if self._workflow is None:
            provider = self.shared.provider
            arn = provider.state_machine_arn or os.environ.get(STATE_MACHINE_ENV)
            if not arn:
                try:
                    arn = state_machine_arn(str(getattr(self.shared.context, "invoked_function_arn", "")))
                except ValueError:
                    return None  # run outside Lambda without a state machine: the first invocation is all
            self._workflow = Workflow(arn, provider.session)
        return self._workflow

    # --- the operation document ---------------------------------------------------------------

    def check_fits(self) -> None:
        """Refuse, before anything is made, a request whose document could not travel between checks."""
        shared = self.shared
        request = shared.request
        if request is None:  # pragma: no cover
            return
        document = operation_document(shared.fields, request.physical_id, request.properties, shared.state.to_dict())
        # States hold copies of some properties (pending settings, say): count the properties twice.
        size = document_bytes(document) + document_bytes({"p": request.properties})
        if size > INPUT_MAX_BYTES - INPUT_MARGIN_BYTES:
            raise InvalidRequest(
                f"the request's properties take {size:,} bytes as a long operation's state, over the "
                f"{INPUT_MAX_BYTES - INPUT_MARGIN_BYTES:,} bytes Step Functions' 256 KiB input limit leaves; "
                "shorten the longest property values (lists of ARNs, tags)",
                field="ResourceProperties",
            )

    def document(self, phase: str, wait_seconds: int = 0) -> dict[str, Any]:
        """The operation document with the next ``phase`` (what a check returns, what an execution starts with)."""
        shared = self.shared
        request = shared.request
        fields = dict(shared.fields)
        if shared.state.answered:
            fields["ResponseURL"] = ""  # answered: the presigned URL is not kept any longer
        physical = request.physical_id if request else None
        document = operation_document(fields, physical, request.properties if request else {}, shared.state.to_dict())
        document["phase"] = phase
        document["wait_seconds"] = int(wait_seconds)
        # The state machine reads these three in every document: on AWS a Choice or an OutputPath
        # on a field that is not there fails the execution (States.Runtime).
        document.update(outcome="", answer={}, answer_text="")
        outcome = shared.state.outcome
        if phase == "done" and outcome is not None:
            answer = {
                "Status": outcome.status,
                "PhysicalResourceId": outcome.physical_id,
                "Reason": outcome.reason,
                "Data": outcome.data,
            }
            document.update(outcome=outcome.status, answer=answer, answer_text=json.dumps(answer))
        if document_bytes(document) > INPUT_MAX_BYTES - INPUT_MARGIN_BYTES and phase != "done":
            # The state outgrew what check_fits allowed for: end the operation with a reason rather
            # than let Step Functions fail the execution unanswered (States.DataLimitExceeded).
            shared.state.outcome = None
            self.outcome.end(None, DbscaleError("the operation's state outgrew Step Functions' 256 KiB limit"))
            shared.state = shared.state.slim()
            return self.document("done" if self.outcome.deliver_now() else "wait", BACKOFF_SECONDS)
        return document

    # --- starting, finding and stopping executions ----------------------------------------------

    def hand_over(self) -> None:
        """Start the request's execution with the operation document (the execution carries on)."""
        shared = self.shared
        request = shared.request
        workflow = self.engine()
        if request is None:  # pragma: no cover
            return
        with shared.lock:
            if shared.stopped:
                return
            shared.handing_over = True
        try:
            if workflow is None:
                raise OperationTimeout(
                    f"{request.logical_id}: the operation outlasts this invocation and the provider has no state "
                    "machine to carry it (deploy the provider with dbscale's constructs, or set "
                    f"{STATE_MACHINE_ENV})"
                )
            name = execution_name(request.stack_id, request.logical_id, request.request_id)
            document = self.document("check")
            arn = self.retrying(lambda: workflow.start(name, document), keep=shared.reserve / 2)
            LOG.info(json.dumps({"execution": arn or "already started", "logical_id": request.logical_id}))
        except DbscaleError:
            with shared.lock:
                shared.handing_over = False
            raise

    def retrying(self, call: Callable[[], T], *, keep: float | None = None) -> T:
        """``call()``, again after a transient AWS error (throttled, 5xx) for as long as more than
        ``keep`` seconds of the invocation are left (default: the step reserve)."""
        shared = self.shared
        keep = shared.reserve if keep is None else keep
        while True:
            try:
                return call()
            except AwsError as err:
                if not is_transient(err) or shared.time_left() - shared.provider.poll_seconds <= keep:
                    raise
                LOG.warning("transient AWS error, retrying: %s", err.code)
                shared.clock.sleep(shared.provider.poll_seconds)

    def supersede(self, workflow: Workflow, own_name: str) -> None:
        """Stop the running executions of older requests for this physical resource."""
        shared = self.shared
        request = shared.request
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
            shared.state.hold_until = shared.clock.now() + SUPERSEDE_SETTLE_SECONDS

    def redelivered(self, described: dict[str, Any]) -> None:
        """A delivery of a request that has an execution: never act again; answer from its record."""
        shared = self.shared
        status = described.get("status")
        LOG.info(json.dumps({"redelivery": status, "logical_id": shared.logical_id()}))
        if status == "RUNNING":
            return  # the execution answers this very ResponseURL
        record = recorded_answer(described)
        if record is not None:
            self.outcome.answer(
                str(record["Status"]),
                str(record.get("PhysicalResourceId") or shared.failure_physical_id()),
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
            shared.state.physical_id = str(recorded_state["physical_id"])  # what a create in flight used
        self.outcome.answer(
            "FAILED",
            shared.failure_physical_id(),
            f"request {shared.fields.get('RequestId')} was stopped ({status}): a newer request for this resource "
            "took over, or an operator stopped its execution; nothing more was done for it",
            {},
        )

    # --- acting only while the execution runs ---------------------------------------------------

    def ensure_running(self, *, every: float) -> None:
        """Raise OperationStopped once this check's execution has been stopped (re-read every ``every`` s)."""
        shared = self.shared
        workflow = self.engine()
        if workflow is None or not shared.execution_arn:
            return
        now = shared.clock.now()
        if every and now - self._running_checked < every:
            return
        self._running_checked = now
        if not workflow.is_running(shared.execution_arn):
            with shared.lock:
                shared.stopped = True
            raise OperationStopped("this operation's execution was stopped (superseded by a newer request)")

    def still_running(self) -> bool:
        """Whether this check's execution still runs, read now: OperationStopped once it does not (a
        superseded operation never answers or signals), False when it could not be read."""
        try:
            self.ensure_running(every=0.0)
        except AwsError as err:
            LOG.warning("could not read this operation's execution (%s): not sending now", err.code)
            return False
        return True

    def guard(self, service: str, operation: str) -> None:
        """Before every AWS call that may change something (see guard_changes)."""
        if self.shared.stopped:
            raise OperationStopped(f"{service}:{operation} not sent: this invocation has answered already")
        if service == "sfn":
            return  # starting / stopping executions is the runtime's own bookkeeping
        self.ensure_running(every=0.0)
