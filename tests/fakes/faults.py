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
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    content_type = str(headers.get("content-type", ""))
    if "json" in content_type or "x-amz-target" in headers:
        body = json.dumps({"__type": "ThrottlingException", "message": message}).encode()
        response_headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": "ThrottlingException"}
    else:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            f"<Message>{message}</Message></Error><RequestId>dbscale-fake-throttle</RequestId></ErrorResponse>"
        ).encode()
        response_headers = {"Content-Type": "text/xml"}
    return AWSResponse(request.url, 400, response_headers, _Body(body))


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
