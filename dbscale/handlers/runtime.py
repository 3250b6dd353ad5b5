"""The handler runtime: every custom resource type keeps CloudFormation's contract through this one layer.

What it guarantees, and how:

* **One answer per delivery, on its own ResponseURL.** Each Lambda invocation gets a fresh
  :class:`_Invocation`; nothing of one invocation (URL, status, state) reaches the next. The answer
  is sent at most once (a lock), with bounded retries and a bounded total time
  (:mod:`dbscale.handlers.response`). An event without a usable ResponseURL cannot be answered and
  is logged; one with an unknown ``RequestType`` (``delete`` in lower case included) is FAILED.
* **The right PhysicalResourceId.** Once a create may have been sent, the resource records the
  cluster's identifier in its state before calling AWS, and every FAILED answer from then on,
  the watchdog's included, carries it: CloudFormation's rollback Delete then finds the cluster.
  A Create that made nothing answers a marker id the Delete recognizes.
* **Bounded time.** AWS calls are bounded (connect/read timeouts, attempts); no new step starts
  when less than a step's worst case is left; a watchdog answers FAILED (with the right id) just
  before the Lambda timeout if the invocation has neither answered nor handed over.
* **Polling without a blind spot.** An operation that outlasts the invocation is handed to an
  EventBridge rule created about a minute *before* the in-process checks end
  (:mod:`dbscale.handlers.polling`); each poll invocation takes a lease on the rule's state and
  checks until shortly before its own timeout; the next firing waits for the lease to end and
  takes over, so exactly one invocation checks at a time and completion is seen within seconds.
* **No secrets in logs.** The raw event is never logged, and library loggers (botocore, boto3,
  urllib3, crhelper) are capped at WARNING even when the function's environment sets DEBUG.
* **One error mapping**: :func:`failure_reason` turns :class:`~dbscale.core.errors.DbscaleError`
  into a FAILED Reason a human can act on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbscale.core.clock import SYSTEM_CLOCK, Clock
from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest, OperationTimeout

from .polling import (
    POLL_RULE_PREFIX,
    REQUEST_FIELDS,
    RULE_PERIOD_SECONDS,
    PollRule,
    is_envelope,
    make_envelope,
    poll_name,
)
from .response import clip_reason, send_cfn_response
from .signal import SIGNAL_URL_PROPERTY, CompletionSignal, completion_signal, send_signal, signal_data

if TYPE_CHECKING:
    import boto3

LOG = logging.getLogger("dbscale")
LOG.addHandler(logging.NullHandler())

POLL_SECONDS = 5.0
"""How often an invocation re-checks a running operation (seconds)."""
STEP_RESERVE_SECONDS = 120.0
"""No step starts when less Lambda time than this is left (seconds; at most 30% of the invocation):
room for the slowest bounded step, saving the poll state and answering."""
WATCHDOG_RESERVE_SECONDS = 12.0
"""The watchdog answers this long before the Lambda timeout (seconds; at most a quarter of it)."""
LEASE_GUARD_SECONDS = 1.0
"""A poll starts checking this long after the previous lease ended (clock skew between containers)."""
CALL_CONNECT_TIMEOUT, CALL_READ_TIMEOUT, CALL_ATTEMPTS = 5.0, 15.0, 4
"""AWS call bounds inside an invocation: at most ~85 s per call, retries and backoff included."""
CAPPED_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "crhelper")
"""Library loggers that print credentials, the raw event or presigned URLs at DEBUG."""
REQUEST_TYPES = ("Create", "Update", "Delete")
STATE_KEY = "_dbscale"
_FAILED_MARKER = "DBSCALE-NOT-CREATED-"
_FIRST_INVOCATION_ONLY = ("Tags",)


@dataclass(frozen=True)
class Request:
    """The parts of a CloudFormation custom resource event the resources use."""

    request_type: str
    stack_id: str
    request_id: str
    logical_id: str
    resource_type: str
    physical_id: str | None
    properties: dict[str, Any]
    old_properties: dict[str, Any] | None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        """Read an event strictly: InvalidRequest names the first field that is missing or wrong."""
        for name in ("StackId", "RequestId", "LogicalResourceId"):
            if not isinstance(event.get(name), str) or not event[name]:
                raise InvalidRequest(f"the event has no {name}", field=name)
        request_type = event.get("RequestType")
        if request_type not in REQUEST_TYPES:
            raise InvalidRequest(
                f"RequestType {request_type!r} is not one of {', '.join(REQUEST_TYPES)}", field="RequestType"
            )
        physical_id = event.get("PhysicalResourceId")
        properties = event.get("ResourceProperties")
        old = event.get("OldResourceProperties")
        if physical_id is not None and not isinstance(physical_id, str):
            raise InvalidRequest("PhysicalResourceId must be a string", field="PhysicalResourceId")
        if properties is not None and not isinstance(properties, dict):
            raise InvalidRequest("ResourceProperties must be an object", field="ResourceProperties")
        if old is not None and not isinstance(old, dict):
            raise InvalidRequest("OldResourceProperties must be an object", field="OldResourceProperties")
        return cls(
            request_type=request_type,
            stack_id=event["StackId"],
            request_id=event["RequestId"],
            logical_id=event["LogicalResourceId"],
            resource_type=str(event.get("ResourceType") or ""),
            physical_id=physical_id,
            properties=dict(properties or {}),
            old_properties=old,
        )

    @property
    def failed_create_id(self) -> str:
        """The PhysicalResourceId of a Create that made nothing: never a valid cluster identifier."""
        return failed_create_id(self.request_id)


def failed_create_id(request_id: str) -> str:
    """The marker PhysicalResourceId of request ``request_id`` when it made nothing."""
    return _FAILED_MARKER + hashlib.sha256(request_id.encode()).hexdigest()[:16]


@dataclass
class Progress:
    """A resource step's answer: ``done`` with the attributes, or still running."""

    physical_id: str
    done: bool
    data: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    answer_early: bool = False
    """Not done, but AWS accepted the change: with a completion signal, answer SUCCESS now with
    ``data`` and signal the outcome later (without one, the runtime keeps waiting)."""


def failure_reason(err: BaseException) -> str:
    """The FAILED Reason for an exception: the one place errors become sentences for CloudFormation."""
    if isinstance(err, InvalidRequest):
        text = f"Invalid property {err.field}: {err}" if err.field else f"Invalid request: {err}"
    elif isinstance(err, AwsError):
        text = f"AWS error {err.code}: {err}"
    elif isinstance(err, DbscaleError):  # the core's messages already say what to do
        text = str(err)
    else:
        text = (
            f"Internal error in the dbscale provider ({type(err).__name__}: {err}); "
            "see the provider function's CloudWatch logs"
        )
    return clip_reason(text)


class ResourceType:
    """What a custom resource type implements; the :class:`Provider` does the rest."""

    resource_type = "Custom::Unknown"
    signal_attributes: tuple[str, ...] = ()
    """The attributes a completion signal's Data carries, in this order (see :mod:`.signal`)."""
    first_invocation_only: tuple[str, ...] = _FIRST_INVOCATION_ONLY
    """Properties only the first invocation of a request reads; polls do without them, which keeps
    the poll state under EventBridge's limit."""

    def step(self, provider: Provider, request: Request, state: dict[str, Any]) -> Progress:
        """Make as much progress as possible without waiting; keep what must survive in ``state``.

        Before a call that may create a resource, set ``state["physical_id"]`` to its identifier."""
        raise NotImplementedError


class Provider:
    """A Lambda entry point for one resource type: ``handler = Provider(MyType()).handle``.

    ``session``, ``clock``, ``ssl_verify`` and ``poll_seconds`` can be replaced (tests, private CAs).
    """

    def __init__(self, resource: ResourceType) -> None:
        self.resource = resource
        self.session: boto3.Session | None = None
        self.clock: Clock = SYSTEM_CLOCK
        self.ssl_verify: bool | str | None = None
        self.poll_seconds = POLL_SECONDS

    def handle(self, event: dict[str, Any], context: Any) -> None:
        """The Lambda handler."""
        cap_library_loggers()
        from dbscale.core.aws import limit_call_time

        limit_call_time(
            connect_timeout=CALL_CONNECT_TIMEOUT, read_timeout=CALL_READ_TIMEOUT, total_max_attempts=CALL_ATTEMPTS
        )
        _Invocation(self, event, context).run()


def cap_library_loggers() -> None:
    """Keep libraries that log secrets at DEBUG at WARNING, whatever the root logger's level."""
    for name in CAPPED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


class _Invocation:
    """One Lambda invocation: a CloudFormation delivery or a poll of one. Lives for the call only."""

    def __init__(self, provider: Provider, event: dict[str, Any], context: Any) -> None:
        self.provider = provider
        self.resource = provider.resource
        self.clock = provider.clock
        self.event = event if isinstance(event, dict) else {}
        self.context = context
        self.lambda_left = max(0.0, float(context.get_remaining_time_in_millis()) / 1000.0)
        self.started = self.clock.now()
        self.real_end = time.monotonic() + self.lambda_left
        self.reserve = min(STEP_RESERVE_SECONDS, 0.3 * self.lambda_left)
        self.request: Request | None = None
        self.request_fields: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.rule: PollRule | None = None
        self.signal: CompletionSignal | None = None
        self._lock = threading.Lock()
        self._answered = False
        self._handed_over = False

    @property
    def _stopped(self) -> bool:
        """Answered FAILED (by the watchdog) while the operation was meant to go on: stop here."""
        return self._answered and not self.state.get("answered")

    # --- entry ----------------------------------------------------------------------------

    def run(self) -> None:
        poll = is_envelope(self.event)
        self._log_start(poll)
        watchdog = threading.Timer(
            max(0.0, self.lambda_left - min(WATCHDOG_RESERVE_SECONDS, self.lambda_left / 4)), self._on_watchdog
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            if poll:
                self._run_poll()
            else:
                self._run_delivery()
        except Exception as err:  # every failure, expected or not, becomes one FAILED answer
            self._fail(err)
        finally:
            watchdog.cancel()

    def _log_start(self, poll: bool) -> None:
        source = self._source()
        LOG.info(
            json.dumps(
                {
                    "request": source.get("RequestType"),
                    "poll": poll,
                    "resource_type": source.get("ResourceType"),
                    "logical_id": source.get("LogicalResourceId"),
                    "physical_id": source.get("PhysicalResourceId"),
                    "stack_id": source.get("StackId"),
                    "request_id": source.get("RequestId"),
                },
                default=str,
            )
        )

    def _run_delivery(self) -> None:
        url = self.event.get("ResponseURL")
        if not isinstance(url, str) or not url.startswith("https://"):
            LOG.error("event without an https ResponseURL: it cannot be answered, so nothing is done")
            return
        self.request_fields = {k: self.event.get(k) for k in REQUEST_FIELDS}
        self.request = Request.from_event(self.event)
        self.signal = self._signal_of(self.request)
        self.state = self._new_state(self.request)
        self.state["signal"] = self.signal is not None
        if SIGNAL_URL_PROPERTY in self.request.properties:
            self._take_over()
        check_until = min(self.started + self.lambda_left - self.reserve, self.state["deadline"])
        progress = self._drive(check_until, lead=True)
        if progress is not None:
            self._succeed(progress)
        else:
            self._hand_over(check_until)

    def _run_poll(self) -> None:
        envelope = self.event
        fields = envelope.get("request")
        rule_name = str(envelope.get("rule") or "")
        if not rule_name.startswith(POLL_RULE_PREFIX):
            LOG.error("poll event without a dbscale rule name; ignored")
            return
        self.rule = self._rule(rule_name)
        self.rule.installed = True
        if not isinstance(fields, dict) or envelope.get("answered"):
            self.rule.remove(str(envelope.get("RequestId", "")))  # a firing after the answer: clean up again
            return
        self.request_fields = {k: fields.get(k) for k in REQUEST_FIELDS}
        event = {**fields, "ResourceProperties": envelope.get("properties") or {}}
        self.request = Request.from_event(event)
        self.signal = self._signal_of(self.request)
        lease_until = float(envelope.get("lease_until", 0))
        now = self.clock.now()
        if lease_until - now > RULE_PERIOD_SECONDS + LEASE_GUARD_SECONDS:
            return  # the lease holder checks past the next firing: that firing takes over, not this one
        if now < lease_until + LEASE_GUARD_SECONDS:
            self.clock.sleep(lease_until + LEASE_GUARD_SECONDS - now)
        try:
            current = self.rule.read()
            if not current or current.get("answered") or float(current.get("lease_until", 0)) > lease_until:
                return  # answered meanwhile, or another invocation took the lease
            if current.get("RequestId") != self.request.request_id:
                return  # a newer request for this resource took the rule over: this operation's poll ends
            self.state = dict(current.get("state") or {})
            end = min(self.started + self.lambda_left - self.reserve, float(self.state.get("deadline", 0.0)))
            holder = str(getattr(self.context, "aws_request_id", "")) or f"{self.clock.now():.6f}"
            self.rule.save(self._envelope(end, holder))
            confirmed = self.rule.read()
        except AwsError as err:
            # The rule could not be read or leased (throttled, say): nothing was done, and the next
            # firing, a minute later, tries again. Not a reason to fail the stack.
            LOG.warning("poll %s skipped: %s", self.rule.name, err.code)
            return
        if not confirmed or confirmed.get("holder") != holder:
            return  # a duplicate delivery of this firing won the lease
        progress = self._drive(end, lead=False)
        if progress is not None:
            self._succeed(progress)
        else:
            self._hand_over(end)

    # --- driving ----------------------------------------------------------------------------

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
        return {"v": 2, "started": now, "deadline": now + timeout - margin, "timeout": timeout}

    def _drive(self, check_until: float, *, lead: bool) -> Progress | None:
        """Step until done (the Progress) or until ``check_until`` (None: hand over to the next poll).

        With ``lead``, the poll rule is made about one rule period before the checks end, so that
        its first firing is ready to take over the moment they do."""
        if self.request is None:  # pragma: no cover - set by both entry paths
            raise InvalidRequest("no request")
        while True:
            if self._stopped:
                return None  # the watchdog answered; nothing more may happen in this invocation
            hold = float(self.state.get("hold_until", 0.0))
            if self.clock.now() < hold:
                # A superseded poll may still be acting until its lease ends: nothing is done (no delete
                # that a late create would undo, no change it would race) before then.
                if hold > check_until - self.provider.poll_seconds:
                    if lead and self.rule is None:
                        self._install_rule(lease_until=check_until)
                    self.clock.sleep(max(0.0, check_until - self.clock.now()))
                    return None
                self.clock.sleep(hold - self.clock.now())
                continue
            progress = self.resource.step(self.provider, self.request, self.state)
            if progress.done:
                return progress
            if progress.answer_early and self.signal is not None and not self.state.get("answered"):
                self._answer_early(progress, check_until)
            now = self.clock.now()
            if now >= self.state["deadline"]:
                raise OperationTimeout(self._timeout_reason(progress))
            if lead and self.rule is None and now + self.provider.poll_seconds >= check_until - RULE_PERIOD_SECONDS:
                self._install_rule(lease_until=check_until)
            if now + self.provider.poll_seconds > check_until:
                return None
            self.clock.sleep(self.provider.poll_seconds)

    def _timeout_reason(self, progress: Progress) -> str:
        request = self.request
        name = progress.physical_id or (request.logical_id if request else "the resource")
        minutes = (self.clock.now() - self.state["started"]) / 60
        return (
            f"{request.request_type if request else 'Request'} of {name} did not finish within "
            f"{minutes:.0f} minutes and CloudFormation's ServiceTimeout ({self.state['timeout']} s) is near. "
            f"Last state: {progress.detail or 'unknown'}. The operation continues in AWS: wait until the "
            "cluster is available, then retry the stack operation (it picks up where AWS is), raise "
            "ServiceTimeout (max 3600 s), add a completion signal to wait up to 12 hours (CompletionSignalUrl "
            "with an AWS::CloudFormation::WaitConditionHandle, or long_operations=LongOperations() on the "
            "construct), or set WaitForCompletion to false."
        )

    # --- polling ------------------------------------------------------------------------------

    def _rule(self, name: str) -> PollRule:
        return PollRule(
            name,
            self.provider.session,
            str(getattr(self.context, "function_name", "")),
            str(getattr(self.context, "invoked_function_arn", "")),
        )

    def _envelope(self, lease_until: float, holder: str) -> dict[str, Any]:
        request = self.request
        if request is None:  # pragma: no cover - set by both entry paths
            raise InvalidRequest("no request")
        properties = {k: v for k, v in request.properties.items() if k not in self.resource.first_invocation_only}
        fields = dict(self.request_fields)
        if self.state.get("answered"):
            fields["ResponseURL"] = ""  # answered: the presigned URL is no longer needed, so not kept
        rule = self.rule.name if self.rule is not None else ""
        return make_envelope(
            rule, fields, request.physical_id, properties, self.state, lease_until=lease_until, holder=holder
        )

    def _install_rule(self, *, lease_until: float) -> None:
        if self.request is None:  # pragma: no cover
            return
        request = self.request
        # With a completion signal one rule per resource: a newer request (a rollback, a replacement,
        # the Delete) takes it over, which ends the older operation's poll, so an old signal can never
        # answer a newer handle.
        key = "resource" if SIGNAL_URL_PROPERTY in request.properties else request.request_id
        rule = self._rule(poll_name(request.stack_id, request.logical_id, key))
        self.rule = rule
        rule.install(self._envelope(lease_until, "first"))
        if self._stopped:  # the watchdog answered while the rule was being made
            rule.remove(request.request_id)

    def _take_over(self) -> None:
        """End the poll of an older request for this resource (a signal's rule is one per resource).

        A rollback (Update or Delete) or any newer request for the same physical resource makes the
        older operation's poll stop: its rule is removed, so no later firing continues it, and the
        invocation that may still hold its lease finds the rule gone or another request's at its next
        save and stops (it never touches another request's rule). Until that lease has ended this request only waits
        (``hold_until``): a Delete then finds whatever the older poll made in its last minutes. A
        rule of another physical resource (a replacement still being made) is left alone."""
        request = self.request
        if request is None or not request.physical_id:
            return
        rule = self._rule(poll_name(request.stack_id, request.logical_id, "resource"))
        try:
            current = rule.read()
        except AwsError as err:
            LOG.warning("could not read the poll rule %s of an older request: %s", rule.name, err.code)
            return
        if not current or current.get("RequestId") == request.request_id:
            return  # no older poll, or a duplicate delivery of this very request
        older = current.get("request")
        older_state = current.get("state")
        older_id = (older_state.get("physical_id") if isinstance(older_state, dict) else None) or (
            older.get("PhysicalResourceId") if isinstance(older, dict) else None
        )
        if older_id != request.physical_id:
            return  # another physical resource's operation (a replacement): not this request's to end
        if not current.get("answered"):
            lease_until = float(current.get("lease_until", 0.0))
            if lease_until + LEASE_GUARD_SECONDS > self.clock.now():
                self.state["hold_until"] = lease_until + LEASE_GUARD_SECONDS
        LOG.info(
            json.dumps(
                {"superseded": current.get("RequestId"), "logical_id": request.logical_id, "by": request.request_id}
            )
        )
        rule.installed = True
        rule.remove(str(current.get("RequestId") or ""))

    def _superseded(self) -> bool:
        """True when a newer request for this resource has taken this operation's rule over (it carries
        another request): this invocation must then neither signal nor remove that request's rule.

        A rule that is gone counts as not superseded: the read may lag a rule made seconds ago, and
        signalling this operation's own handle is harmless, where a missed signal holds the stack."""
        request = self.request
        if request is None or self.rule is None or not self.rule.installed:
            return False
        if SIGNAL_URL_PROPERTY not in request.properties:
            return False
        try:
            current = self.rule.read()
        except AwsError:
            return False  # unknown: signal (this operation's own handle) rather than leave it waiting
        return current is not None and current.get("RequestId") != request.request_id

    def _hand_over(self, lease_until: float) -> None:
        if self._stopped:  # the watchdog answered: leave no rule behind
            if self.rule is not None and self.request is not None:
                self.rule.remove(self.request.request_id)
            return
        if self.rule is None:
            self._install_rule(lease_until=lease_until)
        elif self.rule is not None:
            holder = "first"
            if is_envelope(self.event):
                holder = str(getattr(self.context, "aws_request_id", "")) or holder
            try:
                current = self.rule.read()
                mine = self.request.request_id if self.request is not None else None
                if current is not None and current.get("RequestId") != mine:
                    return  # superseded by a newer request for this resource: leave its state alone
                self.rule.save(self._envelope(lease_until, holder))
            except AwsError as err:
                # The rule holds the state saved before (steps are idempotent): the next poll resumes
                # from there, so the operation is not lost for a failed save.
                LOG.warning("could not save the latest poll state in %s: %s", self.rule.name, err.code)
        with self._lock:
            if not self._stopped:
                self._handed_over = True
                return
        if self.rule is not None and self.request is not None:
            self.rule.remove(self.request.request_id)

    # --- answers ------------------------------------------------------------------------------

    def _signal_of(self, request: Request) -> CompletionSignal | None:
        if request.request_type == "Delete":
            return None  # nothing waits for a Delete; its properties' handle belongs to the old resource
        return completion_signal(request.properties)

    def _answer_early(self, progress: Progress, check_until: float) -> None:
        """Answer SUCCESS while the operation runs on; its outcome goes to the completion signal."""
        signal = self.signal
        if signal is None:  # pragma: no cover - checked by the caller
            return
        LOG.info(json.dumps({"result": "SUCCESS (operation continues)", "logical_id": self._logical_id()}))
        self._answer("SUCCESS", progress.physical_id, "", {**progress.data, "InProgress": "true"}, keep_rule=True)
        self.state["answered"] = True
        self.state["deadline"] = self.state["started"] + signal.timeout_seconds - 60.0
        # The rule now carries the operation: made (or refreshed) at once, so it survives this invocation.
        if self.rule is None:
            self._install_rule(lease_until=check_until)
        else:
            self.rule.save(self._envelope(check_until, "first"))

    def _signal(self, success: bool, reason: str, physical_id: str, data: dict[str, str]) -> None:
        signal = self.signal
        if signal is None:  # pragma: no cover
            return
        with self._lock:
            if self.state.get("signalled"):
                return
            self.state["signalled"] = True
        if self._superseded():
            LOG.info(json.dumps({"signal": "none (superseded by a newer request)", "logical_id": self._logical_id()}))
            return
        if self.rule is not None and self.rule.installed and self.request is not None:
            self.rule.remove(self.request.request_id)
        LOG.info(json.dumps({"signal": "SUCCESS" if success else "FAILURE", "logical_id": self._logical_id()}))
        budget = max(1.0, min(25.0, self.real_end - time.monotonic() - 1.0))
        send_signal(
            signal,
            success=success,
            unique_id=physical_id,
            reason=reason,
            data=signal_data(data, self.resource.signal_attributes) if success else "",
            ssl_verify=self.provider.ssl_verify,
            budget_seconds=budget,
        )

    def _succeed(self, progress: Progress) -> None:
        if self.state.get("answered"):
            self._signal(True, f"{progress.physical_id}: done", progress.physical_id, progress.data)
            return
        LOG.info(
            json.dumps({"result": "SUCCESS", "logical_id": self._logical_id(), "physical_id": progress.physical_id})
        )
        self._answer("SUCCESS", progress.physical_id, "", progress.data)
        if self.signal is not None:
            # Done within the invocation (a quick change, or none): the wait condition still waits
            # for its signal, so it gets one now instead of timing out hours later.
            self._signal(True, f"{progress.physical_id}: done", progress.physical_id, progress.data)

    def _fail(self, err: BaseException) -> None:
        if not isinstance(err, DbscaleError):
            LOG.exception("unexpected error")
        reason = failure_reason(err)
        if self.state.get("answered"):
            self._signal(False, reason, self._failure_physical_id(), {})
            return
        LOG.info(json.dumps({"result": "FAILED", "logical_id": self._logical_id(), "reason": reason}))
        self._answer("FAILED", self._failure_physical_id(), reason, {})

    def _on_watchdog(self) -> None:
        with self._lock:
            if self._answered or self._handed_over or self.state.get("answered"):
                return  # (after an early answer the rule carries the operation on)
        minutes = self.lambda_left / 60
        self._fail(
            OperationTimeout(
                f"The provider function was about to reach its timeout ({minutes:.1f} minutes) before the "
                "operation could be handed over to polling; the operation may continue in AWS. Raise the "
                "function's timeout (dbscale's providers use 15 minutes) and retry the stack operation."
            )
        )

    def _answer(
        self, status: str, physical_id: str, reason: str, data: dict[str, str], *, keep_rule: bool = False
    ) -> None:
        url = self._source().get("ResponseURL")
        if not isinstance(url, str) or not url.startswith("https://"):
            LOG.error("no https ResponseURL to send %s to", status)
            return
        with self._lock:
            if self._answered:
                LOG.warning("this request was already answered in this invocation; not answering again")
                return
            self._answered = True
        if self.rule is not None and self.rule.installed and not keep_rule:
            request_id = str(self.request_fields.get("RequestId") or "")
            self.rule.remove(request_id)
        fields = self.request_fields or {k: self.event.get(k) for k in REQUEST_FIELDS}
        body = {
            "Status": status,
            "PhysicalResourceId": str(physical_id),
            "StackId": fields.get("StackId"),
            "RequestId": fields.get("RequestId"),
            "LogicalResourceId": fields.get("LogicalResourceId"),
            "Reason": clip_reason(reason or ""),
            "Data": {k: v for k, v in (data or {}).items() if k != STATE_KEY},
            "NoEcho": False,
        }
        budget = max(1.0, min(25.0, self.real_end - time.monotonic() - 1.0))
        send_cfn_response(url, body, self.provider.ssl_verify, budget_seconds=budget)

    def _logical_id(self) -> str | None:
        return self.request.logical_id if self.request else self.request_fields.get("LogicalResourceId")

    def _failure_physical_id(self) -> str:
        # A resource that may have created something has recorded its id: the rollback Delete
        # then removes it. One that made nothing answers a marker the Delete recognizes.
        if self.state.get("physical_id"):
            return str(self.state["physical_id"])
        request = self.request
        if request is not None and request.physical_id:
            return request.physical_id
        source = self._source()
        if isinstance(source.get("PhysicalResourceId"), str) and source["PhysicalResourceId"]:
            return str(source["PhysicalResourceId"])
        return failed_create_id(str(source.get("RequestId") or "unknown"))

    def _source(self) -> dict[str, Any]:
        """The CloudFormation fields of this invocation: the event's, or a poll envelope's request."""
        source = self.event.get("request") if is_envelope(self.event) else self.event
        return source if isinstance(source, dict) else {}
