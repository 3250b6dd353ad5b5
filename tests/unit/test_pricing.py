"""Prices from the Price List API (botocore Stubber, real-format GetProducts records), the cache, the snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dbscale.core import pricing
from dbscale.core.errors import AwsError
from dbscale.core.limits import AURORA_INSTANCE_CLASSES, REDSHIFT_NODE_TYPES

DATA = Path(__file__).resolve().parent.parent / "data" / "pricing"
NOW = 1_790_000_000.0  # 2026-09-21


def records(name: str) -> list[str]:
    """The PriceList strings GetProducts returns (each item a JSON document)."""
    return [json.dumps(item) for item in json.loads((DATA / name).read_text())]


def request(service: str, filters: dict[str, str], token: str | None = None) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "ServiceCode": service,
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        expected["NextToken"] = token
    return expected


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch):
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("pricing", region_name="us-east-1")
    monkeypatch.setattr(pricing.api, "pricing_client", lambda session: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def answer_region(stub: Stubber, region: str = "eu-west-1") -> None:
    """The three queries of one region; Redshift in two pages."""
    rs = records("redshift-eu-west-1.json")
    stub.add_response(
        "get_products", {"PriceList": rs[:2], "NextToken": "n1"}, request("AmazonRedshift", {"regionCode": region})
    )
    stub.add_response("get_products", {"PriceList": rs[2:]}, request("AmazonRedshift", {"regionCode": region}, "n1"))
    for engine, name in (("Aurora PostgreSQL", "aurora-postgresql"), ("Aurora MySQL", "aurora-mysql")):
        stub.add_response(
            "get_products",
            {"PriceList": records(f"{name}-eu-west-1.json")},
            request("AmazonRDS", {"regionCode": region, "databaseEngine": engine}),
        )


def test_a_region_is_read_from_real_format_records(stub):
    answer_region(stub)
    prices = pricing.fetch_region("eu-west-1")
    xlplus = prices.redshift["ra3.xlplus"]
    assert xlplus.on_demand == 1.139
    assert [(r.years, r.purchase_option) for r in xlplus.reserved] == [
        (1, "No Upfront"),
        (1, "Partial Upfront"),
        (1, "All Upfront"),
        (3, "No Upfront"),
        (3, "Partial Upfront"),
        (3, "All Upfront"),
    ]
    partial = xlplus.reserved[1]
    assert (partial.upfront_usd, partial.usd_per_hour) == (3640.0, 0.415)
    assert partial.effective_usd_per_hour == pytest.approx(3640 / 8760 + 0.415)
    assert prices.redshift["ra3.4xlarge"].on_demand == 3.426
    assert prices.rpu_hour == 0.394
    # Aurora Standard only: the I/O-Optimized instance and ACU lines are skipped; storage is not an instance.
    assert prices.aurora["aurora-postgresql"]["db.r6g.large"].on_demand == 0.284
    assert prices.acu_hour == {"aurora-postgresql": 0.13}
    assert prices.aurora["aurora-mysql"]["db.r6g.large"].on_demand == 0.284
    assert set(prices.aurora["aurora-postgresql"]) == {"db.r6g.large"}


def test_price_book_caches_the_api_answer(stub, tmp_path):
    answer_region(stub)
    first = pricing.price_book(["eu-west-1"], cache=tmp_path, now=NOW)
    assert str(first.sources["eu-west-1"]) == "pricing-api 2026-09-21"
    # Within a week the cache answers (the stub has no more responses: a call would fail the test).
    again = pricing.price_book(["eu-west-1"], cache=tmp_path, now=NOW + 6 * 86400)
    assert again.sources["eu-west-1"].kind == "cache"
    assert again.redshift_node("eu-west-1", "ra3.xlplus") == first.redshift_node("eu-west-1", "ra3.xlplus")


def test_unreachable_api_falls_back_to_the_snapshot_once(stub, tmp_path):
    stub.add_client_error("get_products", service_error_code="ThrottlingException", http_status_code=400)
    book = pricing.price_book(["us-east-1", "us-west-2", "xx-nowhere-1"], cache=tmp_path, now=NOW)
    # One failure is enough: the other regions are not asked (no pending stubbed call is consumed).
    assert book.sources["us-east-1"].kind == "snapshot"
    assert book.sources["us-west-2"].as_of == "2026-11-25"
    assert "xx-nowhere-1" not in book.regions
    assert "snapshot 2026-11-25" in book.summary()


def test_refresh_writes_a_dated_snapshot_that_loads_back(stub, tmp_path):
    answer_region(stub)
    out = tmp_path / "prices.json"
    pricing.refresh_snapshot(["eu-west-1"], out=out, now=NOW)
    book = pricing.load_snapshot(out)
    assert str(book.sources["eu-west-1"]) == "snapshot 2026-09-21"
    assert book.redshift_node("eu-west-1", "ra3.xlplus").reserved[2].upfront_usd == 7130.0
    assert "Price List API" in book.provenance


def test_refresh_failure_leaves_the_old_snapshot(stub, tmp_path):
    out = tmp_path / "prices.json"
    out.write_text("old")
    stub.add_client_error("get_products", service_error_code="AccessDeniedException", http_status_code=400)
    with pytest.raises(AwsError, match="AccessDeniedException"):
        pricing.refresh_snapshot(["eu-west-1"], out=out, now=NOW)
    assert out.read_text() == "old"


def test_shipped_snapshot_is_dated_and_agrees_with_the_relative_price_tables():
    book = pricing.load_snapshot()
    assert {s.as_of for s in book.sources.values()} == {"2026-11-25"}
    east = book.regions["us-east-1"]
    # limits.py keeps US East prices for relative decisions (scaling, autoscale): they must not drift.
    assert {k: v.on_demand for k, v in east.redshift.items()} == {
        k: v.usd_per_node_hour for k, v in REDSHIFT_NODE_TYPES.items()
    }
    assert {k: v.on_demand for k, v in east.aurora["aurora-postgresql"].items()} == {
        k: v.usd_per_hour for k, v in AURORA_INSTANCE_CLASSES.items()
    }
