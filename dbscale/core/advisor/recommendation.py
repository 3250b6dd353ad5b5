"""A recommendation: one change to one cluster, its monthly saving, and the reason in numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recommendation:
    """One recommendation: ``kind`` (right-size, pause-schedule, aurora-serverless-v2,
    aurora-provisioned, redshift-serverless, reserved, cheapest-region, low-utilization), the
    monthly saving in USD (negative: costs more, e.g. more capacity for an overloaded cluster),
    ``reason`` with the numbers, ``action`` (what to run), ``assumptions`` and ``details``."""

    kind: str
    title: str
    monthly_saving_usd: float
    reason: str
    action: str = ""
    assumptions: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "monthly_saving_usd": round(self.monthly_saving_usd, 2),
            "reason": self.reason,
            "action": self.action,
            "assumptions": list(self.assumptions),
            "details": self.details,
        }


def usd(value: float) -> str:
    """Amounts with cents; unit prices under a dollar with three significant digits ($0.375)."""
    return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:.3g}"
