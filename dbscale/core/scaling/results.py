"""Check results: a verdict and the numbers behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

NO_DATA = "no data"
NO_DATA_PAUSED = "no data (paused)"
NO_DATA_NOT_FOUND = "no data (cluster not found)"


def format_number(value: float) -> str:
    """A number for a result's reason: up to 6 significant digits, no trailing zeros."""
    return f"{value:,.6g}" if abs(value) < 1e15 else f"{value:.6g}"


def format_usd(value: float) -> str:
    """Dollars for a result's reason: cents from $1 up, 6 significant digits below ($0.0005)."""
    return f"${value:,.2f}" if value >= 1 else f"${value:.6g}"


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check's answer and the numbers behind it.

    ``verdict`` is True/False, or None when there is no data (``note`` says why: ``"no data"``,
    ``"no data (paused)"`` ...). ``value`` is compared with ``threshold`` using ``comparison``
    (``">"``, ``"<"`` or ``">="``) in ``unit``. ``datapoints`` counts the observations behind
    ``value`` (CloudWatch datapoints, Athena queries, Redshift queries, log entries) over the
    ``window_minutes`` that ended at ``window_end`` (epoch seconds). ``source`` names the metric or
    API; ``details`` keeps the intermediate figures (per-instance values, bytes, prices).
    ``reason`` is one sentence a person can act on.
    """

    check: str
    cluster: str | None
    value: float | None
    threshold: float
    verdict: bool | None
    datapoints: int
    window_minutes: float
    source: str
    reason: str
    note: str = ""
    unit: str = ""
    comparison: str = ""
    window_end: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def no_data(self) -> bool:
        """True when the check could not answer (``verdict`` is None)."""
        return self.verdict is None

    @property
    def paused(self) -> bool:
        """True when there is no data because the cluster is paused or stopped."""
        return self.note == NO_DATA_PAUSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (for handlers, logs and the autoscaler's state)."""
        # Field by field, not dataclasses.asdict: its deep copy was most of an autoscaler evaluation's time,
        # and every field but ``details`` (copied here) is a scalar.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["details"] = dict(self.details)
        return data
