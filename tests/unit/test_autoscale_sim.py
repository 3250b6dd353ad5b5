"""The simulator that does not flatter: queueing, read-only resizes, storage on both sides, traces from files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from dbscale.core.autoscale.simulate import REDSHIFT_MANAGED_STORAGE_USD_PER_TB_MONTH, ClusterModel, simulate
from dbscale.core.autoscale.strategies import Static, Timetable
from dbscale.core.limits import REDSHIFT_NODE_TYPES

BENCH = Path(__file__).resolve().parents[2] / "bench"
PRICE = REDSHIFT_NODE_TYPES["ra3.xlplus"].usd_per_node_hour


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def traces() -> ModuleType:
    return load("autoscale_traces")


def test_every_trace_file_is_what_the_documented_model_generates(traces: ModuleType) -> None:
    for kind in traces.KINDS:
        for seed in traces.SEEDS:
            assert traces.path(kind, seed).is_file(), f"run bench/autoscale_traces.py: {kind}-{seed} is missing"
        written = traces.read(kind, 1)
        generated = traces.generate(kind, 1)
        assert len(written) == traces.DAYS * 1440
        assert max(abs(w - round(g, 1)) for w, g in zip(written, generated, strict=True)) < 1e-9, kind


def test_the_irregular_traces_differ_from_the_periodic_one_where_documented(traces: ModuleType) -> None:
    periodic = traces.read("periodic", 1)
    day = traces.HISTORY_DAYS * 1440
    holiday = traces.read("holiday", 1)
    assert max(holiday[day + 3 * 1440 : day + 4 * 1440]) == 0 and max(periodic[day + 3 * 1440 : day + 4 * 1440]) > 400
    spike = traces.read("spike", 1)
    wednesday_3pm = day + 2 * 1440 + 15 * 60
    assert spike[wednesday_3pm] > periodic[wednesday_3pm] + 0.8 * traces.PEAK
    shifted = traces.read("shifted", 1)
    tuesday_4am = day + 1440 + 4 * 60
    assert shifted[tuesday_4am] > 50 and periodic[tuesday_4am] == 0
    drift = traces.read("drift", 1)
    assert max(drift[day:]) > 1.15 * max(drift[: 1440 * 5])  # about 20% more than week 1


def test_demand_above_capacity_queues_and_is_served_later() -> None:
    model = ClusterModel(write_share=0.2)
    result = simulate([300.0] * 10 + [0.0] * 20, Static(2), start_nodes=2, model=model)
    # 2 nodes serve 200 a minute: 1,000 waits after ten minutes and drains in five more.
    assert (result.overload_minutes, result.longest_overload, result.worst_delay_minutes) == (15, 15, 5)
    assert result.unserved_at_end == 0 and result.read_only_minutes == 0


def test_a_resize_is_read_only_for_its_duration_and_the_writes_wait() -> None:
    model = ClusterModel(resize_minutes=15, write_share=0.2)
    grow = Timetable("grow", [(0, "resize", 8)])
    result = simulate([100.0] * 30, grow, start_nodes=4, model=model)
    assert (result.read_only_minutes, result.operations) == (15, 1)
    # 20 a minute of writes wait 15 minutes; the reads (80) run on the old nodes meanwhile.
    assert (result.overload_minutes, result.worst_delay_minutes) == (15, 15)
    assert result.peak_nodes == 8


def test_storage_is_billed_on_every_strategy_and_a_paused_cluster_costs_no_compute() -> None:
    model = ClusterModel(storage_tb=10, pause_minutes=5)
    idle = [0.0] * 60
    static = simulate(idle, Static(2), start_nodes=2, model=model)
    paused = simulate(idle, Timetable("pause", [(0, "pause", None)]), start_nodes=2, model=model)
    storage = 10 * REDSHIFT_MANAGED_STORAGE_USD_PER_TB_MONTH / 730
    assert static.storage_usd == pytest.approx(storage) and paused.storage_usd == pytest.approx(storage)
    assert static.compute_usd == pytest.approx(2 * PRICE)
    assert paused.compute_usd == pytest.approx(2 * PRICE * 5 / 60)  # billed while pausing only


def test_a_change_asked_for_while_another_runs_is_refused() -> None:
    busy = Timetable("twice", [(0, "resize", 4), (1, "pause", None)])
    result = simulate([0.0] * 30, busy, start_nodes=2, model=ClusterModel())
    assert result.operations == 2 and result.refused == 0  # the pause waits for the resize, as a retry would


def test_two_simulated_days_rank_the_strategies_honestly() -> None:
    bench = load("autoscale_sim")
    results = {r.strategy.split(":")[0].split(",")[0]: r for r in bench.compare("periodic", 1, days=2)}
    static = results["smallest static without overload"]
    forecasts, reactive = results["autoscaler + forecasts"], results["autoscaler (reactive)"]
    scheduler = results["Instance Scheduler pause/resume"]
    assert static.overload_minutes == 0 and static.strategy.endswith("7 nodes")
    assert forecasts.overload_minutes <= 10 and forecasts.cost_usd < scheduler.cost_usd
    assert reactive.overload_minutes > forecasts.overload_minutes  # reacting is late at every morning ramp
    table = bench.table(list(results.values()))
    assert table.count("\n") == 1 + len(results) and "worst backlog delay" in table
