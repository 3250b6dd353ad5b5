"""Read many (account, region) targets from one process: a bounded pool of worker threads, each
target's result or its classified failure, never one target's failure stopping the others."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..aws import THROTTLING_CODES, translate
from ..errors import AwsError, DbscaleError, InvalidRequest
from .sessions import AccountSessions, RoleNotAssumed

if TYPE_CHECKING:
    import boto3

T = TypeVar("T")

DEFAULT_WORKERS = 8
"""Targets read at once by default: enough to hide latency, few enough to stay under API rate limits."""
MAX_WORKERS = 64

DENIED = "denied"
REGION_DISABLED = "region disabled"
THROTTLED = "throttled"
ERROR = "error"
FAILURE_KINDS = (DENIED, REGION_DISABLED, THROTTLED, ERROR)
"""How a target can fail, as the output names it."""

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
        "AWSOrganizationsNotInUseException",
    }
)
# An opt-in region the account has not enabled rejects its (valid) credentials with these.
REGION_DISABLED_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"}
)


@dataclass(frozen=True, order=True)
class Target:
    """One account in one region."""

    account: str
    region: str

    def to_dict(self) -> dict[str, str]:
        return {"account": self.account, "region": self.region}


@dataclass(frozen=True)
class Failure:
    """Why a target could not be read: ``kind`` (one of :data:`FAILURE_KINDS`), the AWS error
    ``code`` and the message (AWS's own, with the call that failed)."""

    target: Target
    kind: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {**self.target.to_dict(), "kind": self.kind, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A target's result (``value``) or its ``failure``."""

    target: Target
    value: T | None = None
    failure: Failure | None = None


@dataclass(frozen=True)
class FleetRun(Generic[T]):
    """Every target's outcome, in target order (accounts, then regions, as given); ``home`` is the
    caller's own account (read without a role)."""

    outcomes: tuple[Outcome[T], ...]
    home: str | None = None

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(o.target for o in self.outcomes)

    @property
    def results(self) -> list[tuple[Target, T]]:
        """(target, value) of every target that was read."""
        return [(o.target, o.value) for o in self.outcomes if o.failure is None]  # type: ignore[misc]

    @property
    def failures(self) -> list[Failure]:
        return [o.failure for o in self.outcomes if o.failure is not None]


def targets(accounts: Iterable[str], regions: Iterable[str]) -> tuple[Target, ...]:
    """Every account in every region, accounts first, each once, in the order given."""
    covered = list(dict.fromkeys(regions))
    return tuple(Target(a, r) for a in dict.fromkeys(accounts) for r in covered)


def classify(target: Target, err: BaseException) -> Failure:
    """The :class:`Failure` ``err`` means for ``target`` (a role STS refused is ``denied`` whatever
    its code, unless throttled)."""
    translated = err if isinstance(err, DbscaleError) else translate(err)
    code = translated.code if isinstance(translated, AwsError) else type(err).__name__
    message = " ".join(str(translated if translated is not None else err).split()) or type(err).__name__
    if code in THROTTLING_CODES:  # still throttled after botocore's retries
        kind = THROTTLED
    elif isinstance(translated, RoleNotAssumed) or code in DENIED_CODES:
        kind = DENIED
    elif code in REGION_DISABLED_CODES:
        kind = REGION_DISABLED
    else:
        kind = ERROR
    return Failure(target, kind, code, message)


def check_workers(max_workers: int) -> int:
    """``max_workers`` when it is 1 to :data:`MAX_WORKERS`."""
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or not 1 <= max_workers <= MAX_WORKERS:
        raise InvalidRequest(f"max_workers must be 1 to {MAX_WORKERS}, got {max_workers!r}", field="max_workers")
    return max_workers


def fan_out(
    work: Callable[[Target, boto3.Session], T],
    targets: Iterable[Target],
    *,
    sessions: AccountSessions,
    max_workers: int = DEFAULT_WORKERS,
) -> FleetRun[T]:
    """``work(target, session)`` for every target, at most ``max_workers`` at once, with the session
    of the target's account and region. An exception in one target (the role refused, an opt-in
    region not enabled, throttling beyond botocore's retries, anything else) becomes its
    :class:`Failure`; the other targets go on. Ctrl-C still stops the run."""
    todo = list(dict.fromkeys(targets))
    check_workers(max_workers)
    home = sessions.start()  # who the caller is: asked once, before the workers (an error here stops all)

    def one(target: Target) -> Outcome[T]:
        try:
            return Outcome(target, value=work(target, sessions.session(target.account, target.region)))
        except Exception as err:  # any failure is this target's, reported with the rest
            return Outcome(target, failure=classify(target, err))

    if not todo:
        return FleetRun((), home)
    pool = ThreadPoolExecutor(max_workers=min(max_workers, len(todo)), thread_name_prefix="dbscale-fleet")
    try:
        outcomes = tuple(pool.map(one, todo))  # map keeps the targets' order
    except BaseException:  # Ctrl-C: start no other target (those running end with their call)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return FleetRun(outcomes, home)


class CallCounter:
    """Counts the AWS calls of the sessions it is attached to, by API (``service:Operation``) and by
    account: pass :meth:`attach` as :class:`AccountSessions`' ``prepare``. The STS calls
    (GetCallerIdentity, AssumeRole) go through the ``home`` factory's session: attach it there too to
    count them (``bench/fleet.py`` does, as the caller's)."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.by_api: dict[str, int] = {}
        self.by_account: dict[str, int] = {}

    def attach(self, session: boto3.Session, account: str) -> None:
        """Count every call of clients made from ``session`` later, as ``account``'s."""

        def count(event_name: str = "", **_: Any) -> None:
            service, operation = [*event_name.split(".", 2), "", ""][1:3]
            with self.lock:
                api = f"{service}:{operation}"
                self.by_api[api] = self.by_api.get(api, 0) + 1
                self.by_account[account] = self.by_account.get(account, 0) + 1

        session.events.register("provide-client-params", count)

    @property
    def total(self) -> int:
        return sum(self.by_api.values())
