"""boto3 clients and error translation: the only place the core touches botocore directly."""

from __future__ import annotations

import contextlib
import contextvars
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import AwsError, ClusterNotFound, DbscaleError, InvalidRequest, InvalidState

if TYPE_CHECKING:
    import boto3

_RETRY_CONFIG: Any = None
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


def _before_send(event_name: str = "", **_: Any) -> None:
    # Every attempt, not every call: botocore retries a throttled call for up to a minute and more,
    # and a retry sent after the invocation was stopped must be refused like the first attempt.
    check = _CHANGE_GUARD.get()
    if check is None:
        return
    parts = [*event_name.split(".", 2), "", ""]
    service, operation = parts[1], parts[2]
    if operation and not operation.startswith(READ_ONLY_PREFIXES):
        check(service, operation)


# Codes (and botocore exception names) that mean "try again later": the request may not have been
# handled. Steps are idempotent, so an operation retries the step at its next poll instead of failing.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
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
        cached.meta.events.register_first("before-send", _before_send)
    return cached


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Translate botocore exceptions raised inside the block into :class:`DbscaleError` subclasses.

    ``action`` says what dbscale was doing, e.g. ``"resize Redshift cluster 'a'"``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except DbscaleError:
        raise
    except ClientError as err:
        error = err.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")).strip()
        text = f"could not {action}: {code}: {message}" if message else f"could not {action}: {code}"
        if code in NOT_FOUND_CODES:
            raise ClusterNotFound(text) from None
        if code in INVALID_STATE_CODES:
            raise InvalidState(text) from None
        if code in ("DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
            raise InstanceAlreadyExists(text, code=code, operation_name=err.operation_name) from None
        raise AwsError(text, code=code, operation_name=err.operation_name) from None
    except BotoCoreError as err:
        raise AwsError(f"could not {action}: {err}", code=type(err).__name__) from None


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
