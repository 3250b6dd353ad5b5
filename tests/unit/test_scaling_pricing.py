"""Redshift prices from the Price List API (no moto backend: botocore's Stubber), with the table as fallback."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dbscale.core import pricing
from dbscale.core.limits import REDSHIFT_NODE_TYPES


def product(node_type: str, usd: str, unit: str = "Hrs") -> str:
    return json.dumps(
        {
            "product": {"productFamily": "Compute Instance", "attributes": {"instanceType": node_type}},
            "terms": {
                "OnDemand": {
                    "ABC.JRTCKXETXF": {
                        "priceDimensions": {"ABC.JRTCKXETXF.6YS6EN2CT7": {"unit": unit, "pricePerUnit": {"USD": usd}}}
                    }
                }
            },
        }
    )


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch):
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("pricing", region_name="us-east-1")
    monkeypatch.setattr(pricing.api, "pricing_client", lambda session: client)
    with Stubber(client) as stub:
        yield stub


def expected_request(region: str, token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ServiceCode": "AmazonRedshift",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Compute Instance"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        request["NextToken"] = token
    return request


def test_prices_come_from_the_price_list_across_pages(stubbed):
    stubbed.add_response(
        "get_products",
        {"PriceList": [product("ra3.xlplus", "1.1390000000"), product("ds2.xlarge", "0.95")], "NextToken": "t1"},
        expected_request("eu-west-1"),
    )
    stubbed.add_response(
        "get_products",
        {"PriceList": [product("ra3.4xlarge", "3.4260000000"), product("dc2.large", "0.0000000000")]},
        expected_request("eu-west-1", "t1"),
    )
    quotes = pricing.redshift_node_prices("eu-west-1")
    assert quotes["ra3.xlplus"] == pricing.PriceQuote("ra3.xlplus", 1.139, "pricing-api")
    assert quotes["ra3.4xlarge"].usd_per_node_hour == 3.426
    # A zero price (a reserved or free-tier line) and an unlisted type keep the table's price.
    assert quotes["dc2.large"] == pricing.PriceQuote(
        "dc2.large", REDSHIFT_NODE_TYPES["dc2.large"].usd_per_node_hour, "table"
    )
    assert "ds2.xlarge" not in quotes
    stubbed.assert_no_pending_responses()


def test_any_api_failure_falls_back_to_the_snapshot(stubbed):
    stubbed.add_client_error("get_products", service_error_code="AccessDeniedException", http_status_code=400)
    quotes = pricing.redshift_node_prices("us-east-1")
    assert {q.source for q in quotes.values()} == {"snapshot"}
    assert quotes["ra3.xlplus"].usd_per_node_hour == REDSHIFT_NODE_TYPES["ra3.xlplus"].usd_per_node_hour


def test_can_boot_redshift_uses_given_prices(monkeypatch: pytest.MonkeyPatch):
    from datetime import datetime, timezone

    from moto import mock_aws

    from dbscale.core import ProvisionScaling
    from tests.fakes import athena as fake_athena
    from tests.fakes.clock import FakeClock

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    end = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    with mock_aws(), fake_athena.install():
        session = boto3.Session(region_name="us-east-1")
        quote = pricing.PriceQuote("ra3.xlplus", 3.0, "pricing-api")
        ps = ProvisionScaling(
            "sales", session=session, clock=FakeClock(end.timestamp()), redshift_node_prices={"ra3.xlplus": quote}
        )
        result = ps.can_boot_redshift_result("ra3.xlplus", 2, 10)
    assert result.threshold == pytest.approx(2 * 3.0 * 10 / 60)  # $1.00
    assert result.details["price_source"] == "given"
    assert result.verdict is False  # no Athena spend at all
