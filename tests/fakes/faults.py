"""Deterministic AWS faults, injected where botocore sends a request.

* :class:`ThrottleInjector`: a seeded fraction of requests get an HTTP 400 ``Throttling`` /
  ``ThrottlingException`` response in the service's wire format, so botocore's retry handler
  parses and retries it exactly as it would a real one.
* :class:`LostResponses`: chosen requests reach AWS (moto) and take effect, but the response is
  lost (a read timeout), so botocore retries a request AWS already carried out.

Both answer botocore's ``before-send`` event, ahead of moto's own handler.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from .clock import FakeClock

_UNIQUE_ID = "dbscale-tests-throttle"


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def throttling_response(request: Any, message: str = "Rate exceeded") -> AWSResponse:
    """A 400 throttling response in the protocol of ``request`` (JSON or query/XML)."""
    return error_response(request, "Throttling", message, json_code="ThrottlingException")


FAULT_URL = "https://dbscale-injected-fault.invalid/"
"""Where an injected error sends its request instead of moto (see :func:`error_response`)."""


def error_response(
    request: Any, code: str, message: str, *, status: int = 400, json_code: str | None = None
) -> AWSResponse:
    """An AWS error response with ``code`` in the protocol of ``request`` (JSON or query/XML)."""
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    content_type = str(headers.get("content-type", ""))
    if "json" in content_type or "x-amz-target" in headers:
        code = json_code or code
        body = json.dumps({"__type": code, "message": message}).encode()
        response_headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    elif "lambda" in str(request.url):  # Lambda's REST-JSON protocol
        body = json.dumps({"Type": "User", "message": message}).encode()
        response_headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>dbscale-fake-error</RequestId></ErrorResponse>"
        ).encode()
        response_headers = {"Content-Type": "text/xml"}
    response = AWSResponse(request.url, status, response_headers, _Body(body))
    # botocore calls every before-send handler, moto's stubber among them, and only then takes the
    # first response: without this the "failed" call would still happen in moto. A host no backend
    # serves makes moto's stubber pass, so AWS does nothing, as for a real error.
    request.url = FAULT_URL
    return response


class FailingCalls:
    """``fail("PutRule", "AccessDeniedException")``: every attempt of that operation gets the error
    (``times`` limits how many), before it reaches moto, so AWS does nothing."""

    def __init__(self) -> None:
        self._rules: dict[str, list[Any]] = {}
        self.failed: Counter[str] = Counter()

    def fail(self, operation: str, code: str, *, times: int = 10**9, status: int = 400) -> None:
        self._rules[operation] = [code, times, status]

    def attach(self, events: Any) -> None:
        events.register_first("before-send", self._before_send, unique_id=_UNIQUE_ID + "-failing")

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        rule = self._rules.get(operation)
        if rule is None or rule[1] <= 0:
            return None
        rule[1] -= 1
        self.failed[operation] += 1
        return error_response(request, rule[0], f"simulated {rule[0]}", status=rule[2])


class ThrottleInjector:
    """Throttles a ``rate`` fraction of requests (each attempt draws from a seeded RNG).

    ``rate`` 0 (the default) is off. ``operations`` limits it to those API names. ``injected``
    counts the throttling responses given, ``attempts`` the requests considered.
    """

    def __init__(self, rate: float = 0.0, *, seed: int = 1234, operations: Iterable[str] | None = None) -> None:
        self.rate = rate
        self.operations = set(operations) if operations is not None else None
        self._random = random.Random(seed)
        self.attempts = 0
        self.injected = 0
        self.injected_by_operation: Counter[str] = Counter()

    def attach(self, events: Any) -> None:
        """Hook into a session's event system, ahead of moto's handler."""
        events.register_first("before-send", self._before_send, unique_id=_UNIQUE_ID)

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        if self.rate <= 0:
            return None
        operation = event_name.rsplit(".", 1)[-1]
        if self.operations is not None and operation not in self.operations:
            return None
        self.attempts += 1
        if self._random.random() >= self.rate:
            return None
        self.injected += 1
        self.injected_by_operation[operation] += 1
        return throttling_response(request)


class LostResponses:
    """Lose the response of the next ``times`` attempts of an operation after AWS carried it out.

    ``lose("CreateCluster")`` makes the next CreateCluster reach moto (the cluster is created) and
    then fail with a read timeout; botocore retries it and the retry meets the result of the first
    attempt (e.g. ``ClusterAlreadyExists``), as after a real network failure.
    """

    def __init__(self) -> None:
        self._pending: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()

    def lose(self, operation: str, times: int = 1) -> None:
        self._pending[operation] += times

    def attach(self, events: Any) -> None:
        events.register_first("before-send", self._before_send, unique_id=_UNIQUE_ID + "-lost")

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if self._pending[operation] <= 0:
            return None
        from moto.core.models import botocore_stubber

        self._pending[operation] -= 1
        botocore_stubber(event_name=event_name, request=request)  # AWS carries the request out
        self.lost[operation] += 1
        raise ReadTimeoutError(endpoint_url=request.url, error="simulated: the response was lost")


class BackoffOnClock:
    """Stands in for the ``time`` module inside ``botocore.endpoint``: retry backoff sleeps advance
    a :class:`FakeClock` instead of blocking. Everything else is the real ``time`` module."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.backoffs: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.backoffs.append(seconds)
        self._clock.advance(max(0.0, seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class StrictEventBridge:
    """AWS limits moto does not enforce on EventBridge: a target's constant ``Input`` is at most
    8,192 characters (PutTargets answers ValidationException, nothing is stored)."""

    INPUT_MAX_CHARS = 8192

    def attach(self, events: Any) -> None:
        events.register_first("before-send.events.PutTargets", self._before_send, unique_id=_UNIQUE_ID + "-ebstrict")

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
        targets = json.loads(body or "{}").get("Targets", [])
        for target in targets:
            if len(target.get("Input") or "") > self.INPUT_MAX_CHARS:
                return error_response(
                    request,
                    "ValidationException",
                    f"1 validation error detected: Value at 'targets.1.member.input' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {self.INPUT_MAX_CHARS}",
                    json_code="ValidationException",
                )
        return None


class NthCallFault:
    """Fault on the ``n``-th AWS request (every service, every attempt counted) after ``arm()``:
    ``mode="error"`` answers AccessDenied before AWS sees it; ``mode="lost"`` lets AWS carry it out
    and loses the answer (a read timeout). Only that one request is hit."""

    def __init__(self) -> None:
        self.n = 0
        self.mode = "error"
        self.seen = 0
        self.hit: str | None = None

    def arm(self, n: int, mode: str = "error") -> None:
        self.n, self.mode, self.seen, self.hit = n, mode, 0, None

    def attach(self, events: Any) -> None:
        events.register_first("before-send", self._before_send, unique_id=_UNIQUE_ID + "-nth")

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        if self.n <= 0:
            return None
        self.seen += 1
        if self.seen != self.n:
            return None
        self.hit = event_name.rsplit(".", 1)[-1]
        if self.mode == "lost":
            from moto.core.models import botocore_stubber

            botocore_stubber(event_name=event_name, request=request)
            raise ReadTimeoutError(endpoint_url=request.url, error="simulated: the response was lost")
        return error_response(request, "AccessDenied", "simulated fault on the n-th call", status=403)
