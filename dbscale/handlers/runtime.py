"""The handler runtime: every custom resource type keeps CloudFormation's contract through this one layer.

What it guarantees, and how (the flows themselves are in :mod:`dbscale.handlers.invocation`):

* **One answer per delivery, on its own ResponseURL.** Each Lambda invocation gets a fresh
  invocation object; nothing of one invocation reaches the next except through the operation
  document. The answer is sent at most once per invocation (a lock), with bounded retries and time
  (:mod:`dbscale.handlers.response`); an answer that could not be delivered is retried by the
  operation's execution until CloudFormation's deadline. An event without a usable ResponseURL is
  logged and not acted on; one with an unknown ``RequestType`` is FAILED.
* **The right PhysicalResourceId.** Before a call that may create something, a resource records
  the identifier in its state; every FAILED answer from then on carries it, so CloudFormation's
  rollback Delete finds the cluster. A Create that made nothing answers a marker the Delete knows.
* **Bounded time; the watchdog and the work agree.** AWS calls are bounded (connect/read timeouts,
  attempts). A delivery's watchdog answers FAILED just before the Lambda timeout if the invocation
  has neither answered nor handed over, and from then on the invocation can make no change (every
  AWS call that could change something is refused: :func:`dbscale.core.aws.guard_changes`).
* **Long operations on Step Functions.** A request not finished within its first invocation is
  handed to one Standard workflow execution named from the request (:mod:`dbscale.handlers.workflow`):
  its check task checks every few seconds, answers and signals, and retries a transient error or an
  undelivered answer for as long as the other side can still accept it. The newest request for a
  physical resource stops the executions of older ones before it acts; a stopped operation makes no
  further change and sends nothing.
* **No secrets in logs.** The raw event is never logged, and library loggers (botocore, boto3,
  urllib3) are capped at WARNING even when the function's environment sets DEBUG.
* **One error mapping**: :func:`failure_reason` turns :class:`~dbscale.core.errors.DbscaleError`
  into a FAILED Reason a human can act on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbscale.core.clock import SYSTEM_CLOCK, Clock
from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest

from .response import clip_reason

if TYPE_CHECKING:
    import boto3

LOG = logging.getLogger("dbscale")
LOG.addHandler(logging.NullHandler())

POLL_SECONDS = 5.0
"""How often an invocation re-checks a running operation (seconds)."""
STEP_RESERVE_SECONDS = 120.0
"""No step starts when less Lambda time than this is left (seconds; at most 30% of the invocation):
room for the slowest bounded step, starting the execution and answering."""
WATCHDOG_RESERVE_SECONDS = 12.0
"""The watchdog answers this long before the Lambda timeout (seconds; at most a quarter of it)."""
SUPERSEDE_SETTLE_SECONDS = 30.0
"""After stopping an older request's execution, a request waits this long before it acts (seconds):
an attempt the older check had already sent when the stop landed (at most a connect and a read
timeout, 20 s) has reached AWS by then, and it sends no other (it re-reads its execution's status
before every attempt of every change)."""
STOP_CHECK_SECONDS = 60.0
"""A check re-reads its execution's status at least this often (seconds), to stop soon once superseded."""
CALL_CONNECT_TIMEOUT, CALL_READ_TIMEOUT, CALL_ATTEMPTS = 5.0, 15.0, 4
"""AWS call bounds inside an invocation: at most ~85 s per call, retries and backoff included."""
CAPPED_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
"""Library loggers that print credentials, the raw event or presigned URLs at DEBUG."""
REQUEST_TYPES = ("Create", "Update", "Delete")
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

    def check_request(self, request: Request) -> None:
        """Check a request's properties without any AWS call; raise InvalidRequest naming the property.

        Called before the runtime's first AWS call, so a bad template fails at once and for free.
        Default: nothing (``step`` checks)."""

    def step(self, provider: Provider, request: Request, state: dict[str, Any]) -> Progress:
        """Make as much progress as possible without waiting; keep what must survive in ``state``.

        Before a call that may create a resource, set ``state["physical_id"]`` to its identifier."""
        raise NotImplementedError


class Provider:
    """A Lambda entry point for one resource type: ``handler = Provider(MyType()).handle``.

    ``session``, ``clock``, ``ssl_verify``, ``poll_seconds`` and ``state_machine_arn`` (default: the
    ``DBSCALE_STATE_MACHINE_ARN`` environment variable, else the function's own
    ``<function name>-operations``) can be replaced (tests, private CAs).
    """

    def __init__(self, resource: ResourceType) -> None:
        self.resource = resource
        self.session: boto3.Session | None = None
        self.clock: Clock = SYSTEM_CLOCK
        self.ssl_verify: bool | str | None = None
        self.poll_seconds = POLL_SECONDS
        self.state_machine_arn: str | None = None

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any] | None:
        """The Lambda handler: None for a CloudFormation delivery, the operation document for a check."""
        cap_library_loggers()
        from dbscale.core.aws import limit_call_time

        from .invocation import Invocation

        limit_call_time(
            connect_timeout=CALL_CONNECT_TIMEOUT, read_timeout=CALL_READ_TIMEOUT, total_max_attempts=CALL_ATTEMPTS
        )
        return Invocation(self, event, context).run()


def cap_library_loggers() -> None:
    """Keep libraries that log secrets at DEBUG at WARNING, whatever the root logger's level."""
    for name in CAPPED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
