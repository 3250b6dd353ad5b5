"""Prices: the AWS Price List API (``pricing`` GetProducts), cached, with a dated snapshot shipped in the package.

A :class:`PriceBook` holds, per region, on-demand and reserved prices of Redshift node types and
Aurora instance classes, the Aurora Serverless v2 ACU-hour and the Redshift Serverless RPU-hour.
:func:`price_book` asks the Price List API (through a per-region file cache, default 7 days) and
falls back, region by region, to the newest snapshot when the API is unreachable: the one
``dbscale prices refresh`` (:func:`refresh_snapshot`) wrote into the user's cache directory
(:func:`refreshed_path`), or the one shipped in ``dbscale/core/data/prices.json``, whichever is newer;
:attr:`PriceBook.sources` says which source and date each region came from. ``price_book(file=...)``
(``--prices FILE``) uses a given price file instead.

``redshift_node_prices`` keeps its older contract for ``ProvisionScaling``::

    prices = redshift_node_prices("eu-west-1")
    ProvisionScaling("sales", redshift_node_prices=prices).can_boot_redshift("ra3.xlplus", 2, 10)

The Price List API is served from a few regions only (us-east-1 among them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .aws import aws_errors, watch_calls
from .errors import DbscaleError, InvalidRequest
from .limits import REDSHIFT_NODE_TYPES

if TYPE_CHECKING:
    import boto3

PRICING_REGION = "us-east-1"
"""A region that serves the Price List Query API."""
SNAPSHOT_PATH = Path(__file__).with_name("data") / "prices.json"
"""The price snapshot shipped in the package."""
HOURS_PER_MONTH = 730.0
"""AWS's own convention for monthly estimates (8,760 hours / 12)."""
CACHE_MAX_AGE_HOURS = 24 * 7
"""How long a region's Price List answer is reused from the cache (prices change rarely)."""
PRICES_ENV = "DBSCALE_PRICES"
"""Names the file ``dbscale prices refresh`` writes and the advisor reads (default: in the cache directory)."""
_FORMAT = 1
_AURORA_ENGINES = {"Aurora PostgreSQL": "aurora-postgresql", "Aurora MySQL": "aurora-mysql"}
PURCHASE_OPTIONS = ("No Upfront", "Partial Upfront", "All Upfront")


@dataclass(frozen=True)
class PriceQuote:
    """An on-demand price per node-hour and where it came from (``"pricing-api"``, ``"snapshot"`` or ``"table"``)."""

    node_type: str
    usd_per_node_hour: float
    source: str


@dataclass(frozen=True)
class ReservedRate:
    """One reserved offering: ``years`` (1 or 3), ``purchase_option`` (No/Partial/All Upfront),
    the upfront fee and the recurring hourly fee, both in USD per node or instance."""

    years: int
    purchase_option: str
    upfront_usd: float
    usd_per_hour: float

    @property
    def effective_usd_per_hour(self) -> float:
        """Upfront fee spread over the term's hours, plus the hourly fee."""
        return self.upfront_usd / (self.years * 8760.0) + self.usd_per_hour

    def to_dict(self) -> dict[str, Any]:
        return {
            "years": self.years,
            "purchase_option": self.purchase_option,
            "upfront_usd": self.upfront_usd,
            "usd_per_hour": self.usd_per_hour,
        }


@dataclass(frozen=True)
class ShapePrice:
    """The on-demand USD per hour of one node or instance, and its reserved offerings."""

    on_demand: float
    reserved: tuple[ReservedRate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"on_demand": self.on_demand, "reserved": [r.to_dict() for r in self.reserved]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShapePrice:
        return cls(
            float(data["on_demand"]),
            tuple(
                ReservedRate(
                    int(r["years"]), str(r["purchase_option"]), float(r["upfront_usd"]), float(r["usd_per_hour"])
                )
                for r in data.get("reserved", [])
            ),
        )


@dataclass
class RegionPrices:
    """Prices of one region. ``aurora`` is engine -> instance class -> price; ``acu_hour`` is engine -> USD."""

    redshift: dict[str, ShapePrice] = field(default_factory=dict)
    aurora: dict[str, dict[str, ShapePrice]] = field(default_factory=dict)
    acu_hour: dict[str, float] = field(default_factory=dict)
    rpu_hour: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "redshift": {k: v.to_dict() for k, v in sorted(self.redshift.items())},
            "aurora": {e: {k: v.to_dict() for k, v in sorted(c.items())} for e, c in sorted(self.aurora.items())},
            "aurora_serverless_v2_acu_hour": dict(sorted(self.acu_hour.items())),
            "redshift_serverless_rpu_hour": self.rpu_hour,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegionPrices:
        return cls(
            redshift={k: ShapePrice.from_dict(v) for k, v in data.get("redshift", {}).items()},
            aurora={e: {k: ShapePrice.from_dict(v) for k, v in c.items()} for e, c in data.get("aurora", {}).items()},
            acu_hour={k: float(v) for k, v in data.get("aurora_serverless_v2_acu_hour", {}).items()},
            rpu_hour=None
            if data.get("redshift_serverless_rpu_hour") is None
            else float(data["redshift_serverless_rpu_hour"]),
        )

    @property
    def empty(self) -> bool:
        return not (self.redshift or self.aurora or self.acu_hour or self.rpu_hour)


@dataclass(frozen=True)
class PriceSource:
    """Where a region's prices came from: ``kind`` is ``pricing-api``, ``cache`` (the API's answer,
    cached), ``refreshed`` (``dbscale prices refresh``'s file), ``snapshot`` (shipped) or ``file``
    (``--prices FILE``); ``as_of`` a date."""

    kind: str
    as_of: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.as_of}" + (f" ({self.note})" if self.note else "")


@dataclass
class PriceBook:
    """Prices by region, with the source of each region's figures."""

    regions: dict[str, RegionPrices]
    sources: dict[str, PriceSource]
    provenance: str = ""

    # --- lookups ------------------------------------------------------------------------------

    def redshift_node(self, region: str, node_type: str) -> ShapePrice | None:
        """The price of one Redshift node of ``node_type`` in ``region``, or None when unknown."""
        prices = self.regions.get(region)
        return None if prices is None else prices.redshift.get(node_type)

    def aurora_instance(self, region: str, engine: str, instance_class: str) -> ShapePrice | None:
        """The price of one Aurora instance of ``instance_class`` and ``engine`` in ``region``, or None."""
        prices = self.regions.get(region)
        return None if prices is None else prices.aurora.get(engine, {}).get(instance_class)

    def acu_hour(self, region: str, engine: str) -> float | None:
        """USD per Aurora Serverless v2 ACU-hour (Aurora Standard) in ``region``."""
        prices = self.regions.get(region)
        return None if prices is None else prices.acu_hour.get(engine)

    def rpu_hour(self, region: str) -> float | None:
        """USD per Redshift Serverless RPU-hour in ``region``."""
        prices = self.regions.get(region)
        return None if prices is None else prices.rpu_hour

    def summary(self) -> str:
        """One line naming every source and date used, e.g. ``snapshot 2026-11-25 (us-east-1, eu-west-1)``."""
        by_source: dict[str, list[str]] = {}
        for region, source in sorted(self.sources.items()):
            by_source.setdefault(str(source), []).append(region)
        return "; ".join(f"{source}: {', '.join(regions)}" for source, regions in by_source.items()) or "no prices"

    # --- (de)serialization ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        dates = sorted({s.as_of for s in self.sources.values()})
        return {
            "format": _FORMAT,
            "as_of": dates[-1] if dates else None,
            "provenance": self.provenance,
            "sources": {r: {"kind": s.kind, "as_of": s.as_of, "note": s.note} for r, s in sorted(self.sources.items())},
            "regions": {r: p.to_dict() for r, p in sorted(self.regions.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, kind: str | None = None) -> PriceBook:
        if data.get("format") != _FORMAT:
            raise InvalidRequest(f"unsupported price file format {data.get('format')!r}", field="prices")
        regions = {r: RegionPrices.from_dict(p) for r, p in data.get("regions", {}).items()}
        sources = {}
        for region in regions:
            given = (data.get("sources") or {}).get(region) or {}
            sources[region] = PriceSource(
                kind or str(given.get("kind", "snapshot")),
                str(given.get("as_of", data.get("as_of"))),
                given.get("note", ""),
            )
        return cls(regions, sources, str(data.get("provenance", "")))


def load_snapshot(path: str | Path | None = None) -> PriceBook:
    """The price snapshot (default: the one shipped in the package); every region's source is ``snapshot``."""
    with open(path or SNAPSHOT_PATH, encoding="utf-8") as f:
        return PriceBook.from_dict(json.load(f), kind="snapshot")


def load_prices_file(path: str | Path, *, kind: str = "file") -> PriceBook:
    """A price file written by ``dbscale prices refresh`` (or shaped like the shipped snapshot), every
    region's source ``kind`` (default ``file``). InvalidRequest (field ``prices``) naming the file
    when it cannot be read or is not a price file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as err:
        raise InvalidRequest(f"cannot read the price file {path}: {err.strerror}", field="prices") from None
    except ValueError:
        raise InvalidRequest(f"{path} is not a price file (not JSON)", field="prices") from None
    if not isinstance(data, dict) or not isinstance(data.get("regions"), dict):
        raise InvalidRequest(f"{path} is not a price file (no regions; see dbscale prices refresh)", field="prices")
    try:
        return PriceBook.from_dict(data, kind=kind)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InvalidRequest(f"{path} holds damaged prices ({err})", field="prices") from None


def refreshed_path(cache: Path | None = None) -> Path:
    """Where ``dbscale prices refresh`` writes and the advisor then reads: ``$DBSCALE_PRICES``, else
    ``prices.json`` in ``cache`` (default :func:`cache_dir`: ``$DBSCALE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/dbscale``, else ``~/.cache/dbscale``)."""
    if os.environ.get(PRICES_ENV):
        return Path(os.environ[PRICES_ENV]).expanduser()
    return (cache or cache_dir()) / "prices.json"


def newest_snapshot(cache: Path | None = None) -> PriceBook:
    """The newest prices without the API: per region, the refreshed file (:func:`refreshed_path`, source
    ``refreshed``) when it is as new as the shipped snapshot or newer, else the shipped snapshot. A
    refreshed file that cannot be read is passed over (the shipped snapshot answers)."""
    shipped = load_snapshot()
    path = refreshed_path(cache)
    try:
        refreshed = load_prices_file(path, kind="refreshed") if path.is_file() else None
    except InvalidRequest:
        refreshed = None
    if refreshed is None:
        return shipped
    book = PriceBook(dict(shipped.regions), dict(shipped.sources), shipped.provenance)
    for region, prices in refreshed.regions.items():
        mine = refreshed.sources[region]
        theirs = shipped.sources.get(region)
        if theirs is None or mine.as_of >= theirs.as_of:
            book.regions[region] = prices
            book.sources[region] = mine
    if any(source.kind == "refreshed" for source in book.sources.values()):
        book.provenance = f"{refreshed.provenance} ({path}); else {shipped.provenance}".strip()
    return book


# --- the Price List API --------------------------------------------------------------------------


def _pricing_client(session: boto3.Session | None) -> Any:
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
    pricing = pricing if pricing is not None else _pricing_client(session)
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


# --- the cache and the fallback --------------------------------------------------------------------


def cache_dir() -> Path:
    """``$DBSCALE_CACHE_DIR``, else ``$XDG_CACHE_HOME/dbscale``, else ``~/.cache/dbscale``."""
    if os.environ.get("DBSCALE_CACHE_DIR"):
        return Path(os.environ["DBSCALE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dbscale"


def _today(now: float | None = None) -> str:
    moment = datetime.now(tz=timezone.utc) if now is None else datetime.fromtimestamp(now, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d")


def price_book(
    regions: Iterable[str],
    *,
    session: boto3.Session | None = None,
    use_api: bool = True,
    cache: Path | None = None,
    max_age_hours: float = CACHE_MAX_AGE_HOURS,
    snapshot: PriceBook | None = None,
    now: float | None = None,
    file: str | Path | None = None,
) -> PriceBook:
    """Prices for ``regions``: from the cache when fresher than ``max_age_hours`` (default 7 days),
    else from the Price List API (then cached), else from the snapshot (default :func:`newest_snapshot`:
    the newer of ``dbscale prices refresh``'s file and the shipped snapshot, per region).

    ``use_api=False`` reads only the cache and the snapshot. ``file`` (``--prices FILE``) is a price
    file to use instead: no API call, no cache; a region it does not cover comes from the snapshot.
    A region no source covers is left out (the advisor then says it has no price for it).
    """
    import time

    now = time.time() if now is None else now
    folder = cache or cache_dir()
    if file is not None:
        given = load_prices_file(file)
        fallback = snapshot or newest_snapshot(folder)
        book = PriceBook({}, {}, f"{given.provenance} ({file})".strip())
        for region in dict.fromkeys(regions):
            source = given if region in given.regions else fallback
            if region in source.regions:
                book.regions[region] = source.regions[region]
                book.sources[region] = source.sources[region]
        return book
    snapshot = snapshot or newest_snapshot(folder)
    book = PriceBook({}, {}, snapshot.provenance)
    pricing: Any = None
    api_down = not use_api
    for region in dict.fromkeys(regions):
        cached = folder / f"prices-{region}.json"
        try:
            data = json.loads(cached.read_text(encoding="utf-8"))
            if now - float(data["fetched_at"]) <= max_age_hours * 3600:
                book.regions[region] = RegionPrices.from_dict(data["prices"])
                book.sources[region] = PriceSource("cache", _today(float(data["fetched_at"])), "Price List API")
                continue
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if not api_down:
            try:
                pricing = pricing if pricing is not None else _pricing_client(session)
                fetched = fetch_region(region, pricing=pricing)
                if fetched.empty:
                    raise DbscaleError(f"the Price List API has no Redshift or Aurora prices for {region}")
                book.regions[region] = fetched
                book.sources[region] = PriceSource("pricing-api", _today(now))
                _write_cache(cached, fetched, now)
                continue
            except DbscaleError:
                api_down = True  # one failure is enough: do not wait for every region to time out
        if region in snapshot.regions:
            book.regions[region] = snapshot.regions[region]
            book.sources[region] = snapshot.sources[region]
    return book


def _write_cache(path: Path, prices: RegionPrices, now: float) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fetched_at": now, "prices": prices.to_dict()}), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only home (Lambda) only loses the cache


def refresh_snapshot(
    regions: Iterable[str] | None = None,
    *,
    session: boto3.Session | None = None,
    out: str | Path | None = None,
    now: float | None = None,
) -> PriceBook:
    """Rebuild the snapshot from the Price List API for ``regions`` (default: those the current
    snapshot covers) and write it to ``out`` (default: :func:`refreshed_path`, which the advisor reads;
    the shipped snapshot in the package is never written unless named). Any API failure raises and
    leaves the old file untouched."""
    import time

    now = time.time() if now is None else now
    wanted = list(regions or newest_snapshot().regions)
    if not wanted:
        raise InvalidRequest("name at least one region to refresh", field="regions")
    pricing = _pricing_client(session)
    book = PriceBook({}, {}, f"AWS Price List API (GetProducts, {PRICING_REGION}), fetched {_today(now)}")
    for region in wanted:
        fetched = fetch_region(region, pricing=pricing)
        if fetched.empty:
            raise DbscaleError(f"the Price List API returned no Redshift or Aurora prices for {region}")
        book.regions[region] = fetched
        book.sources[region] = PriceSource("snapshot", _today(now))
    target = Path(out).expanduser() if out else refreshed_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(book.to_dict(), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    return book


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
    except (OSError, ValueError):  # the Lambda asset ships core/*.py only, without the data file
        known = RegionPrices()

    def fallback(name: str) -> PriceQuote:
        price = known.redshift.get(name)
        if price is not None:
            return PriceQuote(name, price.on_demand, "snapshot")
        return PriceQuote(name, REDSHIFT_NODE_TYPES[name].usd_per_node_hour, "table")

    quotes = {name: fallback(name) for name in REDSHIFT_NODE_TYPES}
    try:
        pricing = _pricing_client(session)
        filters = {"regionCode": region, "productFamily": "Compute Instance"}
        for product in _products(pricing, "AmazonRedshift", filters, f"Redshift {region}"):
            node_type = (product.get("product", {}).get("attributes") or {}).get("instanceType")
            price = _on_demand_hourly(product)
            if node_type in quotes and price is not None:
                quotes[node_type] = PriceQuote(node_type, price, "pricing-api")
    except (DbscaleError, ValueError, KeyError):
        return {name: fallback(name) for name in REDSHIFT_NODE_TYPES}
    return quotes
