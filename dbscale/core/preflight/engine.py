"""The preflight engine: named checks of a request's references, run concurrently, problems collected.

A :class:`Check` reads one property's value in AWS (one Describe or Get call for most) and answers
the :class:`Problem` s it found. :func:`run_preflight` runs a request's checks on a small thread pool
(they are independent reads) and returns every problem, in the order of the checks; :func:`raise_problems`
turns them into one :class:`~dbscale.core.errors.PreflightFailed`.

A check that AWS does not let the caller make (access denied, a throttle that outlasted the retries)
is skipped with a warning: the preflight exists to refuse early what AWS would refuse later, never
to refuse what AWS would accept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..aws import client
from ..errors import PreflightFailed, Problem

LOG = logging.getLogger("dbscale.preflight")
MAX_WORKERS = 6
"""Threads of one preflight: enough for a fully specified template's dozen reads to overlap."""


def error_code(err: BaseException) -> str:
    """AWS's error code of a botocore ``ClientError`` (empty for any other exception)."""
    response = getattr(err, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or "")


class PreflightContext:
    """What every check of one request shares: the session's clients, its region, the parsed
    properties, and reads made once for all checks (a subnet group's VPC, a role)."""

    def __init__(self, session: Any, props: Mapping[str, Any]) -> None:
        self.session = session
        self.props = props
        self._memo: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """The request's (cached) client of ``service``; made under a lock, as a boto3 session may not
        make clients from several threads at once (a made client is thread-safe)."""
        with self._lock:
            return client(service, self.session)

    @property
    def region(self) -> str:
        """The region the request acts in (its clients' region)."""
        if self.session is not None and self.session.region_name:
            return str(self.session.region_name)
        import boto3

        return str(boto3._get_default_session().region_name or "")

    def once(self, key: Any, read: Callable[[], Any]) -> Any:
        """``read()`` the first time ``key`` is asked for, its result (or exception) after that:
        two checks that need the same object cost one call, even when they run at the same time."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._memo:
                try:
                    self._memo[key] = (True, read())
                except Exception as err:  # kept: the second check sees the same failure
                    self._memo[key] = (False, err)
            ok, value = self._memo[key]
        if not ok:
            raise value
        return value


CheckFunction = Callable[[PreflightContext, Any], list[Problem]]


@dataclass(frozen=True)
class Check:
    """One property's check: ``run(context, value)`` answers the problems found (none: it fits).

    ``depends`` names the other properties its verdict reads (a parameter group's family follows
    ``EngineVersion``): on an Update the check runs when any of them changed."""

    property: str
    value: Any
    run: CheckFunction
    depends: tuple[str, ...] = field(default=())

    def changed(self, props: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
        """True when this check's property or one it depends on differs between ``old`` and ``props``."""
        return any(props.get(name) != old.get(name) for name in (self.property, *self.depends))


def only_changed(checks: Sequence[Check], props: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Check]:
    """The checks an Update from ``old`` to ``props`` needs (all of them on a Create: ``old`` None)."""
    if old is None:
        return list(checks)
    return [check for check in checks if check.changed(props, old)]


def _run_one(check: Check, context: PreflightContext) -> list[Problem]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return check.run(context, check.value)
    except (ClientError, BotoCoreError) as err:
        LOG.warning("preflight: could not check %s (%s); left to AWS", check.property, error_code(err) or err)
        return []


def run_preflight(
    checks: Sequence[Check], context: PreflightContext, *, max_workers: int = MAX_WORKERS
) -> list[Problem]:
    """Run ``checks`` (concurrently, at most ``max_workers`` at a time) and return every problem
    found, in the order of the checks. No check, no call."""
    if not checks:
        return []
    if len(checks) == 1 or max_workers <= 1:
        results = [_run_one(check, context) for check in checks]
    else:
        with ThreadPoolExecutor(max_workers=min(max_workers, len(checks)), thread_name_prefix="preflight") as pool:
            results = list(pool.map(lambda check: _run_one(check, context), checks))
    return [problem for found in results for problem in found]


def raise_problems(problems: Sequence[Problem]) -> None:
    """Raise one :class:`PreflightFailed` listing ``problems`` (nothing when there are none)."""
    if problems:
        raise PreflightFailed(list(problems))
