"""Completion signals: the outcome of an operation that outlasts CloudFormation's ServiceTimeout,
sent to a CloudFormation wait condition handle.

A resource given ``CompletionSignalUrl`` (the ``Ref`` of an ``AWS::CloudFormation::WaitConditionHandle``)
answers its request as soon as AWS has accepted the change, keeps polling, and then PUTs the
outcome to the handle: ``SUCCESS`` with the final attributes as the signal's ``Data``, or
``FAILURE`` with the reason, which fails the wait condition and rolls the stack back with the
real cause. ``CompletionSignalTimeout`` (seconds, at most 43,200 like the wait condition's
``Timeout``; default 43,200) bounds how long dbscale keeps polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbscale.core.errors import InvalidRequest

from .answer import clip_reason, send_cfn_response

SIGNAL_URL_PROPERTY = "CompletionSignalUrl"
SIGNAL_TIMEOUT_PROPERTY = "CompletionSignalTimeout"
MAX_SIGNAL_TIMEOUT_SECONDS = 43_200
"""A wait condition waits at most 12 hours."""
DATA_SEPARATOR = "|"
"""Attribute values in a signal's Data, in the resource type's ``signal_attributes`` order: no
value dbscale reports contains it (identifiers, endpoints, numbers, ARNs)."""
SIGNAL_MARGIN_SECONDS = 120.0
"""An operation with a completion signal ends this long before the wait condition's timeout
(seconds): more than a sparse check's interval, so its FAILURE signal still lands in time."""
AURORA_CLONE_SIGNAL_ATTRIBUTES = (
    "Endpoint.Address",
    "Endpoint.Port",
    "ReadEndpoint.Address",
    "ClusterIdentifier",
    "ClusterArn",
    "ClonedFrom",
    "SecretArn",
)
"""Attributes a ``Custom::AuroraClone`` completion signal carries, in this order (its handler sends
them, the AuroraClone construct reads them back by position)."""


@dataclass(frozen=True)
class CompletionSignal:
    """Where and for how long to signal: the handle's presigned URL and the timeout (seconds)."""

    url: str
    timeout_seconds: int


def completion_signal(raw: dict[str, Any] | None) -> CompletionSignal | None:
    """The request's completion signal, or None without ``CompletionSignalUrl``; InvalidRequest when malformed."""
    raw = raw or {}
    url = raw.get(SIGNAL_URL_PROPERTY)
    if url in (None, ""):
        if raw.get(SIGNAL_TIMEOUT_PROPERTY) not in (None, ""):
            raise InvalidRequest(
                f"{SIGNAL_TIMEOUT_PROPERTY} needs {SIGNAL_URL_PROPERTY} (a wait condition handle)",
                field=SIGNAL_TIMEOUT_PROPERTY,
            )
        return None
    if not isinstance(url, str) or not url.startswith("https://") or any(ord(c) < 33 for c in url):
        raise InvalidRequest(
            f"{SIGNAL_URL_PROPERTY} must be the https URL of a wait condition handle (its Ref)",
            field=SIGNAL_URL_PROPERTY,
        )
    timeout = raw.get(SIGNAL_TIMEOUT_PROPERTY)
    seconds = MAX_SIGNAL_TIMEOUT_SECONDS
    if timeout not in (None, ""):
        text = str(timeout).strip()
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_SIGNAL_TIMEOUT_SECONDS:
            raise InvalidRequest(
                f"{SIGNAL_TIMEOUT_PROPERTY} must be a whole number of seconds from 1 to {MAX_SIGNAL_TIMEOUT_SECONDS}, "
                f"got {timeout!r}",
                field=SIGNAL_TIMEOUT_PROPERTY,
            )
        seconds = int(text)
    return CompletionSignal(url, seconds)


def signal_data(attributes: dict[str, str], order: tuple[str, ...]) -> str:
    """The attributes in ``order``, joined by ``|`` (what a construct splits ``WaitCondition.Data`` by)."""
    return DATA_SEPARATOR.join(str(attributes.get(name, "")).replace(DATA_SEPARATOR, "") for name in order)


def send_signal(
    signal: CompletionSignal,
    *,
    success: bool,
    unique_id: str,
    reason: str,
    data: str,
    ssl_verify: bool | str | None,
    budget_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """PUT the outcome to the wait condition handle (bounded retries and time, like a response;
    ``sleep`` waits between attempts, default ``time.sleep``)."""
    body = {
        "Status": "SUCCESS" if success else "FAILURE",
        "UniqueId": unique_id,
        "Reason": clip_reason(reason or ("done" if success else "failed")),
        "Data": data,
    }
    return send_cfn_response(signal.url, body, ssl_verify, budget_seconds=budget_seconds, sleep=sleep)
