"""The handler runtime: crhelper, wrapped once, so that every resource type keeps CloudFormation's contract.

What this layer adds to crhelper 2.0.12, and why:

* exactly one response per invocation, sent with bounded retries (crhelper retries forever and
  takes any HTTP reply for success); the ResponseURL is never logged;
* the Reason keeps its beginning and stays under 2 KB (crhelper keeps the last 240 characters);
* in-invocation waiting with a short interval, and crhelper's EventBridge polling only when the
  Lambda is about to run out of time, so a finished operation is answered within seconds;
* poll state (the running :class:`~dbscale.core.operation.Operation`, the start time) survives
  between polls: crhelper drops ``Data`` written inside a poll, so the rule's target is rewritten;
* deterministic poll rule names under 64 characters, all starting with ``dbscale-poll-`` so the
  provider's IAM policy can be scoped to them;
* an answer before CloudFormation's deadline (the resource's ``ServiceTimeout``);
* one mapping from :class:`~dbscale.core.errors.DbscaleError` to a FAILED Reason a human can act on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbscale.core.clock import SYSTEM_CLOCK, Clock
from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest, OperationTimeout

if TYPE_CHECKING:
    import boto3

LOG = logging.getLogger("dbscale")
LOG.addHandler(logging.NullHandler())

POLL_RULE_PREFIX = "dbscale-poll-"
"""Every EventBridge rule and Lambda permission the runtime creates starts with this."""
POLL_SECONDS = 5.0
"""How often an invocation re-checks a running operation (seconds)."""
POLL_INVOCATION_WINDOW_SECONDS = 50.0
"""How long one poll invocation keeps checking; under the 1-minute rule rate so polls never overlap."""
LAMBDA_MARGIN_SECONDS = 30.0
"""Time left in an invocation for setting up polling and sending the response (seconds)."""
REASON_MAX_BYTES = 2000
RESPONSE_ATTEMPTS = 5
STATE_KEY = "_dbscale"
_FAILED_MARKER = "DBSCALE-NOT-CREATED-"


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
        return cls(
            request_type=event["RequestType"],
            stack_id=event["StackId"],
            request_id=event["RequestId"],
            logical_id=event["LogicalResourceId"],
            resource_type=event.get("ResourceType", ""),
            physical_id=event.get("PhysicalResourceId"),
            properties=dict(event.get("ResourceProperties") or {}),
            old_properties=event.get("OldResourceProperties"),
        )

    @property
    def failed_create_id(self) -> str:
        """The PhysicalResourceId of a Create that made nothing: never a valid cluster identifier."""
        return _FAILED_MARKER + hashlib.sha256(self.request_id.encode()).hexdigest()[:16]


@dataclass
class Progress:
    """A resource step's answer: ``done`` with the attributes, or still running."""

    physical_id: str
    done: bool
    data: dict[str, str] = field(default_factory=dict)
    detail: str = ""


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


def clip_reason(text: str, limit: int = REASON_MAX_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, keeping the beginning (where the cause is)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 20].decode("utf-8", "ignore") + " ... (truncated)"


def send_cfn_response(
    url: str,
    body: dict[str, Any],
    ssl_verify: bool | str | None,
    *,
    attempts: int = RESPONSE_ATTEMPTS,
    sleep: Callable[[float], None] = SYSTEM_CLOCK.sleep,
) -> bool:
    """PUT the response to the presigned ResponseURL; retry non-200 replies and errors with backoff.

    Gives up after ``attempts`` (default 5; waits 1, 2, 4, 8 s between) and returns False, so a
    broken URL cannot keep the function running until its timeout. Never logs the URL.
    """
    import ssl
    from urllib.parse import urlsplit, urlunsplit

    from crhelper import utils as crhelper_utils  # tests patch crhelper.utils.HTTPSConnection

    payload = json.dumps(body)
    split = urlsplit(url)
    path = urlunsplit(("", "", split.path, split.query, ""))
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if isinstance(ssl_verify, str):
        context.load_verify_locations(cafile=ssl_verify)
    elif ssl_verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    for attempt in range(1, attempts + 1):
        try:
            connection = crhelper_utils.HTTPSConnection(split.netloc, context=context, timeout=30)  # type: ignore[attr-defined]
            connection.request(
                "PUT", path, body=payload, headers={"content-type": "", "content-length": str(len(payload))}
            )
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                LOG.info("sent %s response to CloudFormation (attempt %d)", body["Status"], attempt)
                return True
            LOG.warning("CloudFormation response endpoint replied HTTP %s (attempt %d/%d)", status, attempt, attempts)
        except (OSError, ValueError) as err:  # connection, TLS and HTTP protocol errors
            LOG.warning("could not send the response (attempt %d/%d): %s", attempt, attempts, type(err).__name__)
        if attempt < attempts:
            sleep(2 ** (attempt - 1))
    LOG.error("gave up sending the %s response after %d attempts", body["Status"], attempts)
    return False


class ResourceType:
    """What a custom resource type implements; the :class:`Provider` does the rest."""

    resource_type = "Custom::Unknown"

    def step(self, provider: Provider, request: Request, state: dict[str, Any]) -> Progress:
        """Make as much progress as possible without waiting; keep what must survive in ``state``."""
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
        self._helper: Any = None

    def handle(self, event: dict[str, Any], context: Any) -> None:
        """The Lambda handler."""
        if self._helper is None:
            self._helper = _make_helper(self)
        LOG.info(
            json.dumps(
                {
                    "request": event.get("RequestType"),
                    "poll": bool(event.get("CrHelperPoll")),
                    "resource_type": event.get("ResourceType"),
                    "logical_id": event.get("LogicalResourceId"),
                    "physical_id": event.get("PhysicalResourceId"),
                    "stack_id": event.get("StackId"),
                    "request_id": event.get("RequestId"),
                }
            )
        )
        self._helper(event, context)

    # crhelper calls this for Create, Update, Delete and for every poll of them.
    def run(self, event: dict[str, Any], context: Any) -> str | None:
        helper = self._helper
        request = Request.from_event(event)
        state: dict[str, Any] = dict(helper.Data.get(STATE_KEY) or {})
        is_poll = bool(event.get("CrHelperPoll"))
        try:
            if not state:
                state = self._new_state(request)
            progress = self._drive(request, state, context, is_poll)
        except Exception as err:  # every failure, expected or not, becomes one FAILED answer
            if not isinstance(err, DbscaleError):
                LOG.exception("unexpected error")
            reason = failure_reason(err)
            LOG.info(json.dumps({"result": "FAILED", "logical_id": request.logical_id, "reason": reason}))
            helper.Status = "FAILED"
            helper.Reason = reason
            helper.Data = {}
            helper.finished = True
            return self._failure_physical_id(request, state)
        if not progress.done:
            helper.Data = {STATE_KEY: state}
            helper.finished = False
            return None
        LOG.info(
            json.dumps({"result": "SUCCESS", "logical_id": request.logical_id, "physical_id": progress.physical_id})
        )
        helper.Data = progress.data
        helper.finished = True
        return progress.physical_id

    def _new_state(self, request: Request) -> dict[str, Any]:
        from .properties import service_timeout_seconds

        try:
            timeout = service_timeout_seconds(request.properties)
        except InvalidRequest:
            if request.request_type != "Delete":
                raise
            timeout = 3600  # a Delete must not fail on the property that failed its Create
        now = self.clock.now()
        # Answer before CloudFormation gives up: leave one poll gap (60 s) and some slack.
        margin = min(90.0, max(10.0, timeout * 0.25))
        return {"v": 1, "started": now, "deadline": now + timeout - margin, "timeout": timeout}

    def _drive(self, request: Request, state: dict[str, Any], context: Any, is_poll: bool) -> Progress:
        now = self.clock.now()
        remaining = context.get_remaining_time_in_millis() / 1000.0 - LAMBDA_MARGIN_SECONDS
        window = min(remaining, POLL_INVOCATION_WINDOW_SECONDS) if is_poll else remaining
        budget_end = min(now + window, state["deadline"])
        while True:
            progress = self.resource.step(self, request, state)
            if progress.done:
                return progress
            now = self.clock.now()
            if now >= state["deadline"]:
                raise OperationTimeout(self._timeout_reason(request, state, progress))
            if now + self.poll_seconds > budget_end:
                return progress
            self.clock.sleep(self.poll_seconds)

    def _timeout_reason(self, request: Request, state: dict[str, Any], progress: Progress) -> str:
        minutes = (self.clock.now() - state["started"]) / 60
        return (
            f"{request.request_type} of {progress.physical_id or request.logical_id} did not finish within "
            f"{minutes:.0f} minutes and CloudFormation's ServiceTimeout ({state['timeout']} s) is near. "
            f"Last state: {progress.detail or 'unknown'}. The operation continues in AWS: wait until the "
            "cluster is available, then retry the stack operation (it picks up where AWS is), raise "
            "ServiceTimeout (max 3600 s), or set WaitForCompletion to false for long resizes."
        )

    @staticmethod
    def _failure_physical_id(request: Request, state: dict[str, Any]) -> str:
        # A Create that made a cluster returns its id so the rollback Delete removes it; one that
        # made nothing returns a marker, so the Delete that follows touches nothing.
        if state.get("physical_id"):
            return str(state["physical_id"])
        if request.physical_id:
            return request.physical_id
        return request.failed_create_id


def poll_name(event: dict[str, Any]) -> str:
    """A deterministic EventBridge rule name / permission id for one request (37 characters)."""
    digest = hashlib.sha256(f"{event['StackId']}|{event['LogicalResourceId']}|{event['RequestId']}".encode())
    return POLL_RULE_PREFIX + digest.hexdigest()[:24]


def _make_helper(provider: Provider) -> Any:
    from crhelper import resource_helper

    # crhelper is untyped in practice (its private members are what this class overrides).
    base: Any = resource_helper.CfnResource

    class _Helper(base):  # type: ignore[misc]
        def __init__(self) -> None:
            # INFO: crhelper logs the whole event (presigned ResponseURL included) at DEBUG.
            super().__init__(
                json_logging=False,
                log_level="INFO",
                boto_level="ERROR",
                polling_interval=1,
                sleep_on_delete=0,
                ssl_verify=provider.ssl_verify,
            )
            self.finished = False
            self._sent = False
            self._send_lock = threading.Lock()
            for register in (
                self.create,
                self.update,
                self.delete,
                self.poll_create,
                self.poll_update,
                self.poll_delete,
            ):
                register(provider.run)

        def __call__(self, event: dict[str, Any], context: Any) -> None:
            self.finished = False
            self._sent = False
            self._ssl_verify = provider.ssl_verify
            super().__call__(event, context)

        def _log_setup(self, event: dict[str, Any], context: Any) -> None:
            super()._log_setup(event, context)
            logging.getLogger("crhelper").setLevel(logging.INFO)

        def _polling_init(self, event: dict[str, Any]) -> None:
            if self.finished or self.Status == "FAILED":
                if "CrHelperPoll" in event:
                    self._remove_polling()
                self._send_response = True
            elif "CrHelperPoll" not in event:
                self._setup_polling()
            else:
                self._persist_poll_state()

        def _persist_poll_state(self) -> None:
            # crhelper fixes the poll event when the rule is made; rewrite it so progress survives.
            self._event["CrHelperData"] = self.Data
            try:
                self._put_targets(self._context.function_name)
            except Exception as err:  # the previous state still resumes (steps are idempotent)
                LOG.warning("could not save poll state: %s", err)

        def _put_rule(self) -> str:
            response = self._events_client.put_rule(
                Name=poll_name(self._event),
                ScheduleExpression="rate(1 minute)",
                State="ENABLED",
                Description=f"dbscale polls {self._event['LogicalResourceId']}"[:512],
            )
            return str(response["RuleArn"])

        def _add_permission(self, rule_arn: str) -> str:
            sid = poll_name(self._event)
            try:
                self._lambda_client.add_permission(
                    FunctionName=self._context.function_name,
                    StatementId=sid,
                    Action="lambda:InvokeFunction",
                    Principal="events.amazonaws.com",
                    SourceArn=rule_arn,
                )
            except Exception as err:  # a retried invocation finds its permission in place
                if "ResourceConflict" not in type(err).__name__ and "ResourceConflict" not in str(err):
                    raise
            return sid

        def _remove_polling(self) -> None:
            try:
                super()._remove_polling()
            except Exception as err:  # a leftover rule must not turn a success into a failure
                LOG.warning("could not remove the poll rule: %s", err)

        def generate_physical_id(self, event: dict[str, Any]) -> str:
            return Request.from_event(event).failed_create_id

        def _send(self, status: str | None = None, reason: str = "", send_response: Any = None) -> None:
            with self._send_lock:
                if self._sent:
                    LOG.warning("a response was already sent for this invocation; not sending another")
                    return
                self._sent = True
            if status:
                self.Status, self.Reason = status, reason
            data = {k: v for k, v in (self.Data or {}).items() if k != STATE_KEY}
            body = {
                "Status": self.Status,
                "PhysicalResourceId": str(self.PhysicalResourceId),
                "StackId": self.StackId,
                "RequestId": self.RequestId,
                "LogicalResourceId": self.LogicalResourceId,
                "Reason": clip_reason(str(self.Reason)),
                "Data": data,
                "NoEcho": False,
            }
            send_cfn_response(self._response_url, body, self._ssl_verify, sleep=provider.clock.sleep)

    return _Helper()
