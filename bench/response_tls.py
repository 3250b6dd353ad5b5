"""The answer to CloudFormation in a warm Lambda: one PUT over TLS to a server on 127.0.0.1, with the
client TLS context made once per process (dbscale.cfn.answer.tls_context) against making it
for every answer (what send_cfn_response did before, and what a plain urllib/http.client sender does).

Both variants run interleaved in random order in the same process, over answers of swept sizes
(Reason and Data from 0 to ~4 KB); prints mean, p95 and max per answer and their ratio. Making a
context loads the system CA store; only that differs between the two.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import trustme  # noqa: E402

from dbscale.cfn import answer as response  # noqa: E402
from tests.e2e.harness import ResponseServer  # noqa: E402

ANSWERS = 150  # per variant


def body(size: int) -> dict[str, Any]:
    return {
        "Status": "SUCCESS",
        "Reason": "x" * size,
        "PhysicalResourceId": "warehouse",
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "Cluster",
        "Data": {"Note": "y" * size},
    }


def main() -> int:
    ca = trustme.CA()
    ca_file = str(Path(tempfile.mkdtemp(prefix="dbscale-bench-")) / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    server = ResponseServer(ca)
    rng = random.Random(21)
    fresh_context = response.tls_context.__wrapped__  # the same function, not cached
    timings: dict[str, list[float]] = {"cached": [], "per answer": []}
    try:
        response.tls_context(ca_file)  # the one context a warm process keeps
        plan = [(variant, rng.randrange(0, 2000)) for variant in timings for _ in range(ANSWERS)]
        rng.shuffle(plan)
        for variant, size in plan:
            original = response.tls_context
            if variant == "per answer":
                response.tls_context = fresh_context  # type: ignore[assignment]
            try:
                started = time.perf_counter()
                sent = response.send_cfn_response(server.url(), body(size), ca_file)
                timings[variant].append(time.perf_counter() - started)
            finally:
                response.tls_context = original  # type: ignore[assignment]
            if not sent:
                raise SystemExit("an answer was not accepted")
    finally:
        server.close()
        Path(ca_file).unlink(missing_ok=True)
    print(f"{ANSWERS} answers per variant, random order, Reason/Data sizes 0-2,000 characters each")
    for variant, values in timings.items():
        ms = sorted(v * 1000 for v in values)
        p95 = ms[int(0.95 * (len(ms) - 1))]
        mean = statistics.fmean(ms)
        print(f"  TLS context {variant:10s}: mean {mean:6.2f} ms  p95 {p95:6.2f} ms  max {ms[-1]:6.2f} ms")
    ratio = statistics.fmean(timings["cached"]) / statistics.fmean(timings["per answer"])
    print(f"  ratio cached / per answer (mean): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
