"""Looking prices up: the file cache, then the Price List API, then the snapshot; and refreshing the snapshot."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DbscaleError, InvalidRequest
from . import api  # api.pricing_client is looked up at call time, so tests can stub the client
from .book import PriceBook, PriceSource, RegionPrices
from .files import cache_dir, load_prices_file, newest_snapshot, refreshed_path

if TYPE_CHECKING:
    import boto3

CACHE_MAX_AGE_HOURS = 24 * 7
"""How long a region's Price List answer is reused from the cache (prices change rarely)."""


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
                pricing = pricing if pricing is not None else api.pricing_client(session)
                fetched = api.fetch_region(region, pricing=pricing)
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
    pricing = api.pricing_client(session)
    book = PriceBook({}, {}, f"AWS Price List API (GetProducts, {api.PRICING_REGION}), fetched {_today(now)}")
    for region in wanted:
        fetched = api.fetch_region(region, pricing=pricing)
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
