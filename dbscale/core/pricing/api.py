"""The AWS Price List API (``pricing`` GetProducts): one region's Redshift and Aurora prices."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, watch_calls
from ..errors import DbscaleError
from ..limits import REDSHIFT_NODE_TYPES
from .book import PURCHASE_OPTIONS, PriceQuote, RegionPrices, ReservedRate, ShapePrice
from .files import newest_snapshot

if TYPE_CHECKING:
    import boto3

PRICING_REGION = "us-east-1"
"""A region that serves the Price List Query API."""
_AURORA_ENGINES = {"Aurora PostgreSQL": "aurora-postgresql", "Aurora MySQL": "aurora-mysql"}


def pricing_client(session: boto3.Session | None) -> Any:
    """A Price List client in :data:`PRICING_REGION` that fails fast (2 attempts, 5 s connect, 30 s read)."""
    if session is None:
        import boto3

        session = boto3.Session()
    from botocore.config import Config

    # Prices have a fallback, so an unreachable API must fail fast rather than retry for a minute.
    config = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5, read_timeout=30)
    made = session.client("pricing", region_name=PRICING_REGION, config=config)  # type: ignore[call-overload]
    return watch_calls(made)  # its errors name the call (GetProducts), as every dbscale client's


def _on_demand_hourly(product: Mapping[str, Any]) -> float | None:
    """The USD per hour of a product's on-demand term, or None when it has no such price."""
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            unit = str(dimension.get("unit", "")).lower()
            if usd is not None and (unit.startswith("hr") or unit.endswith("-hr") or unit.endswith("-hrs")):
                price = float(usd)
                if price > 0:
                    return price
    return None


def _reserved(product: Mapping[str, Any]) -> tuple[ReservedRate, ...]:
    """Every standard reserved offering of a product, 1 and 3 years, by purchase option."""
    rates: dict[tuple[int, str], ReservedRate] = {}
    for term in (product.get("terms", {}).get("Reserved") or {}).values():
        attributes = term.get("termAttributes") or {}
        if attributes.get("OfferingClass", "standard") != "standard":
            continue
        length = str(attributes.get("LeaseContractLength", ""))
        option = str(attributes.get("PurchaseOption", ""))
        if length not in ("1yr", "3yr") or option not in PURCHASE_OPTIONS:
            continue
        upfront = hourly = 0.0
        for dimension in (term.get("priceDimensions") or {}).values():
            usd = float((dimension.get("pricePerUnit") or {}).get("USD", 0) or 0)
            if str(dimension.get("unit", "")).lower() == "quantity":
                upfront += usd
            else:
                hourly += usd
        years = int(length[0])
        rates[(years, option)] = ReservedRate(years, option, upfront, hourly)
    return tuple(rates[key] for key in sorted(rates, key=lambda k: (k[0], PURCHASE_OPTIONS.index(k[1]))))


def _products(pricing: Any, service: str, filters: dict[str, str], what: str) -> Iterable[dict[str, Any]]:
    request: dict[str, Any] = {
        "ServiceCode": service,
        "Filters": [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    while True:
        with aws_errors(f"read {what} prices"):
            page = pricing.get_products(**request)
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item
        token = page.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def fetch_region(region: str, *, session: boto3.Session | None = None, pricing: Any = None) -> RegionPrices:
    """Read one region's Redshift and Aurora prices from the Price List API (three queries, paged).

    Raises :class:`~dbscale.core.errors.AwsError` when the API cannot be reached.
    """
    pricing = pricing if pricing is not None else pricing_client(session)
    prices = RegionPrices()
    for product in _products(pricing, "AmazonRedshift", {"regionCode": region}, f"Redshift {region}"):
        attributes = (product.get("product") or {}).get("attributes") or {}
        family = (product.get("product") or {}).get("productFamily") or attributes.get("productFamily")
        hourly = _on_demand_hourly(product)
        if hourly is None:
            continue
        if family == "Compute Instance" and attributes.get("instanceType"):
            prices.redshift[attributes["instanceType"]] = ShapePrice(hourly, _reserved(product))
        elif (
            "serverless" in f"{family} {attributes.get('usagetype', '')}".lower()
            and _has_unit(product, "rpu")
            and (prices.rpu_hour is None or hourly < prices.rpu_hour)
        ):
            prices.rpu_hour = hourly
    for label, engine in _AURORA_ENGINES.items():
        query = {"regionCode": region, "databaseEngine": label}
        for product in _products(pricing, "AmazonRDS", query, f"{label} {region}"):
            attributes = (product.get("product") or {}).get("attributes") or {}
            family = (product.get("product") or {}).get("productFamily") or attributes.get("productFamily")
            usage = str(attributes.get("usagetype", ""))
            hourly = _on_demand_hourly(product)
            if hourly is None or "IOOptimized" in usage:
                continue  # Aurora I/O-Optimized is a different price plan; dbscale prices Aurora Standard
            if family == "Database Instance" and "InstanceUsage:" in usage and attributes.get("instanceType"):
                if attributes.get("deploymentOption", "Single-AZ") != "Single-AZ":
                    continue
                prices.aurora.setdefault(engine, {})[attributes["instanceType"]] = ShapePrice(
                    hourly, _reserved(product)
                )
            elif family == "ServerlessV2" or usage.endswith("Aurora:ServerlessV2Usage"):
                prices.acu_hour[engine] = hourly
    return prices


def _has_unit(product: Mapping[str, Any], needle: str) -> bool:
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if needle in str(dimension.get("unit", "")).lower():
                return True
    return False


def redshift_node_prices(
    region: str = PRICING_REGION, *, session: boto3.Session | None = None
) -> dict[str, PriceQuote]:
    """On-demand price per node-hour of every node type dbscale knows, in ``region``.

    Asks the Price List API (``GetProducts`` for ``AmazonRedshift`` compute instances in the
    region); a node type the API does not list, or any API failure, gets the snapshot's price for
    the region (``source="snapshot"``), else the US East table in ``limits`` (``"table"``).
    """
    try:
        known = newest_snapshot().regions.get(region, RegionPrices())
    except (OSError, ValueError):  # the Lambda asset ships the .py files only, without the data file
        known = RegionPrices()

    def fallback(name: str) -> PriceQuote:
        price = known.redshift.get(name)
        if price is not None:
            return PriceQuote(name, price.on_demand, "snapshot")
        return PriceQuote(name, REDSHIFT_NODE_TYPES[name].usd_per_node_hour, "table")

    quotes = {name: fallback(name) for name in REDSHIFT_NODE_TYPES}
    try:
        pricing = pricing_client(session)
        filters = {"regionCode": region, "productFamily": "Compute Instance"}
        for product in _products(pricing, "AmazonRedshift", filters, f"Redshift {region}"):
            node_type = (product.get("product", {}).get("attributes") or {}).get("instanceType")
            price = _on_demand_hourly(product)
            if node_type in quotes and price is not None:
                quotes[node_type] = PriceQuote(node_type, price, "pricing-api")
    except (DbscaleError, ValueError, KeyError):
        return {name: fallback(name) for name in REDSHIFT_NODE_TYPES}
    return quotes
