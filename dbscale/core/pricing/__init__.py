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

One module per concept: ``book`` (the prices and their sources), ``files`` (the shipped snapshot and
the refreshed file), ``api`` (the Price List API), ``lookup`` (cache, API, snapshot: :func:`price_book`).
"""

from __future__ import annotations

from .api import PRICING_REGION, fetch_region, redshift_node_prices
from .book import (
    HOURS_PER_MONTH,
    PURCHASE_OPTIONS,
    PriceBook,
    PriceQuote,
    PriceSource,
    RegionPrices,
    ReservedRate,
    ShapePrice,
)
from .files import (
    PRICES_ENV,
    SNAPSHOT_PATH,
    cache_dir,
    load_prices_file,
    load_snapshot,
    newest_snapshot,
    refreshed_path,
)
from .lookup import CACHE_MAX_AGE_HOURS, price_book, refresh_snapshot

__all__ = [
    "CACHE_MAX_AGE_HOURS",
    "HOURS_PER_MONTH",
    "PRICES_ENV",
    "PRICING_REGION",
    "PURCHASE_OPTIONS",
    "SNAPSHOT_PATH",
    "PriceBook",
    "PriceQuote",
    "PriceSource",
    "RegionPrices",
    "ReservedRate",
    "ShapePrice",
    "cache_dir",
    "fetch_region",
    "load_prices_file",
    "load_snapshot",
    "newest_snapshot",
    "price_book",
    "redshift_node_prices",
    "refresh_snapshot",
    "refreshed_path",
]
