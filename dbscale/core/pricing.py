"""Redshift node prices from the AWS Price List Query API, with dbscale's table as the fallback.

``limits.REDSHIFT_NODE_TYPES`` keeps US East on-demand prices, which is what relative decisions
need. Where the region's actual price matters (``can_boot_redshift`` in another region), fetch it:

    prices = redshift_node_prices("eu-west-1")
    ProvisionScaling("sales", redshift_node_prices=prices).can_boot_redshift("ra3.xlplus", 2, 10)

The Price List API is served from a few regions only (us-east-1 among them); any failure, and any
node type the API does not list, falls back to the table, and ``PriceQuote.source`` says which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .aws import _retry_config, aws_errors
from .errors import DbscaleError
from .limits import REDSHIFT_NODE_TYPES

if TYPE_CHECKING:
    import boto3

PRICING_REGION = "us-east-1"
"""A region that serves the Price List Query API."""


@dataclass(frozen=True)
class PriceQuote:
    """An on-demand price per node-hour and where it came from (``"pricing-api"`` or ``"table"``)."""

    node_type: str
    usd_per_node_hour: float
    source: str


def _pricing_client(session: boto3.Session | None) -> Any:
    if session is None:
        import boto3

        session = boto3.Session()
    return session.client("pricing", region_name=PRICING_REGION, config=_retry_config())  # type: ignore[call-overload]


def _on_demand_hourly(product: Mapping[str, Any]) -> float | None:
    """The USD per hour of a product's on-demand term, or None when it has no such price."""
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            if usd is not None and str(dimension.get("unit", "")).lower().startswith("hr"):
                price = float(usd)
                if price > 0:
                    return price
    return None


def redshift_node_prices(
    region: str = PRICING_REGION, *, session: boto3.Session | None = None
) -> dict[str, PriceQuote]:
    """On-demand price per node-hour of every node type dbscale knows, in ``region``.

    Asks the Price List API (``GetProducts`` for ``AmazonRedshift`` compute instances in the
    region); a node type the API does not list, or any API failure, gets the table's price.
    """
    quotes = {name: PriceQuote(name, spec.usd_per_node_hour, "table") for name, spec in REDSHIFT_NODE_TYPES.items()}
    try:
        pricing = _pricing_client(session)
        request: dict[str, Any] = {
            "ServiceCode": "AmazonRedshift",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Compute Instance"},
            ],
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        while True:
            with aws_errors(f"read Redshift prices for {region}"):
                page = pricing.get_products(**request)
            for item in page.get("PriceList", []):
                product = json.loads(item) if isinstance(item, str) else item
                node_type = (product.get("product", {}).get("attributes") or {}).get("instanceType")
                price = _on_demand_hourly(product)
                if node_type in quotes and price is not None:
                    quotes[node_type] = PriceQuote(node_type, price, "pricing-api")
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    except (DbscaleError, ValueError, KeyError):
        return {name: PriceQuote(name, spec.usd_per_node_hour, "table") for name, spec in REDSHIFT_NODE_TYPES.items()}
    return quotes
