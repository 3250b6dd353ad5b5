"""boto3 clients and error translation: the only place the core touches botocore directly."""

from __future__ import annotations

import contextlib
import contextvars
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .errors import AwsError, ClusterNotFound, DbscaleError, InvalidRequest, InvalidState

if TYPE_CHECKING:
    import boto3

_RETRY_CONFIG: Any = None
_MODEL_LOADER: Any = None
_CLIENTS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

# AWS error codes that mean "no such cluster/instance"; they become ClusterNotFound.
NOT_FOUND_CODES = frozenset(
    {
        "ClusterNotFound",
        "ClusterNotFoundFault",
        "DBClusterNotFoundFault",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "ClusterSnapshotNotFound",
        "DBClusterSnapshotNotFoundFault",
    }
)
# Codes that mean "not now, the cluster is busy"; they become InvalidState.
INVALID_STATE_CODES = frozenset(
    {
        "InvalidClusterState",
        "InvalidClusterStateFault",
        "InvalidDBClusterStateFault",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
    }
)


_CALL_LIMITS: dict[str, float] = {}

READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Lookup", "Search", "Check", "Validate", "Estimate")
"""Operations whose name starts with one of these change nothing in AWS; every other one may."""
_CHANGE_GUARD: contextvars.ContextVar[Callable[[str, str], None] | None] = contextvars.ContextVar(
    "dbscale_change_guard", default=None
)


@contextlib.contextmanager
def guard_changes(check: Callable[[str, str], None]) -> Iterator[None]:
    """Call ``check(service, operation)`` before every attempt of every AWS call that may change
    something, made in this thread (context) inside the block; ``check`` raises to stop it being sent
    (``service`` is botocore's hyphenated service id, e.g. ``redshift``, ``sfn``).

    The handler runtime uses it so that an invocation that has answered, or an operation a newer
    request has superseded, can make no further change, whatever step it is in."""
    token = _CHANGE_GUARD.set(check)
    try:
        yield
    finally:
        _CHANGE_GUARD.reset(token)


def _event_call(event_name: str) -> tuple[str, str]:
    """(service, operation) of a botocore event name such as ``before-send.redshift.ResizeCluster``."""
    parts = [*event_name.split(".", 2), "", ""]
    return parts[1], parts[2]


def _changes(operation: str) -> bool:
    return bool(operation) and not operation.startswith(READ_ONLY_PREFIXES)


def _before_send(event_name: str = "", **_: Any) -> None:
    # Every attempt, not every call: botocore retries a throttled call for up to a minute and more,
    # and a retry sent after the invocation was stopped must be refused like the first attempt.
    service, operation = _event_call(event_name)
    if not _changes(operation):
        return
    check = _CHANGE_GUARD.get()
    if check is not None:
        check(service, operation)
    record = _CHANGE_RECORD.get()
    if record is not None:
        record._sent(service, operation)


@dataclass
class _Call:
    """The AWS call being made (or made last) in this thread: its operation and HTTP status."""

    service: str
    operation: str
    status: int | None = None


_LAST_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("dbscale_last_call", default=None)


def _on_call(event_name: str = "", **_: Any) -> None:
    # provide-client-params: the first event of every call, before validation and sending.
    _LAST_CALL.set(_Call(*_event_call(event_name)))


def _on_response(event_name: str = "", response_dict: dict[str, Any] | None = None, **_: Any) -> None:
    # before-parse: the HTTP answer of one attempt, before botocore parses (and may fail to parse) it.
    call = _LAST_CALL.get()
    if call is not None and call.operation == _event_call(event_name)[1] and response_dict is not None:
        call.status = int(response_dict.get("status_code") or 0) or None


@dataclass
class ChangeRecord:
    """The AWS calls that may change something (see :data:`READ_ONLY_PREFIXES`) sent inside a
    :func:`record_changes` block, on clients from :func:`client` or :func:`watch_calls`.

    ``sent`` lists ``service:Operation`` once per call; ``answered`` maps each to the HTTP status of
    its last answer (absent: no answer, e.g. a timeout)."""

    sent: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    parent: ChangeRecord | None = field(default=None, repr=False)

    def _sent(self, service: str, operation: str) -> None:
        key = f"{service}:{operation}"
        if key not in self.attempts:
            self.sent.append(key)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.answered.pop(key, None)
        if self.parent is not None:
            self.parent._sent(service, operation)

    def _answer(self, service: str, operation: str, status: int | None) -> None:
        key = f"{service}:{operation}"
        if key in self.attempts:
            if status is None:
                self.answered.pop(key, None)
            else:
                self.answered[key] = status
        if self.parent is not None:
            self.parent._answer(service, operation, status)

    @property
    def may_have_changed(self) -> bool:
        """False when no change was sent, or AWS refused every one (a 4xx answer to its only attempt);
        True when one was accepted, or its fate is unknown (no answer, a 5xx, more than one attempt)."""
        for key in self.sent:
            status = self.answered.get(key)
            if status is None or not 400 <= status < 500 or self.attempts[key] > 1:
                return True
        return False


_CHANGE_RECORD: contextvars.ContextVar[ChangeRecord | None] = contextvars.ContextVar(
    "dbscale_change_record", default=None
)


@contextlib.contextmanager
def record_changes() -> Iterator[ChangeRecord]:
    """Record the calls that may change AWS made in this thread (context) inside the block (an outer
    block's record sees them too).

    The CLI uses it to keep no operation file for an operation that failed before any change could
    reach AWS."""
    record = ChangeRecord(parent=_CHANGE_RECORD.get())
    token = _CHANGE_RECORD.set(record)
    try:
        yield record
    finally:
        _CHANGE_RECORD.reset(token)


def _after_call(event_name: str = "", http_response: Any = None, **_: Any) -> None:
    record = _CHANGE_RECORD.get()
    service, operation = _event_call(event_name)
    if record is not None and _changes(operation):
        record._answer(service, operation, getattr(http_response, "status_code", None))


def _after_call_error(event_name: str = "", **_: Any) -> None:
    # No answer (a timeout, a dropped connection, an unparseable body): the change's fate is unknown.
    record = _CHANGE_RECORD.get()
    service, operation = _event_call(event_name)
    if record is not None and _changes(operation):
        record._answer(service, operation, None)


_GATEWAY_STATUSES = frozenset({502, 503, 504})
"""An unparseable answer with one of these is a proxy or gateway's: transient, like AWS's own 5xx."""

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
    }
)
"""The error codes AWS services throttle with."""

# Codes (and botocore exception names) that mean "try again later": the request may not have been
# handled. Steps are idempotent, so an operation retries the step at its next poll instead of failing.
TRANSIENT_CODES = frozenset(
    {
        *THROTTLING_CODES,
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectionError",
        *(f"HTTP{status}" for status in _GATEWAY_STATUSES),
    }
)


def is_transient(err: BaseException) -> bool:
    """True for an :class:`AwsError` that a later retry may not see (throttling, 5xx, timeouts)."""
    return isinstance(err, AwsError) and err.code in TRANSIENT_CODES


def _retry_config() -> Any:
    global _RETRY_CONFIG
    if _RETRY_CONFIG is None:
        from botocore.config import Config

        # Standard mode retries throttling and transient errors with exponential backoff and
        # jitter; 10 attempts in all rides out a throttling burst without hiding a real outage.
        attempts = int(_CALL_LIMITS.get("total_max_attempts", 10))
        timeouts: dict[str, Any] = {
            k: _CALL_LIMITS[k] for k in ("connect_timeout", "read_timeout") if k in _CALL_LIMITS
        }
        _RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": attempts}, **timeouts)
    return _RETRY_CONFIG


def limit_call_time(*, connect_timeout: float, read_timeout: float, total_max_attempts: int) -> None:
    """Bound the time any one AWS call can take from now on (clients made later use the limits).

    Defaults without a call: botocore's 60 s connect and read timeouts, 10 attempts. The Lambda
    handlers bound calls so that a slow or throttled call can never outlast the invocation:
    worst case about ``total_max_attempts * (connect_timeout + read_timeout)`` plus backoff.
    """
    global _RETRY_CONFIG
    limits = {
        "connect_timeout": float(connect_timeout),
        "read_timeout": float(read_timeout),
        "total_max_attempts": float(total_max_attempts),
    }
    if limits != _CALL_LIMITS:
        _CALL_LIMITS.update(limits)
        _RETRY_CONFIG = None
        _CLIENTS.clear()


def share_model_loader(core: Any) -> Any:
    """Give the botocore session ``core`` this process's loader of AWS service models; returns ``core``.

    Each botocore session otherwise parses the service models again (about 0.1 s per service for
    Redshift, RDS and CloudWatch): a fleet read makes a session per account and region, the CLI one
    per command. The loader only reads files and caches them: sharing it between threads is safe.
    """
    global _MODEL_LOADER
    if _MODEL_LOADER is None:
        _MODEL_LOADER = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _MODEL_LOADER)
    return core


def new_session(*, region_name: str | None = None, profile_name: str | None = None) -> boto3.Session:
    """A new boto3 session (as ``boto3.Session(region_name=, profile_name=)``) sharing the process's
    service models (:func:`share_model_loader`)."""
    import boto3
    import botocore.session

    core = share_model_loader(botocore.session.get_session())
    return boto3.Session(botocore_session=core, region_name=region_name, profile_name=profile_name)


def client(service: str, session: boto3.Session | None = None) -> Any:
    """A boto3 client for ``service`` from ``session`` (default session when None), standard retries.

    Clients are cached per session and service: making one costs tens of milliseconds, and a
    long operation polls many times. boto3 clients are thread-safe.
    """
    if session is None:
        import boto3

        session = boto3._get_default_session()
    per_session = _CLIENTS.get(session)
    if per_session is None:
        per_session = _CLIENTS[session] = {}
    cached = per_session.get(service)
    if cached is None:
        cached = per_session[service] = session.client(service, config=_retry_config())  # type: ignore[call-overload]
        watch_calls(cached)
    return cached


def watch_calls(made: Any) -> Any:
    """Register dbscale's call hooks on a boto3 client ``made`` (every client from :func:`client` has
    them): :func:`guard_changes` and :func:`record_changes` see its calls, and an error it raises
    names the call that failed (:func:`aws_errors`). Returns ``made``."""
    events = made.meta.events
    events.register_first("before-send", _before_send)
    events.register_first("provide-client-params", _on_call)
    events.register_first("before-parse", _on_response)
    events.register("after-call", _after_call)
    events.register("after-call-error", _after_call_error)
    return made


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Translate botocore exceptions raised inside the block into :class:`DbscaleError` subclasses.

    ``action`` says what dbscale was doing, e.g. ``"resize Redshift cluster 'a'"``. The message names
    the AWS call that failed and AWS's code and message: ``could not resize Redshift cluster 'a':
    ResizeCluster: InvalidClusterState: ...``; an answer that is no AWS error (an HTML page from a
    proxy, or from an endpoint such as moto_server that does not implement the call) is reduced to
    its HTTP status (see :func:`translate`).
    """
    token = _LAST_CALL.set(None)
    try:
        yield
    except DbscaleError:
        raise
    except Exception as err:
        translated = translate(err, action)
        if translated is None:
            raise
        raise translated from None
    finally:
        _LAST_CALL.reset(token)


_REASONS = frozenset(status.phrase for status in HTTPStatus)
"""HTTP reason phrases ("Internal Server Error"): botocore's message for a body it could not read."""
_HTML = re.compile(r"<\s*(!doctype|html|head|body|title)\b", re.IGNORECASE)
_TITLE_STATUS = re.compile(r"<title>\s*(\d{3})\b", re.IGNORECASE)


def _not_an_aws_answer(status: int | None) -> tuple[str, str]:
    """(code, text) for an answer whose body is no AWS error document, by its HTTP status."""
    if status is None:
        return "UnparseableResponse", "an answer that is not an AWS response (check AWS_ENDPOINT_URL)"
    if status in _GATEWAY_STATUSES:
        return f"HTTP{status}", f"HTTP {status} from the endpoint (a proxy or gateway error; try again later)"
    if status in (404, 405, 500, 501):
        return f"HTTP{status}", f"HTTP {status} from the endpoint (not implemented by this endpoint?)"
    return f"HTTP{status}", f"HTTP {status} from the endpoint, with a body that is not an AWS response"


def translate(err: BaseException, action: str | None = None) -> DbscaleError | None:
    """The :class:`DbscaleError` for a botocore exception (None for any other exception).

    ``action`` (what dbscale was doing) starts the message with ``could not <action>: ``. The message
    names the AWS call: botocore's ``operation_name`` for a ``ClientError``, else the last call
    made in this thread. A body that is an HTML page or not an AWS response at all becomes
    ``HTTP <status> from the endpoint (...)`` with the code ``HTTP<status>``, never the page.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = f"could not {action}: " if action else ""
    last = _LAST_CALL.get()
    if isinstance(err, ClientError):
        operation = str(err.operation_name or (last.operation if last else "") or "")
        error = err.response.get("Error", {})
        code = str(error.get("Code") or "")
        message = " ".join(str(error.get("Message", "")).split())
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if not code or code.isdigit() or _HTML.search(message):  # no AWS error document
            code, detail = _not_an_aws_answer(int(status) if status else (int(code) if code.isdigit() else None))
            if message and not _HTML.search(message) and message not in _REASONS:
                detail += f": {message[:200]}"  # some text that is not a page: keep it
        else:
            detail = f"{code}: {message}" if message else code
        text = prefix + (f"{operation}: {detail}" if operation else detail)
        if code in NOT_FOUND_CODES:
            return ClusterNotFound(text)
        if code in INVALID_STATE_CODES:
            return InvalidState(text)
        if code in ("DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
            return InstanceAlreadyExists(text, code=code, operation_name=operation or None)
        return AwsError(text, code=code, operation_name=operation or None)
    operation = last.operation if last else ""
    named = f"{operation}: " if operation else ""
    if type(err).__name__ == "ResponseParserError" or (isinstance(err, BotoCoreError) and _HTML.search(str(err))):
        status = last.status if last else None
        if status is None and (found := _TITLE_STATUS.search(str(err))):
            status = int(found.group(1))
        code, detail = _not_an_aws_answer(status)
        return AwsError(f"{prefix}{named}{detail}", code=code, operation_name=operation or None)
    if isinstance(err, BotoCoreError):
        return AwsError(f"{prefix}{named}{err}", code=type(err).__name__, operation_name=operation or None)
    return None


class InstanceAlreadyExists(AwsError):
    """CreateDBInstance found the instance there: an earlier, interrupted attempt made it."""


def tags_include(tags: dict[str, str], expected: dict[str, str]) -> bool:
    """True when ``tags`` has every key of ``expected`` with the same value."""
    return all(tags.get(key) == value for key, value in expected.items())


def checked_tag_changes(add: dict[str, str], remove: list[str] | tuple[str, ...]) -> list[str]:
    """The keys to remove for a tag update, never dbscale's ownership tag; setting that tag is refused."""
    from .limits import CREATED_BY_TAG_KEY

    if CREATED_BY_TAG_KEY in add:
        raise InvalidRequest(f"{CREATED_BY_TAG_KEY} is dbscale's ownership tag and cannot be set", field="add")
    return [key for key in remove if key not in add and key != CREATED_BY_TAG_KEY]


def final_snapshot_name(cluster_name: str, clock: Any, given: str | None = None) -> str:
    """``given``, or ``<cluster>-final-<UTC timestamp>``."""
    from .clock import utc_stamp

    return given or f"{cluster_name}-final-{utc_stamp(clock)}"


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as AWS's ``[{"Key": "k", "Value": "v"}]``."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """AWS's ``[{"Key": ..., "Value": ...}]`` as a dict."""
    return {t["Key"]: t.get("Value", "") for t in tags or []}
