"""The telemetry example on a local MariaDB/MySQL server: apply the migrations, create the ``app``
user, ingest a sample through the ingest handler (as ``app``), print every analytics query.

Starts a throwaway server (tests/dbservers.py) when ``mariadbd`` or ``mysqld`` is installed;
otherwise says in one line how to get one and exits 0. Needs no AWS account and no root.
"""

from __future__ import annotations

import json
import secrets
import string
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (ROOT, HERE, HERE / "ingest"):
    sys.path.insert(0, str(path))

from dbscale.core.bootstrap import DbApiExecutor, Grant, UserSpec, bootstrap, load_migrations  # noqa: E402
from dbscale.core.bootstrap.executors import plain_rows  # noqa: E402

SAMPLE = 2000
DEVICES = 25
START = datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)


def main() -> int:
    import load_generator
    import telemetry_analytics
    import telemetry_ingest

    from tests.dbservers import ServerUnavailable, mysql_server

    try:
        context = mysql_server()
        server = context.__enter__()
    except ServerUnavailable as err:
        print(f"  skipped: {err}")
        return 0
    try:
        print(f"  MariaDB/MySQL on 127.0.0.1:{server.port} (a throwaway data directory)")
        password = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
        admin = server.connect()
        try:
            user = UserSpec("app", "local", (Grant.parse("SELECT, INSERT ON telemetry.*"),))
            result = bootstrap(
                DbApiExecutor(admin, "mysql"), load_migrations(HERE / "sql" / "migrations"), [(user, password)]
            )
        finally:
            admin.close()
        print(
            f"  migrations applied: {', '.join(result.migrations.applied)}; "
            f"users created: {', '.join(result.users_created)}"
        )
        app = server.connect(user="app", password=password)
        try:
            executor = DbApiExecutor(app, "mysql")
            readings = list(load_generator.readings(SAMPLE, DEVICES, seed=7, start=START))
            written = 0
            for n in range(0, SAMPLE, 100):
                event = {"requestContext": {"http": {"method": "POST"}}, "body": json.dumps(readings[n : n + 100])}
                answer = telemetry_ingest.handle(event, executor)
                written += json.loads(answer["body"])["written"]
            print(f"  ingested {written} readings from {DEVICES} devices through the ingest handler, as user app")
            window = {"start": "2026-11-25 17:00:05", "end": "2026-11-25 17:00:15"}
            queries = [
                ("devices", {}),
                ("requests_per_device", {"limit": 5}),
                ("cpu_in_window", window),
                (
                    "device_metrics",
                    {"since": (START + timedelta(seconds=10)).strftime("%Y-%m-%d %H:%M:%S"), "limit": 5},
                ),
            ]
            for name, parameters in queries:
                shown = ", ".join(f"{k}={v}" for k, v in parameters.items())
                print(f"  {name}({shown}):")
                for row in plain_rows(telemetry_analytics.query(executor, name, **parameters)):
                    print("    " + "  ".join(str(v) for v in row))
        finally:
            app.close()
    finally:
        context.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
