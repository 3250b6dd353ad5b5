"""``bench/fleet.py --quick``: status and advise across accounts on moto, every cluster found once,
CloudWatch read in as few GetMetricData calls as the API allows, STS asked once per account."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS, REGIONS = 2, 2  # --quick's fleet


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fleet.py"), "--quick", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_every_cluster_appears_once_in_status_and_advise(figures: dict[str, Any]) -> None:
    assert figures["problems"] == []
    assert len(figures["sizes"]) == 2
    for size in figures["sizes"]:
        assert size["clusters"] == ACCOUNTS * REGIONS * size["per_target"]
        for command in ("status", "advise"):
            f = size[command]
            assert f["found"] == f["distinct"] == size["clusters"], command
            assert f["one_account_found"] == f["one_account_distinct"] == size["clusters"], command


def test_metrics_are_read_in_as_few_calls_as_the_api_allows_per_account_region(figures: dict[str, Any]) -> None:
    for size in figures["sizes"]:
        reads = size["advise"]["reads"]
        assert len(reads) == ACCOUNTS * REGIONS
        for r in reads:  # 7 days of hourly points: 500 queries fit in one call
            assert r["queries"] > 0 and r["largest"] <= 500
            assert r["calls"] <= math.ceil(r["queries"] / 500), r
        assert size["advise"]["by_api"]["cloudwatch:GetMetricData"] == sum(r["calls"] for r in reads)


def test_sts_is_counted_once_per_account_with_the_pool_once_per_run_alone(figures: dict[str, Any]) -> None:
    for command in ("status", "advise"):
        f = figures["sizes"][-1][command]
        assert f["by_api"]["sts:AssumeRole"] == f["one_account_by_api"]["sts:AssumeRole"] == ACCOUNTS
        assert f["by_api"]["sts:GetCallerIdentity"] == 1
        assert f["one_account_by_api"]["sts:GetCallerIdentity"] == ACCOUNTS
        assert sum(v for k, v in f["by_account"].items() if k != "caller") == f["calls"] - ACCOUNTS - 1
        assert figures["sizes"][-1][command]["peak_bytes"] > 0
