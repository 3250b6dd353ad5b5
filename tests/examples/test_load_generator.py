"""examples/telemetry/load_generator.py: bounded in readings and time, batches as asked, SigV4-signed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from load_generator import _signed, run


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[list[dict[str, Any]]]]]:
    received: list[list[dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"written": 1}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()


def test_sends_exactly_count_readings_in_batches(endpoint: tuple[str, list[list[dict[str, Any]]]]) -> None:
    url, received = endpoint
    summary = run(url, count=230, seconds=30, devices=7, batch=50, rate=1000, signed=False)
    assert summary["sent"] == 230 and summary["failed"] == 0 and summary["requests"] == 5
    assert [len(b) for b in received] == [50, 50, 50, 50, 30]
    assert {r["device_id"] for b in received for r in b} <= {f"dev{i:03d}" for i in range(7)}


def test_stops_at_the_time_bound(endpoint: tuple[str, list[list[dict[str, Any]]]]) -> None:
    url, _ = endpoint
    summary = run(url, count=100_000, seconds=0.3, devices=3, batch=10, rate=20, signed=False)
    assert summary["seconds"] < 2 and 0 < summary["requests"] <= 8


@pytest.mark.parametrize(
    "kwargs", [{"count": 0}, {"count": 100_001}, {"seconds": 0}, {"seconds": 3601}, {"batch": 101}, {"rate": 0}]
)
def test_bounds_are_enforced(kwargs: dict[str, Any]) -> None:
    base = {"count": 10, "seconds": 1.0, "devices": 1, "batch": 10, "rate": 1.0}
    with pytest.raises(ValueError):
        run("http://127.0.0.1:9/", **{**base, **kwargs}, signed=False)  # type: ignore[arg-type]


def test_requests_are_signed_for_lambda_in_the_url_region() -> None:
    request = _signed("https://abc123.lambda-url.eu-west-1.on.aws/", b"[]")
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/lambda/aws4_request" in authorization
