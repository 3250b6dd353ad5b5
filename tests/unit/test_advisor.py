"""The cost advisor on moto: batched metrics, idle hours, recommendations with savings and reasons, HTML."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.advisor import advise
from dbscale.core.advisor.report import html_report
from dbscale.core.advisor.schedule import _crontab, _runs
from dbscale.core.errors import InvalidRequest
from dbscale.core.limits import GIB
from dbscale.core.pricing import PriceBook, PriceSource, RegionPrices, ReservedRate, ShapePrice, load_snapshot
from tests.fakes.cloudwatch import enforce_limits
from tests.fakes.fleet import (
    create_aurora,
    create_redshift,
    hours_before,
    office_hours,
    put_aurora_load,
    put_redshift_load,
    steady,
)

DAYS = 7


@pytest.fixture
def fleet(boto_session: boto3.Session, fake_clock: Any) -> dict[str, Any]:
    """Three clusters: an office-hours Redshift cluster, a steady busy Aurora cluster and a quiet one."""
    end = datetime.fromtimestamp(fake_clock.now(), tz=timezone.utc)
    stamps = hours_before(end, DAYS * 24)
    redshift, rds, cw = (boto_session.client(s) for s in ("redshift", "rds", "cloudwatch"))
    create_redshift(redshift, "sales", "ra3.xlplus", 4)
    put_redshift_load(cw, "sales", stamps, office_hours(busy_cpu=20.0))
    busy = create_aurora(rds, "orders", "db.r6g.xlarge")
    put_aurora_load(cw, "orders", busy[0], stamps, steady(70.0), freeable_bytes=8 * GIB)
    quiet = create_aurora(rds, "wiki", "db.r6g.large", readers=1)
    put_aurora_load(cw, "wiki", quiet[0], stamps, office_hours(busy_cpu=10.0, busy_connections=3), 12 * GIB)
    return {"session": boto_session, "clock": fake_clock}


def run(fleet: dict[str, Any], prices: PriceBook | None = None) -> Any:
    return advise(
        ["us-east-1"],
        days=DAYS,
        prices=prices or load_snapshot(),
        sessions=lambda region: fleet["session"],
        clock=fleet["clock"],
    )


def by_name(result: Any) -> dict[str, Any]:
    return {c.usage.cluster.name: c for c in result.clusters}


def test_metrics_of_the_whole_fleet_come_in_one_batched_call(fleet):
    with enforce_limits() as calls:
        result = run(fleet)
    # 3 Redshift metrics + 4 per Aurora cluster (CPU, memory, connections, volume) = 11 metrics, one call.
    assert calls == [11]
    assert (result.cloudwatch_calls, result.metrics_read) == (1, 11)
    sales = by_name(result)["sales"].usage
    assert sales.cpu is not None and sales.cpu.hours == DAYS * 24
    assert sales.running_fraction == 1.0


def test_idle_hours_and_a_pause_schedule_ready_to_paste(fleet):
    sales = by_name(run(fleet))["sales"]
    # Weeknights 20:00-08:00 and the whole weekend: 168 - 5 x 12 busy hours.
    assert len(sales.usage.idle_hours) == 168 - 60
    schedule = next(r for r in sales.recommendations if r.kind == "pause-schedule")
    hourly = 4 * 1.086
    paused = 4 * (12 - 0.25) + (4 + 48 + 8 - 0.25)  # Mon-Thu nights, and Fri 20:00 to Mon 08:00
    assert schedule.details["paused_hours_per_week"] == pytest.approx(paused)
    assert schedule.monthly_saving_usd == pytest.approx(paused * 730 / 168 * hourly)
    assert "0 20 * * 1,2,3,4,5 dbscale pause sales --region us-east-1 --no-wait" in schedule.action
    assert "45 7 * * 1,2,3,4,5 dbscale resume sales --region us-east-1 --no-wait" in schedule.action


def test_right_size_redshift_with_the_numbers(fleet):
    sales = by_name(run(fleet))["sales"]
    right = next(r for r in sales.recommendations if r.kind == "right-size")
    # p95 CPU 20% on 4 nodes -> ceil(4 x 20 / 60) = 2 nodes.
    assert right.details == {"target_nodes": 2, "method": "elastic"}
    assert right.monthly_saving_usd == pytest.approx(2 * 1.086 * 730)
    assert "CPU p95 20.0%" in right.reason and "2 nodes" in right.reason


def test_aurora_busy_cluster_is_not_shrunk_and_serverless_costs_more(fleet):
    orders = by_name(run(fleet))["orders"]
    kinds = {r.kind: r for r in orders.recommendations}
    assert "right-size" not in kinds and "pause-schedule" not in kinds
    serverless = kinds["aurora-serverless-v2"]
    # db.r6g.xlarge = 16 ACU at 100% CPU; 70% -> 11.5 ACU every hour at $0.12 vs $0.519/h.
    assert serverless.monthly_saving_usd == pytest.approx(0.519 * 730 - 11.5 * 0.12 * 730)
    assert serverless.monthly_saving_usd < 0
    assert orders.usage.memory is not None and orders.usage.memory.mean == pytest.approx(75.0)


def test_quiet_aurora_cluster_goes_serverless_and_is_flagged_low(fleet):
    wiki = by_name(run(fleet))["wiki"]
    kinds = {r.kind: r for r in wiki.recommendations}
    assert "low-utilization" in kinds
    serverless = kinds["aurora-serverless-v2"]
    # 60 busy hours a week at 10% of 8 ACU -> 1 ACU, x 2 instances; idle hours paused at 0 ACU.
    assert serverless.details["acu_hours"] == 60
    assert serverless.monthly_saving_usd == pytest.approx(2 * 0.26 * 730 - 60 / 168 * 730 * 0.12 * 2)
    assert wiki.best is serverless


def test_reserved_and_cheapest_region_from_the_price_book(fleet):
    snapshot = load_snapshot()
    east = snapshot.regions["us-east-1"]
    reserved = ShapePrice(
        0.519,
        (ReservedRate(1, "No Upfront", 0, 0.36), ReservedRate(3, "All Upfront", 6000, 0)),
    )
    east.aurora["aurora-postgresql"]["db.r6g.xlarge"] = reserved
    cheaper = RegionPrices(aurora={"aurora-postgresql": {"db.r6g.xlarge": ShapePrice(0.40)}})
    book = PriceBook(
        {"us-east-1": east, "ap-south-1": cheaper},
        {"us-east-1": PriceSource("snapshot", "2026-11-25"), "ap-south-1": PriceSource("pricing-api", "2026-11-26")},
    )
    orders = by_name(run(fleet, book))["orders"]
    kinds = {r.kind: r for r in orders.recommendations}
    res = kinds["reserved"]
    # 3yr All Upfront: 6000 / 26280 h = $0.2283/h effective.
    assert res.monthly_saving_usd == pytest.approx((0.519 - 6000 / 26280) * 730)
    assert res.details["options"]["1yr No Upfront"]["monthly_saving_usd"] == pytest.approx((0.519 - 0.36) * 730)
    region = kinds["cheapest-region"]
    assert region.details["region"] == "ap-south-1"
    assert region.monthly_saving_usd == pytest.approx((0.519 - 0.40) * 730)
    assert "23% less" in region.reason


def test_html_report_is_self_contained(fleet):
    page = html_report(run(fleet))
    assert page.count("<script") == 3  # plotly.js, the figures (JSON), the drawing script
    assert "https://" not in page.split("<script>", 1)[0]
    assert "snapshot 2026-11-25" in page
    assert "id='heat0'" in page and "id='cost2'" in page


def test_runs_wrap_around_the_week_and_crontab_merges_days():
    assert _runs((0, 1, 2, 166, 167, 50)) == [(50, 1), (166, 5)]
    assert _crontab("a", "r", [(20, 12), (44, 12)]) == [
        "0 20 * * 1,2 dbscale pause a --region r --no-wait",
        "45 7 * * 2,3 dbscale resume a --region r --no-wait",
    ]


def test_bad_arguments_are_refused(fleet):
    with pytest.raises(InvalidRequest, match="days"):
        advise(["us-east-1"], days=0, prices=load_snapshot())
    with pytest.raises(InvalidRequest, match="region"):
        advise([], prices=load_snapshot())
