"""The one answer to CloudFormation: sent to its presigned ResponseURL, bounded in attempts and time,
and the one place errors become a FAILED Reason (:func:`failure_reason`)."""

from __future__ import annotations

import functools
import json
import logging
import ssl
import time
from collections.abc import Callable
from http.client import HTTPSConnection
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dbscale.core.errors import AwsError, DbscaleError, InvalidRequest

LOG = logging.getLogger("dbscale")

REASON_MAX_BYTES = 2000
"""A Reason is cut to this many UTF-8 bytes, keeping its beginning (where the cause is)."""
RESPONSE_ATTEMPTS = 5
"""PUT attempts at most (waits 1, 2, 4, 8 s between)."""
RESPONSE_BUDGET_SECONDS = 25.0
"""Default real time the answer may take in all, every attempt and wait included (seconds)."""
ATTEMPT_TIMEOUT_SECONDS = 10.0
"""Socket timeout of one attempt (seconds); shortened to what is left of the budget."""

# Tests replace this (e.g. to serve the ResponseURL from 127.0.0.1 with a private CA, or to fail).
https_connection: Callable[..., Any] = HTTPSConnection


def clip_reason(text: str, limit: int = REASON_MAX_BYTES) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, keeping the beginning (where the cause is)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 20].decode("utf-8", "ignore") + " ... (truncated)"


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


@functools.lru_cache(maxsize=4)
def tls_context(ssl_verify: bool | str | None) -> ssl.SSLContext:
    """The client TLS context for ``ssl_verify`` (None/True: the system CAs; a path: that CA bundle;
    False: no verification), made once per process: loading the system CA store costs ~35 ms, which
    a warm Lambda need not pay again for every answer. A context is never changed once made, and a
    CA bundle file is read when its path is first used (rewriting it later in the process has no effect)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if isinstance(ssl_verify, str):
        context.load_verify_locations(cafile=ssl_verify)
    elif ssl_verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def send_cfn_response(
    url: str,
    body: dict[str, Any],
    ssl_verify: bool | str | None,
    *,
    attempts: int = RESPONSE_ATTEMPTS,
    budget_seconds: float = RESPONSE_BUDGET_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """PUT ``body`` to the presigned ResponseURL; retry non-200 replies and errors with backoff.

    Gives up after ``attempts`` (default 5) or when ``budget_seconds`` of real time (default 25 s)
    are spent, whichever comes first, and returns False: a slow or broken endpoint can never keep
    the function running into its timeout. Never logs the URL.
    """
    payload = json.dumps(body)
    split = urlsplit(url)
    path = urlunsplit(("", "", split.path, split.query, ""))
    context = tls_context(ssl_verify)
    give_up_at = time.monotonic() + budget_seconds
    for attempt in range(1, attempts + 1):
        left = give_up_at - time.monotonic()
        if left <= 0.5:
            break
        try:
            connection = https_connection(split.netloc, context=context, timeout=min(ATTEMPT_TIMEOUT_SECONDS, left))
            try:
                connection.request(
                    "PUT", path, body=payload, headers={"content-type": "", "content-length": str(len(payload))}
                )
                status = connection.getresponse().status
            finally:
                connection.close()
            if status == 200:
                LOG.info("sent %s response to CloudFormation (attempt %d)", body["Status"], attempt)
                return True
            LOG.warning("CloudFormation response endpoint replied HTTP %s (attempt %d/%d)", status, attempt, attempts)
        except (OSError, ValueError) as err:  # connection, TLS, timeout and HTTP protocol errors
            LOG.warning("could not send the response (attempt %d/%d): %s", attempt, attempts, type(err).__name__)
        wait = min(2.0 ** (attempt - 1), give_up_at - time.monotonic() - 0.5)
        if attempt < attempts and wait > 0:
            sleep(wait)
    LOG.error("gave up sending the %s response", body["Status"])
    return False
