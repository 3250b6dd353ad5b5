"""The end of ``make demo``: the ``dbscale`` command line on a local AWS (moto_server on 127.0.0.1).

Starts moto_server on a free port, creates three demo clusters with a week of hourly CloudWatch
metrics (office-hours load), then runs what an operator runs first: ``dbscale status``,
``dbscale advise`` and ``dbscale advise --format html`` (writes ``dbscale-advice.html``).
Nothing here talks to a real AWS account.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAYS = 7


def main() -> int:
    import boto3

    from tests.fakes.fleet import (
        create_aurora,
        create_redshift,
        hours_before,
        now_utc,
        office_hours,
        put_aurora_load,
        put_redshift_load,
        steady,
    )

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = tempfile.mkdtemp(prefix="dbscale-demo-")
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="demo",
            AWS_SECRET_ACCESS_KEY="demo",
            AWS_DEFAULT_REGION="us-east-1",
            DBSCALE_STATE_DIR=state,
            DBSCALE_CACHE_DIR=state,
            PYTHONPATH=str(ROOT),
        )
        session = boto3.Session(aws_access_key_id="demo", aws_secret_access_key="demo", region_name="us-east-1")
        rs, rds, cw = (session.client(n, endpoint_url=endpoint) for n in ("redshift", "rds", "cloudwatch"))
        stamps = hours_before(now_utc(), DAYS * 24)
        create_redshift(rs, "demo-sales", "ra3.xlplus", 4)
        put_redshift_load(cw, "demo-sales", stamps, office_hours(20.0))
        orders = create_aurora(rds, "demo-orders", "db.r6g.xlarge")
        put_aurora_load(cw, "demo-orders", orders[0], stamps, steady(70.0), 8 * 1024**3)
        wiki = create_aurora(rds, "demo-wiki", "db.r6g.large", readers=1)
        put_aurora_load(cw, "demo-wiki", wiki[0], stamps, office_hours(10.0, 3), 12 * 1024**3)
        script = shutil.which("dbscale", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "dbscale.cli"]
        out = ROOT / "dbscale-advice.html"
        for args in (
            ["status"],
            ["advise", "--days", str(DAYS)],
            ["advise", "--days", str(DAYS), "--format", "html", "--out", str(out)],
        ):
            print(f"\n$ dbscale {' '.join(args)}", flush=True)
            subprocess.run([*command, *args], env=env, cwd=ROOT, check=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
