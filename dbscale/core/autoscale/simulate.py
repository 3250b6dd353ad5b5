"""A minute-by-minute model of one Redshift cluster under a load trace, for comparing scaling strategies.

The model (every figure a parameter of :class:`ClusterModel`):

* Demand arrives each minute in CPU-percent x nodes (440 is 8 nodes at 55%). A cluster of ``n``
  nodes serves up to ``n x 100`` per minute; what it cannot serve **queues** and is served later,
  oldest first. ``worst_delay_minutes`` is the longest any unit of demand waited.
* A resize takes ``resize_minutes`` (elastic; ``classic_resize_minutes`` for a classic one). For the
  whole resize the cluster is **read-only** (Redshift: "you can run only read queries"): the
  ``write_share`` of the demand queues until it ends; reads run on the old nodes.
* Pausing takes ``pause_minutes``, resuming ``resume_minutes``; while paused, pausing or resuming
  nothing runs and all demand queues. Compute is billed except while paused.
* **Storage** (``storage_tb`` of Redshift managed storage) is billed every hour on every strategy.
* A minute is an **overload** minute when CPU is above ``cpu_high`` or any demand is queued.

Strategies (:mod:`dbscale.core.autoscale.strategies`) see the cluster every minute and may ask for one
change at a time; a change asked while another runs is refused (as AWS refuses it). The
autoscaler strategies run the real :class:`~dbscale.core.autoscale.Autoscaler` rules on check
results computed from the model's own CPU series.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import InvalidRequest
from ..limits import REDSHIFT_NODE_TYPES

__all__ = [
    "REDSHIFT_MANAGED_STORAGE_USD_PER_TB_MONTH",
    "ClusterModel",
    "ClusterView",
    "SimResult",
    "Strategy",
    "simulate",
]

REDSHIFT_MANAGED_STORAGE_USD_PER_TB_MONTH = 24.576
"""RA3 managed storage, us-east-1: $0.024 per GB-month (1,024 GB per TB) — AWS's public Redshift
pricing page; not readable from here (unverified first-hand)."""
_HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class ClusterModel:
    """The physical model: node type and its price, timings (minutes), storage and the write share."""

    node_type: str = "ra3.xlplus"
    resize_minutes: float = 15
    classic_resize_minutes: float = 240
    pause_minutes: float = 5
    resume_minutes: float = 10
    write_share: float = 0.2
    storage_tb: float = 4.0
    cpu_high: float = 75.0
    housekeeping_cpu: float = 1.0

    def __post_init__(self) -> None:
        if self.node_type not in REDSHIFT_NODE_TYPES:
            raise InvalidRequest(f"node_type '{self.node_type}' is not a Redshift node type", field="node_type")
        for name in ("resize_minutes", "classic_resize_minutes", "pause_minutes", "resume_minutes"):
            if getattr(self, name) < 1:
                raise InvalidRequest(f"{name} must be at least 1 minute", field=name)
        if not 0 <= self.write_share <= 1:
            raise InvalidRequest("write_share must be from 0 to 1", field="write_share")

    @property
    def usd_per_node_hour(self) -> float:
        return REDSHIFT_NODE_TYPES[self.node_type].usd_per_node_hour

    def resize_takes(self, old: int, new: int) -> float:
        """Elastic within the node type's elastic limits (growth and shrink factors), else classic."""
        spec = REDSHIFT_NODE_TYPES[self.node_type]
        shrink = spec.elastic_shrink_factor or spec.elastic_factor
        elastic = new <= old * spec.elastic_factor and new * shrink >= old and new <= spec.elastic_max_nodes
        return self.resize_minutes if elastic else self.classic_resize_minutes


@dataclass
class ClusterView:
    """What a strategy sees each minute (and, for the autoscaler, the CPU history it reads as metrics)."""

    minute: int
    status: str  # available | resizing | pausing | paused | resuming
    nodes: int
    target_nodes: int
    cpu: list[float | None]  # per minute so far; None while no metrics are emitted
    load: list[float]  # the load served per minute (what CloudWatch's CPU x nodes shows)
    queued: list[float]  # the demand queued at the end of each minute

    @property
    def settled(self) -> bool:
        return self.status in ("available", "paused")


class Strategy(Protocol):
    name: str

    def step(self, view: ClusterView) -> tuple[str, int | None] | None:
        """``("resize", n)``, ``("pause", None)``, ``("resume", None)`` or None, once a minute."""


@dataclass
class SimResult:
    """One strategy on one trace. Costs in USD; times in minutes."""

    strategy: str
    compute_usd: float = 0.0
    storage_usd: float = 0.0
    overload_minutes: int = 0
    longest_overload: int = 0
    worst_delay_minutes: int = 0
    read_only_minutes: int = 0
    operations: int = 0
    refused: int = 0
    node_hours: float = 0.0
    peak_nodes: int = 0
    unserved_at_end: float = 0.0
    notes: list[str] = field(default_factory=list)

    _stretch: int = field(default=0, repr=False)

    def serve_oldest(self, queue: deque[list[float]], spare: float, minute: int) -> float:
        """Serve the oldest item of ``queue`` ([arrival minute, amount]) with up to ``spare``; return the amount."""
        item = queue[0]
        take = min(item[1], spare)
        item[1] -= take
        self.worst_delay_minutes = max(self.worst_delay_minutes, minute - int(item[0]))
        if item[1] <= 1e-9:
            queue.popleft()
        return take

    def count_minute(self, overloaded: bool) -> None:
        """Count one simulated minute: overload minutes and the longest stretch of them."""
        if overloaded:
            self.overload_minutes += 1
            self._stretch += 1
            self.longest_overload = max(self.longest_overload, self._stretch)
        else:
            self._stretch = 0

    @property
    def cost_usd(self) -> float:
        return self.compute_usd + self.storage_usd

    def row(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "cost_usd": round(self.cost_usd, 2),
            "overload_minutes": self.overload_minutes,
            "longest_overload": self.longest_overload,
            "worst_delay_minutes": self.worst_delay_minutes,
            "read_only_minutes": self.read_only_minutes,
            "operations": self.operations,
        }


def simulate(
    demand: Sequence[float], strategy: Strategy, *, start_nodes: int, model: ClusterModel | None = None
) -> SimResult:
    """Run ``strategy`` over ``demand`` (one value per minute); the cluster starts available with ``start_nodes``."""
    model = model or ClusterModel()
    if start_nodes < 1:
        raise InvalidRequest("start_nodes must be at least 1", field="start_nodes")
    result = SimResult(strategy=getattr(strategy, "name", type(strategy).__name__))
    price = model.usd_per_node_hour
    view = ClusterView(0, "available", start_nodes, start_nodes, [], [], [])
    busy_until = 0.0
    reads: deque[list[float]] = deque()  # [arrival minute, amount], oldest first
    writes: deque[list[float]] = deque()
    for minute, arriving in enumerate(demand):
        view.minute = minute
        if view.status != "available" and view.status != "paused" and minute >= busy_until:
            view.status = {"resizing": "available", "resuming": "available", "pausing": "paused"}[view.status]
            view.nodes = view.target_nodes
        ask = strategy.step(view)
        if ask is not None:
            what, count = ask
            if not view.settled or (what == "resume") != (view.status == "paused"):
                result.refused += 1
            elif what == "resize" and count is not None and count != view.nodes:
                view.status, view.target_nodes = "resizing", count
                busy_until = minute + model.resize_takes(view.nodes, count)
                result.operations += 1
            elif what == "pause":
                view.status, busy_until = "pausing", minute + model.pause_minutes
                result.operations += 1
            elif what == "resume":
                view.status, busy_until = "resuming", minute + model.resume_minutes
                result.operations += 1
        if arriving > 0:
            reads.append([minute, arriving * (1 - model.write_share)])
            writes.append([minute, arriving * model.write_share])
        running = view.status in ("available", "resizing")
        read_only = view.status == "resizing"
        if read_only:
            result.read_only_minutes += 1
        spare = view.nodes * 100.0 if running else 0.0
        served = 0.0
        while spare > 1e-9:
            # Oldest first; during a resize only reads run, writes wait for its end.
            queue = reads if (read_only or not writes or (reads and reads[0][0] <= writes[0][0])) else writes
            if not queue:
                break
            take = result.serve_oldest(queue, spare, minute)
            spare -= take
            served += take
        queued = sum(item[1] for item in reads) + sum(item[1] for item in writes)
        cpu = min(100.0, model.housekeeping_cpu + served / view.nodes) if running else None
        view.cpu.append(cpu)
        view.load.append(served)
        view.queued.append(queued)
        if view.status != "paused":
            result.node_hours += view.nodes / 60
            result.compute_usd += view.nodes * price / 60
        result.peak_nodes = max(result.peak_nodes, view.nodes if running else 0)
        result.count_minute(queued > 1e-6 or (cpu is not None and cpu > model.cpu_high))
    if reads or writes:
        oldest = int(min(q[0][0] for q in (reads, writes) if q))
        result.worst_delay_minutes = max(result.worst_delay_minutes, len(demand) - oldest)
        result.unserved_at_end = sum(item[1] for q in (reads, writes) for item in q)
        result.notes.append(f"{result.unserved_at_end:,.0f} load units still queued at the end")
    hours = len(demand) / 60
    result.storage_usd = model.storage_tb * REDSHIFT_MANAGED_STORAGE_USD_PER_TB_MONTH / _HOURS_PER_MONTH * hours
    return result


def ceil_nodes(load: float, cpu: float) -> int:
    """Nodes that carry ``load`` (CPU-percent x nodes) at ``cpu`` percent, at least 2."""
    return max(2, math.ceil(load / cpu - 1e-9))
