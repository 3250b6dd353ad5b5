"""examples/telemetry on a real MariaDB server: the migrations, the ingest handler (as the ``app``
user, through the StatementExecutor interface) and every analytics query on generated telemetry
with known figures."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import telemetry_analytics
import telemetry_ingest
from load_generator import readings

from dbscale.core.bootstrap import DbApiExecutor

from .conftest import APP_PASSWORD

START = datetime(2026, 11, 25, 17, 0, 0, tzinfo=timezone.utc)
COUNT = 3000
DEVICES = 40


def post(body: Any, method: str = "POST") -> dict[str, Any]:
    return {"requestContext": {"http": {"method": method}}, "body": json.dumps(body), "isBase64Encoded": False}


@pytest.fixture
def app_executor(telemetry_db: Any) -> Iterator[DbApiExecutor]:
    connection = telemetry_db.connect(user="app", password=APP_PASSWORD)
    try:
        yield DbApiExecutor(connection, "mysql")
    finally:
        connection.close()


@pytest.fixture
def loaded(app_executor: DbApiExecutor) -> list[dict[str, Any]]:
    """COUNT readings from DEVICES devices, ingested through the handler in batches of 100."""
    sent = list(readings(COUNT, DEVICES, seed=16, start=START))
    for n in range(0, COUNT, 100):
        answer = telemetry_ingest.handle(post(sent[n : n + 100]), app_executor)
        assert answer["statusCode"] == 200, answer
        assert json.loads(answer["body"]) == {"written": len(sent[n : n + 100])}
    return sent


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 0.0051


def test_every_reading_is_stored_once_with_its_document(
    app_executor: DbApiExecutor, loaded: list[dict[str, Any]]
) -> None:
    rows = app_executor.execute(
        "SELECT device_id, entry_ts, cpu_usage, memory_usage, data FROM telemetry.telemetry ORDER BY id"
    )
    assert len(rows) == COUNT
    first = loaded[0]
    device, entry_ts, cpu, memory, data = rows[0]
    assert (device, cpu, memory) == (first["device_id"], first["cpu_usage"], first["memory_usage"])
    assert entry_ts == START.replace(tzinfo=None)
    assert json.loads(data) == first


def test_analytics_return_the_expected_figures(app_executor: DbApiExecutor, loaded: list[dict[str, Any]]) -> None:
    per_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reading in loaded:
        per_device[reading["device_id"]].append(reading)

    assert telemetry_analytics.query(app_executor, "devices") == [(DEVICES,)]

    top = telemetry_analytics.query(app_executor, "requests_per_device", limit=10)
    expected = sorted(Counter(r["device_id"] for r in loaded).items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(d, int(n)) for d, n in top] == expected

    # A 10-second window: readings are 10 ms apart, so exactly 1000 of them.
    start, end = START + timedelta(seconds=5), START + timedelta(seconds=15)
    window = [r for r in loaded if start <= datetime.fromisoformat(r["timestamp"]) < end]
    assert len(window) == 1000
    ((points, avg_cpu, max_cpu),) = telemetry_analytics.query(
        app_executor, "cpu_in_window", start=start.strftime("%Y-%m-%d %H:%M:%S"), end=end.strftime("%Y-%m-%d %H:%M:%S")
    )
    cpus = [r["cpu_usage"] for r in window]
    assert points == 1000
    assert close(float(avg_cpu), sum(cpus) / len(cpus)) and close(float(max_cpu), max(cpus))

    since = START + timedelta(seconds=20)
    metrics = telemetry_analytics.query(
        app_executor, "device_metrics", since=since.strftime("%Y-%m-%d %H:%M:%S"), limit=5
    )
    recent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for reading in loaded:
        if datetime.fromisoformat(reading["timestamp"]) > since:
            recent[reading["device_id"]].append(reading)
    ranked = sorted(recent.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    assert [row[0] for row in metrics] == [device for device, _ in ranked]
    for row, (_, items) in zip(metrics, ranked, strict=True):
        cpu = [r["cpu_usage"] for r in items]
        memory = [r["memory_usage"] for r in items]
        assert row[1] == len(items)
        for got, want in zip(
            row[2:8],
            (min(cpu), sum(cpu) / len(cpu), max(cpu), min(memory), sum(memory) / len(memory), max(memory)),
            strict=True,
        ):
            assert close(float(got), want)
        latest = max(datetime.fromisoformat(r["timestamp"]) for r in items)
        assert row[8] == latest.replace(tzinfo=None)


def test_ingest_refuses_bad_readings_and_writes_nothing(app_executor: DbApiExecutor) -> None:
    good = {"device_id": "d1", "timestamp": "2026-11-25T17:00:00Z", "cpu_usage": 0.5, "memory_usage": 0.2}
    cases = [
        ({**good, "cpu_usage": 1.5}, "cpu_usage must be from 0 to 1"),
        ({**good, "memory_usage": "high"}, "memory_usage must be a number"),
        ({**good, "device_id": "x'; DROP TABLE telemetry; --"}, "device_id must be"),
        ({**good, "timestamp": "yesterday"}, "timestamp must be ISO 8601"),
        ([good] * 101, "send 1 to 100 readings"),
        ([good, 3], "reading 1: must be a JSON object"),
    ]
    for body, message in cases:
        answer = telemetry_ingest.handle(post(body), app_executor)
        assert answer["statusCode"] == 400 and message in json.loads(answer["body"])["error"], (body, answer)
    assert telemetry_ingest.handle(post(good, method="GET"), app_executor)["statusCode"] == 405
    assert app_executor.execute("SELECT COUNT(*) FROM telemetry.telemetry") == [(0,)]
    # Epoch seconds and an offset are both UTC in the table.
    for stamp in (1795626000, "2026-11-25T18:00:00+01:00"):
        answer = telemetry_ingest.handle(post({**good, "timestamp": stamp}), app_executor)
        assert answer["statusCode"] == 200
    stamps = app_executor.execute("SELECT entry_ts FROM telemetry.telemetry ORDER BY id")
    assert stamps == [(datetime(2026, 11, 25, 17, 0),), (datetime(2026, 11, 25, 17, 0),)]


def test_the_app_user_cannot_change_the_schema_or_delete(app_executor: DbApiExecutor) -> None:
    from dbscale.core.errors import StatementFailed

    for sql in (
        "DELETE FROM telemetry.telemetry",
        "DROP TABLE telemetry.telemetry",
        "CREATE TABLE telemetry.x (a INT)",
    ):
        with pytest.raises(StatementFailed, match="denied"):
            app_executor.execute(sql)


def test_generated_readings_are_deterministic_and_skewed() -> None:
    a = list(readings(500, 10, seed=3, start=START))
    assert a == list(readings(500, 10, seed=3, start=START))
    counts = Counter(r["device_id"] for r in a)
    assert len(counts) == 10 and max(counts.values()) > 2 * min(counts.values())
