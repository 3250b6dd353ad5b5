"""Price files on disk: the snapshot shipped in the package, and the one ``dbscale prices refresh`` writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import InvalidRequest
from .book import PriceBook

SNAPSHOT_PATH = Path(__file__).parent.parent / "data" / "prices.json"
"""The price snapshot shipped in the package."""
PRICES_ENV = "DBSCALE_PRICES"
"""Names the file ``dbscale prices refresh`` writes and the advisor reads (default: in the cache directory)."""


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


def cache_dir() -> Path:
    """``$DBSCALE_CACHE_DIR``, else ``$XDG_CACHE_HOME/dbscale``, else ``~/.cache/dbscale``."""
    if os.environ.get("DBSCALE_CACHE_DIR"):
        return Path(os.environ["DBSCALE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dbscale"
