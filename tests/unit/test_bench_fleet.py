"""``bench/fleet.py --quick``: status and advise across accounts on moto, every cluster found once,
CloudWatch read in as few GetMetricData calls as the API allows, STS asked once per account."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.bench_runner import quick_figures

pytestmark = pytest.mark.bench

ACCOUNTS, REGIONS = 2, 2  # --quick's fleet


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return quick_figures("fleet.py", timeout=300)


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
