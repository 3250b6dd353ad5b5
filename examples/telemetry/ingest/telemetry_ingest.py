"""Telemetry ingest: a Lambda function URL that writes device readings to Aurora MySQL.

POST a JSON reading, or a list of up to 100:

    {"device_id": "abc41", "timestamp": "2026-11-25T17:04:50Z", "cpu_usage": 0.42, "memory_usage": 0.2}

``timestamp`` is ISO 8601 (an offset or ``Z``; none means UTC) or seconds since the epoch;
``cpu_usage`` and ``memory_usage`` are fractions from 0 to 1. Other keys are kept in the row's
``data`` document. Answers 200 ``{"written": n}``, 400 naming the bad field, 405, 413, or 503
with ``Retry-After`` while an auto-paused cluster resumes.

In AWS the rows go through the RDS Data API as the application user (``CLUSTER_ARN``,
``SECRET_ARN`` and ``DATABASE`` in the environment); locally and in tests, through a DB-API
connection: the same :class:`StatementExecutor` interface either way.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dbscale.core.bootstrap.executors import RdsDataExecutor, StatementExecutor
from dbscale.core.errors import DatabaseResuming, DbscaleError

LOG = logging.getLogger("telemetry-ingest")
LOG.setLevel(logging.INFO)

MAX_BODY_BYTES = 256 * 1024
MAX_READINGS = 100
MAX_EXTRA_BYTES = 4096
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
INSERT_COLUMNS = "(device_id, entry_ts, cpu_usage, memory_usage, data)"


class BadReading(ValueError):
    """A reading the API refuses (400); the message names the field."""


@dataclass(frozen=True)
class Reading:
    device_id: str
    entry_ts: datetime
    cpu_usage: float
    memory_usage: float
    data: str

    @property
    def entry_ts_text(self) -> str:
        return self.entry_ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _fraction(document: dict[str, Any], key: str, index: int) -> float:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadReading(f"reading {index}: {key} must be a number from 0 to 1, got {value!r}")
    if not 0 <= value <= 1:
        raise BadReading(f"reading {index}: {key} must be from 0 to 1, got {value!r}")
    return float(value)


def _timestamp(value: Any, index: int) -> datetime:
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            stamp = datetime.fromtimestamp(float(value), tz=timezone.utc)
        elif isinstance(value, str):
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
            stamp = stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)
        else:
            raise ValueError
    except (ValueError, OverflowError, OSError):
        raise BadReading(f"reading {index}: timestamp must be ISO 8601 or epoch seconds, got {value!r}") from None
    if not EARLIEST <= stamp < LATEST:
        raise BadReading(f"reading {index}: timestamp {value!r} is outside 2000-2099")
    return stamp


def parse_readings(body: str | bytes) -> list[Reading]:
    """The readings of a request body; BadReading naming the first bad field."""
    if len(body) > MAX_BODY_BYTES:
        raise BadReading(f"the body is larger than {MAX_BODY_BYTES // 1024} KiB")
    try:
        parsed = json.loads(body)
    except ValueError:
        raise BadReading("the body is not JSON") from None
    documents = parsed if isinstance(parsed, list) else [parsed]
    if not documents or len(documents) > MAX_READINGS:
        raise BadReading(f"send 1 to {MAX_READINGS} readings, got {len(documents)}")
    readings = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise BadReading(f"reading {index}: must be a JSON object")
        device = document.get("device_id")
        if not isinstance(device, str) or not DEVICE_ID.match(device):
            raise BadReading(f"reading {index}: device_id must be 1-64 letters, digits or _.:-, got {device!r}")
        data = json.dumps(document, separators=(",", ":"), sort_keys=True)
        if len(data) > MAX_EXTRA_BYTES:
            raise BadReading(f"reading {index}: larger than {MAX_EXTRA_BYTES} bytes")
        readings.append(
            Reading(
                device,
                _timestamp(document.get("timestamp"), index),
                _fraction(document, "cpu_usage", index),
                _fraction(document, "memory_usage", index),
                data,
            )
        )
    return readings


def write_readings(executor: StatementExecutor, readings: Sequence[Reading]) -> int:
    """Insert ``readings`` in one parameterized statement; returns how many."""
    rows, parameters = [], {}
    for n, reading in enumerate(readings):
        rows.append(f"(:d{n}, :t{n}, :c{n}, :m{n}, :j{n})")
        parameters.update(
            {
                f"d{n}": reading.device_id,
                f"t{n}": reading.entry_ts_text,
                f"c{n}": reading.cpu_usage,
                f"m{n}": reading.memory_usage,
                f"j{n}": reading.data,
            }
        )
    executor.execute(f"INSERT INTO telemetry.telemetry {INSERT_COLUMNS} VALUES {', '.join(rows)}", parameters)
    return len(readings)


_EXECUTOR: StatementExecutor | None = None


def executor_from_environment() -> StatementExecutor:
    """The RDS Data API as the application user, made once per container."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = RdsDataExecutor(
            os.environ["CLUSTER_ARN"], os.environ["SECRET_ARN"], "mysql", database=os.environ.get("DATABASE")
        )
    return _EXECUTOR


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def handle(event: dict[str, Any], executor: StatementExecutor) -> dict[str, Any]:
    """A function URL (payload 2.0) request -> its response, writing through ``executor``."""
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    if method != "POST":
        return _answer(405, {"error": "POST a JSON reading or a list of readings"}, {"allow": "POST"})
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, {"error": f"the body is larger than {MAX_BODY_BYTES // 1024} KiB"})
    try:
        readings = parse_readings(body)
    except BadReading as err:
        return _answer(400, {"error": str(err)})
    try:
        written = write_readings(executor, readings)
    except DatabaseResuming:
        return _answer(503, {"error": "the database is resuming; retry shortly"}, {"retry-after": "15"})
    except DbscaleError as err:
        LOG.error("could not write %d readings: %s", len(readings), type(err).__name__)
        return _answer(500, {"error": "could not store the readings"})
    LOG.info(json.dumps({"written": written}))
    return _answer(200, {"written": written})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point."""
    return handle(event, executor_from_environment())
