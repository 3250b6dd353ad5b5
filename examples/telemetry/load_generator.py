"""Send generated telemetry to the ingest function URL: bounded in readings and in time.

    python examples/telemetry/load_generator.py https://<id>.lambda-url.<region>.on.aws/ \
        --count 5000 --seconds 120 --devices 50 --batch 50 --rate 20

Stops at whichever comes first: ``--count`` readings (at most 100000) or ``--seconds`` (at most
3600). Requests are signed with SigV4 from your AWS credentials (the function URL uses AWS_IAM
auth); ``--unsigned`` is for a local server. Prints a summary: sent, failed, requests/s, p95 latency.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

MAX_COUNT = 100_000
MAX_SECONDS = 3600.0


def readings(count: int, devices: int, seed: int = 1, start: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``count`` readings from devices ``dev000``...: device ids skewed (some devices send more),
    one reading per 10 ms of simulated time from ``start``, CPU and memory usage as fractions."""
    rng = random.Random(seed)
    start = start or datetime.now(timezone.utc)
    weights = [1 + (i % 7) for i in range(devices)]
    names = [f"dev{i:03d}" for i in range(devices)]
    for n in range(count):
        device = rng.choices(names, weights)[0]
        yield {
            "device_id": device,
            "timestamp": (start + timedelta(milliseconds=10 * n)).isoformat(timespec="milliseconds"),
            "cpu_usage": round(rng.uniform(0.05, 1.0), 3),
            "memory_usage": round(rng.uniform(0.0, 0.9), 3),
        }


def _signed(url: str, body: bytes) -> urllib.request.Request:
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    region = url.split(".lambda-url.")[1].split(".")[0] if ".lambda-url." in url else session.region_name
    request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
    SigV4Auth(session.get_credentials(), "lambda", region).add_auth(request)
    return urllib.request.Request(url, data=body, headers=dict(request.headers.items()), method="POST")


def run(
    url: str, *, count: int, seconds: float, devices: int, batch: int, rate: float, signed: bool = True
) -> dict[str, Any]:
    """Send the readings in batches at about ``rate`` requests per second; the summary."""
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1 to {MAX_COUNT}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be above 0 and at most {MAX_SECONDS:g}")
    if not 1 <= batch <= 100 or rate <= 0 or devices < 1:
        raise ValueError("batch must be 1 to 100, rate above 0, devices at least 1")
    started = time.monotonic()
    sent = failed = 0
    latencies: list[float] = []
    pending: list[dict[str, Any]] = []
    source = readings(count, devices)
    while True:
        pending = list(itertools.islice(source, batch))
        if not pending or time.monotonic() - started >= seconds:
            break
        body = json.dumps(pending).encode()
        request = (
            _signed(url, body)
            if signed
            else urllib.request.Request(url, body, {"content-type": "application/json"}, method="POST")
        )
        began = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                ok = response.status == 200
        except (urllib.error.URLError, TimeoutError):
            ok = False
        latencies.append(time.monotonic() - began)
        if ok:
            sent += len(pending)
        else:
            failed += len(pending)
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - began)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "sent": sent,
        "failed": failed,
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1) if ordered else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--unsigned", action="store_true", help="no SigV4 (a local server)")
    args = parser.parse_args(argv)
    summary = run(
        args.url,
        count=args.count,
        seconds=args.seconds,
        devices=args.devices,
        batch=args.batch,
        rate=args.rate,
        signed=not args.unsigned,
    )
    print(json.dumps(summary))
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
