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


def test_every_family_is_seeded_deterministic_and_as_long_as_documented(traces: ModuleType) -> None:
    assert len(traces.KINDS) >= 12 and traces.SEEDS == (1, 2, 3)
    for kind in traces.KINDS:
        first = traces.generate(kind, 1)
        assert len(first) == traces.DAYS * 1440 and min(first) >= 0, kind
        assert traces.generate(kind, 1) == first, kind  # the same family and seed, the same trace
        assert traces.read(kind, 1) == [round(v, 1) for v in first]
        assert traces.sim_start_epoch(kind) - traces.start_epoch(kind) == traces.HISTORY_DAYS * 86400
        assert (traces.start_epoch(kind) // 86400 + 3) % 7 == 0, kind  # 1970-01-01 was a Thursday: a Monday
    with pytest.raises(ValueError, match="unknown trace family"):
        traces.generate("sunny", 1)


def test_a_written_trace_reads_back_byte_for_byte(traces: ModuleType, tmp_path: Path) -> None:
    import gzip

    first = traces.write("night_batch", 2, tmp_path)
    again = traces.write("night_batch", 2, tmp_path / "again")
    assert first.read_bytes() == again.read_bytes()
    with gzip.open(first, "rt") as source:
        rows = source.read().splitlines()
    assert rows[0] == "minute,demand" and [float(r.split(",")[1]) for r in rows[1:]] == traces.read("night_batch", 2)


def test_the_new_families_have_their_documented_shape(traces: ModuleType) -> None:
    day = traces.HISTORY_DAYS * 1440
    periodic = traces.read("periodic", 1)
    month_end = traces.read("month_end", 1)
    thursday_noon = day + 3 * 1440 + 12 * 60
    assert month_end[thursday_noon] > 1.5 * periodic[thursday_noon]
    assert max(month_end[:day]) < 1.2 * traces.PEAK  # never seen in the history
    step_up = traces.read("step_up", 2)
    assert max(step_up[day + 1440 :]) > 1.7 * max(step_up[:day])
    night = traces.read("night_batch", 3)
    assert night[day + 2 * 60 + 30] > 0.7 * traces.PEAK and periodic[day + 2 * 60 + 30] == 0
    idle = traces.read("idle_dev", 1)
    assert sum(1 for v in idle if v > 0) < 0.1 * len(idle) and max(idle) < 0.4 * traces.PEAK
    # dst: the ramp starts at 06:00 New York time: 11:00 UTC in the history (EST), 10:00 UTC in the week (EDT).
    dst = traces.read("dst", 1)
    assert dst[11 * 60] == 0 and dst[14 * 60] > 300  # history Monday
    assert dst[day + 11 * 60] > 150 and dst[day + 13 * 60] > 300  # simulated Monday, an hour earlier in UTC
    seeds = {tuple(traces.read("random_walk", s)[day + 12 * 60 :: 1440]) for s in traces.SEEDS}
    assert len(seeds) == 3  # the walks differ by seed


def test_the_first_six_families_differ_from_the_periodic_one_where_documented(traces: ModuleType) -> None:
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


def test_schedules_follow_busy_stretches_across_midnight_and_the_week_boundary() -> None:
    from dbscale.core.autoscale.strategies import _busy_stretches

    needed = [0] * 168
    for hour in (22, 23, 24, 25, 26, 166, 167, 0, 1):  # Mon 22:00-Tue 03:00, and Sun 22:00-Mon 02:00
        needed[hour] = 4
    assert _busy_stretches(needed) == [(22, 27), (166, 170)]  # one stretch each, the second wraps
    assert _busy_stretches([0] * 168) == [] and _busy_stretches([1] * 168) == [(0, 168)]
