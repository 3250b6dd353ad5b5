"""The price book: on-demand and reserved prices per region, and where each region's figures came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequest

HOURS_PER_MONTH = 730.0
"""AWS's own convention for monthly estimates (8,760 hours / 12)."""
_FORMAT = 1
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
