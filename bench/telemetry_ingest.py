"""Telemetry ingest on a local MariaDB/MySQL server: the example's batched INSERT against one INSERT
per reading (what the seed lesson's endpoint did per request), both through the same
StatementExecutor as the ``app`` user, measured in the same run.

Each round sends the same readings both ways into an emptied table, in a random order of the
two methods; batch sizes are swept (10, 50, 100). Printed per batch size: mean, p95 and max
milliseconds per reading for each method, and the speed-up (single / batched). Exits non-zero if
batching is not faster at 50 or more per batch. Skips (exit 0) without a server binary.

    .venv/bin/python bench/telemetry_ingest.py [--readings 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TELEMETRY = ROOT / "examples" / "telemetry"
for path in (ROOT, TELEMETRY, TELEMETRY / "ingest"):
    sys.path.insert(0, str(path))

from dbscale.core.bootstrap import DbApiExecutor, Grant, UserSpec, bootstrap, load_migrations  # noqa: E402

PASSWORD = "BenchAppPassw0rd12345"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    import load_generator
    import telemetry_ingest

    from tests.dbservers import ServerUnavailable, mysql_server

    try:
        context = mysql_server()
        server = context.__enter__()
    except ServerUnavailable as err:
        print(f"telemetry_ingest: skipped: {err}")
        return 0
    failed = False
    try:
        admin = server.connect()
        user = UserSpec("app", "bench", (Grant.parse("SELECT, INSERT, DELETE ON telemetry.*"),))
        bootstrap(DbApiExecutor(admin, "mysql"), load_migrations(TELEMETRY / "sql" / "migrations"), [(user, PASSWORD)])
        app = server.connect(user="app", password=PASSWORD)
        executor = DbApiExecutor(app, "mysql")
        start = datetime(2026, 11, 25, tzinfo=timezone.utc)
        body = list(load_generator.readings(args.readings, 50, seed=11, start=start))
        all_readings = [
            reading
            for n in range(0, len(body), 100)
            for reading in telemetry_ingest.parse_readings(json.dumps(body[n : n + 100]))
        ]
        rng = random.Random(5)
        print(
            f"telemetry_ingest: {len(all_readings)} readings x {args.rounds} rounds per batch size, "
            "MariaDB on 127.0.0.1"
        )
        print(f"{'batch':>5}  {'single mean/p95/max ms':>24}  {'batched mean/p95/max ms':>24}  speed-up")
        for batch in (10, 50, 100):
            single: list[float] = []
            batched: list[float] = []
            for _ in range(args.rounds):
                order = ["single", "batched"]
                rng.shuffle(order)
                for method in order:
                    executor.execute("DELETE FROM telemetry.telemetry")
                    for n in range(0, len(all_readings), batch):
                        chunk = all_readings[n : n + batch]
                        began = time.perf_counter()
                        if method == "single":
                            for reading in chunk:
                                telemetry_ingest.write_readings(executor, [reading])
                        else:
                            telemetry_ingest.write_readings(executor, chunk)
                        per_reading = (time.perf_counter() - began) * 1000 / len(chunk)
                        (single if method == "single" else batched).append(per_reading)
            ratio = statistics.fmean(single) / statistics.fmean(batched)
            print(
                f"{batch:>5}  {statistics.fmean(single):8.3f} {p95(single):7.3f} {max(single):7.3f}  "
                f"{statistics.fmean(batched):8.3f} {p95(batched):7.3f} {max(batched):7.3f}  {ratio:6.1f}x"
            )
            if batch >= 50 and ratio <= 1.0:
                failed = True
        app.close()
        admin.close()
    finally:
        context.__exit__(None, None, None)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
