"""``bench/preflight.py --quick``: what the preflight adds to a request, measured beside the same
request without it, in one run of under 10 s: no request fails, an absent property costs no call, an
Update that changes nothing referential costs none, and the pool beats one worker under latency."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.bench_runner import quick_figures

pytestmark = pytest.mark.bench



@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    started = time.monotonic()
    found = quick_figures("preflight.py", timeout=120)
    found["seconds"] = time.monotonic() - started
    return found


def added(cell: dict[str, Any]) -> float:
    return float(cell["on"]["calls"] - cell["off"]["calls"])


def test_the_quick_bench_measures_every_type_with_and_without_the_preflight(figures: dict[str, Any]) -> None:
    assert figures["problems"] == []
    assert sorted(figures["creates"]) == sorted(
        ["Custom::RedshiftCluster", "Custom::AuroraCluster", "Custom::AuroraClone", "Custom::DatabaseBootstrap"]
    )
    for cells in figures["creates"].values():
        for cell in cells.values():
            assert cell["on"]["errors"] == cell["off"]["errors"] == []
            assert 0 <= added(cell) <= cell["max_expected_extra"]
    assert figures["seconds"] < 30  # < 10 s on an idle machine; the margin is for a shared CI runner


def test_a_minimal_create_adds_only_the_quota_read_and_a_full_one_a_read_per_reference(
    figures: dict[str, Any],
) -> None:
    creates = figures["creates"]
    assert added(creates["Custom::RedshiftCluster"]["minimal"]) == 0
    assert added(creates["Custom::AuroraCluster"]["minimal"]) == 1
    assert creates["Custom::AuroraCluster"]["minimal"]["on"]["by_api"]["rds:DescribeAccountAttributes"] == 1
    assert added(creates["Custom::RedshiftCluster"]["full"]) == 8
    assert added(creates["Custom::AuroraCluster"]["full"]) == 10


def test_an_update_adds_calls_only_for_a_changed_reference(figures: dict[str, Any]) -> None:
    for sizes in figures["updates"].values():
        for cell in sizes.values():
            assert added(cell["same"]) == 0
            assert added(cell["changed"]) >= 1


def test_under_latency_the_pool_beats_sequential_checks(figures: dict[str, Any]) -> None:
    for kind in ("Custom::RedshiftCluster", "Custom::AuroraCluster"):
        cell = figures["latency"][kind]
        assert cell["pool"]["ms_mean"] * 2 < cell["sequential"]["ms_mean"], cell
