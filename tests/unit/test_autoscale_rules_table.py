"""The autoscaler's decisions over a broad seeded sweep, pinned to a golden file (equivalence of the rule tables).

A seeded generator builds a few thousand evaluations (Redshift and Aurora: running, paused, stopped,
provisioned, Serverless v2 with and without auto-pause; policies with bounds, ladders, ACU ranges,
readers, schedules, cooldowns, idle pauses; memories mid-streak, mid-cooldown, after a catch-up or a
stop; check results with and without data; with and without a usable forecast) and records what the
rules decide: action, target, reason, causes, memory and figures, both from the rule table alone and
from ``Autoscaler._decide`` (which arbitrates forecast against reactive). Everything must match
``tests/data/autoscale/rules_golden.json`` exactly, reason strings included.

A change of behaviour that is meant: regenerate with ``DBSCALE_REGENERATE_GOLDEN=1`` (the test then
rewrites the file and fails, so the new file is reviewed with ``git diff`` before it is committed).
"""

from __future__ import annotations

import functools
import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dbscale.core.autoscale import AutoscalePolicy, Autoscaler, ClusterRef, MemoryStateStore, Period
from dbscale.core.autoscale.aurora_rules import AURORA_RULES, decide_aurora
from dbscale.core.autoscale.decisions import Decision
from dbscale.core.autoscale.forecasts import Forecast, learn
from dbscale.core.autoscale.guide import Guide, guide_for
from dbscale.core.autoscale.memory import Memory
from dbscale.core.autoscale.observe import Observed
from dbscale.core.autoscale.redshift_rules import REDSHIFT_RULES, decide_redshift
from dbscale.core.autoscale.rules import Rule, always
from dbscale.core.scaling import CheckResult

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "autoscale" / "rules_golden.json"
REGENERATE = "DBSCALE_REGENERATE_GOLDEN"
SEED = 25
CASES_PER_SERVICE = 1000
MONDAY = datetime(2025, 1, 13, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0


# --- the rules under test -------------------------------------------------------------------------------


def rules_for(scaler: Autoscaler, service: str) -> Any:
    """The service's rule table alone: ``(obs, memory, results, now, decide, guide) -> Decision``."""
    rules = decide_redshift if service == "redshift" else decide_aurora
    return functools.partial(rules, scaler.policy)


# --- forecasts ------------------------------------------------------------------------------------------


def _weekday(scale: float) -> Any:
    def load(stamp: float) -> float:
        moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
        if moment.weekday() < 5:
            if 8 <= moment.hour < 18:
                return scale * (1.5 if moment.hour in (10, 11, 14) else 1.0)
            return scale * 0.02
        return scale * 0.3 if 12 <= moment.hour < 16 else 0.0

    return load


def _learnt(scale: float) -> Forecast:
    stamps = [MONDAY - (21 * 24 - h) * HOUR for h in range(21 * 24)]
    load = _weekday(scale)
    return learn([(s, load(s)) for s in stamps], [(s, load(s) * 0.9) for s in stamps], now=MONDAY)


FORECASTS = {"small": _learnt(150.0), "large": _learnt(600.0), "short": learn([], [], now=MONDAY)}


# --- the sweep ------------------------------------------------------------------------------------------


def _maybe(rng: random.Random, value: Any, p: float = 0.5) -> Any:
    return value if rng.random() < p else None


def _schedule(rng: random.Random, service: str) -> dict[str, Any]:
    kind = rng.choice(["none", "none", "office", "weekend_paused", "outside_paused", "tight"])
    if kind == "none":
        return {}
    if kind == "office":
        bounds = {"min_nodes": 4, "max_nodes": 8} if service == "redshift" else {"min_acu": 4.0, "max_acu": 8.0}
        return {"schedule": (Period("Mon-Fri 08:00-18:00", **bounds),)}
    if kind == "weekend_paused":
        return {"schedule": (Period("Mon-Fri 08:00-18:00"), Period("Sat-Sun 00:00-24:00", paused=True))}
    if kind == "tight":
        bounds = {"max_nodes": 3} if service == "redshift" else {"max_acu": 2.0}
        return {"schedule": (Period("Mon-Sun 00:00-06:00", **bounds),)}
    return {"schedule": (Period("Mon-Fri 07:30-19:00"),), "paused_outside_schedule": True}


LADDERS = ((), ("db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge"), ("db.t4g.medium", "db.r6g.large", "db.r6g.4xlarge"))
ENGINES = (("aurora-postgresql", "16.4"),) * 2 + (("aurora-postgresql", "13.9"), ("aurora-mysql", ""))


def _policy(rng: random.Random, service: str) -> AutoscalePolicy:
    low = rng.choice([2, 2, 3, 4])
    kw: dict[str, Any] = {
        "redshift_min_nodes": low,
        "redshift_max_nodes": rng.choice([low, 8, 12, 16, 32]),
        "cooldown_minutes": rng.choice([0, 10, 20]),
        "scale_down_sustain_minutes": rng.choice([0, 15, 30]),
        "idle_pause_minutes": rng.choice([None, 30, 60]),
        "window_minutes": rng.choice([5, 10]),
        "evaluation_interval_minutes": rng.choice([5, 10]),
        "expected_resize_minutes": rng.choice([5, 15]),
        "expected_resume_minutes": rng.choice([5, 10, 20]),
        "forecasts": rng.random() < 0.4,
        "resume_catalog": rng.choice([None, "spend"]),
        "aurora_stop_when_idle": rng.random() < 0.5,
        "aurora_auto_pause": rng.random() < 0.7,
        "aurora_instance_classes": rng.choice(LADDERS),
        "aurora_acu_range": rng.choice([None, (1.0, 16.0), (2.0, 64.0), (4.0, 8.0)]),
        **_schedule(rng, service),
    }
    if rng.random() < 0.4:
        kw["aurora_min_readers"], kw["aurora_max_readers"] = rng.choice([(0, 2), (1, 3), (1, 1)])
    if rng.random() < 0.2:
        kw["thresholds"] = {"cpu_high": 80.0, "cpu_low": 20.0, "disk_high": 90.0, "disk_low": 30.0}
    return AutoscalePolicy(**kw)


def _now(rng: random.Random) -> float:
    day = rng.choice([0, 0, 1, 2, 4, 5, 6])
    hour = rng.choice([0, 3, 7, 7, 8, 9, 10, 12, 14, 17, 18, 19, 22])
    return MONDAY + 7 * 86400 + day * 86400 + hour * HOUR + rng.choice([0, 5, 20, 25, 35, 45, 50, 55]) * 60


def _memory(rng: random.Random, now: float, service: str, interval: int) -> Memory:
    def ago(*minutes: float) -> float:
        return now - rng.choice(minutes) * 60

    evaluated = ago(interval) if rng.random() < 0.4 else _maybe(rng, ago(5, 10, 30), 0.6)  # a streak goes on
    last = rng.choice([None, None, "scale_up", "scale_down", "pause", "resume", "stop_again", "none"])
    return Memory(
        last_action=last,
        last_action_at=ago(2, 8, 15, 25, 45, 120) if last else None,
        last_evaluated_at=evaluated,
        underused_since=_maybe(rng, ago(5, 20, 35, 70), 0.4),
        idle_since=_maybe(rng, ago(5, 35, 70), 0.4),
        paused_by_autoscaler=rng.random() < 0.5,
        stopped_since=_maybe(rng, ago(60, 6.99 * 1440, 7 * 1440, 8 * 1440), 0.25 if service == "aurora" else 0.05),
        acu_min_before_pause=_maybe(rng, rng.choice([0.0, 0.5, 2.0]), 0.5 if service == "aurora" else 0.0),
        last_action_rule=rng.choice([None, "forecast", "reactive", "schedule"]),
        forecast_distrusted_since=_maybe(rng, ago(20), 0.1),
        forecast_miss=_maybe(rng, {"at": ago(30)}, 0.1),
        catch_up_to=_maybe(rng, rng.choice([6, 12, 24]), 0.15),
        settled_at=_maybe(rng, ago(1, 10, 30), 0.3),
        last_load=_maybe(rng, rng.choice([20.0, 100.0, 300.0]), 0.4),
    )


def _result(signal: str, value: float | None, threshold: float, over: bool, now: float, **kw: Any) -> CheckResult:
    verdict = None if value is None else (value > threshold if over else value < threshold)
    return CheckResult(
        check=signal,
        cluster="c",
        value=value,
        threshold=threshold,
        verdict=verdict,
        datapoints=0 if value is None else 2,
        window_minutes=kw.pop("window", 10),
        source="sweep",
        reason=f"{signal} {value}",
        unit=kw.pop("unit", "%"),
        window_end=now - kw.pop("late", 0),
        **kw,
    )


def _results(
    rng: random.Random, policy: AutoscalePolicy, now: float, service: str, roles: dict[str, str]
) -> dict[str, CheckResult]:
    t, w = policy.thresholds, policy.window_minutes
    late = rng.choice([0, 0, 60, 600])
    if rng.random() < 0.08:
        cpu = None
    else:
        cpu = rng.choice([0.5, 1.0, 2.0, 4.0, 10.0, 15.0, 30.0, 45.0, 60.0, 80.0, 95.0, rng.uniform(0, 100)])
    common = {"window": w, "late": late}
    out: dict[str, CheckResult] = {}
    busiest = {"busiest_instance": rng.choice(sorted(roles) or ["x"])}
    details = {"details": busiest} if service == "aurora" else {}
    if rng.random() < 0.95:
        out["cpu_high"] = _result("cpu_high", cpu, t.cpu_high, True, now, **common, **details)
        out["cpu_low"] = _result("cpu_low", cpu, t.cpu_low, False, now, **common)
    if rng.random() < 0.8:
        out["idle"] = _result("idle", cpu, rng.choice([policy.idle_cpu_percent, 3.0]), False, now, **common)
    if service == "redshift":
        disk = rng.choice([None, 20.0, 50.0, 85.0, 95.0])
        out["disk_high"] = _result("disk_high", disk, t.disk_high, True, now, **common)
        if rng.random() < 0.7:
            out["disk_low"] = _result("disk_low", disk, t.disk_low, False, now, **common)
        if rng.random() < 0.4:
            spill = rng.choice([None, 0.5, 5.0, 20.0])
            out["memory_high"] = _result("memory_high", spill, t.spill_high, True, now, **common)
            out["memory_low"] = _result("memory_low", spill, t.spill_low, False, now, **common)
            out["slow_queries_high"] = _result("slow_queries_high", rng.choice([None, 2.0, 30.0]), 10.0, True, now)
            wait = rng.choice([None, 0.0, 30.0, 120.0, 900.0])
            out["backlog"] = _result("backlog", wait, 60.0, True, now, unit=" s", **common)
        if rng.random() < 0.4:
            out["can_boot_redshift"] = _result("can_boot_redshift", rng.choice([1.0, 10.0]), 5.0, True, now, unit="USD")
    else:
        out["latency_high"] = _result("latency_high", rng.choice([None, 20.0, 250.0]), t.latency_high_ms, True, now)
        if rng.random() < 0.7:
            mem = rng.choice([None, 30.0, 60.0, 90.0])
            out["memory_high"] = _result("memory_high", mem, t.memory_high, True, now, **common, **details)
            out["memory_low"] = _result("memory_low", mem, t.memory_low, False, now, **common)
    return out


def _observed(rng: random.Random, service: str, policy: AutoscalePolicy) -> Observed:
    declared = rng.random() < 0.1
    if service == "redshift":
        ref = ClusterRef.redshift("warehouse", declared_paused=declared)
        status = rng.choice(["available", "available", "paused"])
        node_type = rng.choice(["ra3.xlplus"] * 5 + ["ra3.4xlarge"] * 2 + ["dc2.large", None, "ds2.xlarge"])
        status = "available" if node_type == "ds2.xlarge" else status  # a paused unknown type is not a case
        nodes = rng.choice([2, 3, 4, 6, 8, 12, 16, 24])
        if rng.random() < 0.6:  # within the policy's bounds, where the metric rules decide
            nodes = rng.randint(policy.redshift_min_nodes, min(policy.redshift_max_nodes, 24))
        return Observed(ref, True, status=status, node_type=node_type, nodes=nodes)
    ref = ClusterRef.aurora("orders", declared_paused=declared)
    readers = rng.choice([0, 0, 1, 2, 3])
    roles = {"orders-1": "writer", **{f"orders-{i + 2}": "reader" for i in range(readers)}}
    serverless = rng.random() < 0.55
    engine, version = rng.choice(ENGINES)
    if serverless:
        acu = (rng.choice([0.0, 0.5, 1.0, 2.0]), rng.choice([1.0, 2.0, 4.0, 8.0, 16.0, 64.0]))
        klass: str | None = "db.serverless"
    else:
        acu = None
        klass = rng.choice(["db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge", "db.t4g.medium", "db.r5.large", None])
    return Observed(
        ref,
        True,
        status=rng.choice(["available"] * 4 + ["stopped"]),
        instance_class=klass,
        roles=roles,
        acu=acu if rng.random() < 0.95 else None,
        engine=engine,
        engine_version=version,
        all_serverless=serverless and rng.random() < 0.9,
    )


def _guide(rng: random.Random, policy: AutoscalePolicy, now: float) -> Guide:
    name = rng.choice(["none", "none", "small", "large", "short"])
    forecast = FORECASTS.get(name)
    return guide_for(policy, now, forecast, "" if forecast else "forecasts are off in the policy")


def _record(decision: Decision) -> dict[str, Any]:
    default = Memory().to_dict()
    figures = {k: v for k, v in decision.figures.items() if k not in ("forecast", "schedule")}
    return {
        "action": decision.action,
        "reason": decision.reason,
        "target": dict(decision.target),
        "causes": list(decision.causes),
        "memory": {k: v for k, v in decision.memory.items() if default.get(k) != v},
        **({"figures": figures} if figures else {}),
    }


def _decider(obs: Observed, guide: Guide) -> Any:
    """``decide(action, reason, memory, **changes)`` as ``Autoscaler._decide`` hands it to the rules."""

    def decide(action: str, reason: str, mem: Memory, **changes: Any) -> Decision:
        figures = {**guide.figures(), **changes.pop("figures", {})}
        return Decision(
            cluster=obs.ref.name,
            service=obs.ref.service,
            action=action,
            reason=reason,
            memory=mem.to_dict(),
            figures=figures,
            **changes,
        )

    return decide


def sweep() -> list[dict[str, Any]]:
    """Every case's decisions: the rule table's (``rules``) and what ``_decide`` changes of it (``final``)."""
    rng = random.Random(SEED)
    cases = []
    for service in ("redshift", "aurora"):
        for index in range(CASES_PER_SERVICE):
            policy = _policy(rng, service)
            now = _now(rng)
            obs = _observed(rng, service, policy)
            memory = _memory(rng, now, service, policy.evaluation_interval_minutes)
            results = _results(rng, policy, now, service, dict(obs.roles))
            guide = _guide(rng, policy, now)
            scaler = Autoscaler(policy, state_store=MemoryStateStore(), log=lambda _: None)
            decide = _decider(obs, guide)
            ruled = _record(rules_for(scaler, service)(obs, memory, results, now, decide, guide))
            final = _record(scaler._decide(obs, memory, results, now, "sweep", guide))
            case: dict[str, Any] = {"case": f"{service}-{index}", "rules": ruled}
            changed = {k: v for k, v in final.items() if ruled.get(k) != v}
            if changed:
                case["final"] = changed
            cases.append(case)
    return cases


def _dump(cases: list[dict[str, Any]]) -> str:
    return "[\n" + ",\n".join(json.dumps(c, sort_keys=True) for c in cases) + "\n]\n"


def test_the_rules_decide_as_the_golden_file_says() -> None:
    text = _dump(sweep())
    if os.environ.get(REGENERATE):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
        pytest.fail(f"{GOLDEN} rewritten ({REGENERATE} is set): review it with git diff, then run without it")
    expected = GOLDEN.read_text().splitlines()
    for want, got in zip(expected, text.splitlines(), strict=True):
        assert got == want


@pytest.mark.parametrize("table", [REDSHIFT_RULES, AURORA_RULES], ids=["redshift", "aurora"])
def test_each_table_reads_as_named_rules_and_ends_with_one_that_always_decides(table: tuple[Any, ...]) -> None:
    names = [entry.name for entry in table]
    assert len(set(names)) == len(names)
    assert isinstance(table[-1], Rule) and table[-1].when is always


# --- the policy's validation: which error, in which order --------------------------------------------------

POLICY_ERRORS = Path(__file__).resolve().parents[1] / "data" / "autoscale" / "policy_errors_golden.json"
BAD_VALUES: dict[str, list[Any]] = {
    "redshift_min_nodes": [1, 2.5, True, 9, "2"],
    "redshift_max_nodes": [1, 200, "8", 40],
    "redshift_node_type": ["ra3.xlplus", "nope", "dc2.large"],
    "aurora_instance_classes": ["db.r6g.large", ("db.serverless",), ("db.r6g.xlarge", "db.r6g.large"), ("db.x",)],
    "aurora_acu_range": [(1,), "1-2", (0.5, 2), (4, 2), (1, 300), (0.0, 1.0)],
    "aurora_min_readers": [1, -1, 5],
    "aurora_max_readers": [2, 20, 0],
    "thresholds": [{"cpu_low": 90.0}, {"nope": 1}, "x", {"cpu_high": 200.0}],
    "window_minutes": [0, 2000, 1.5, True],
    "evaluation_interval_minutes": [0, 61],
    "cooldown_minutes": [-1, "x", float("nan")],
    "scale_down_sustain_minutes": [-5],
    "idle_pause_minutes": [0, "x"],
    "idle_cpu_percent": [30.0, -1, 101],
    "aurora_stop_when_idle": ["yes"],
    "resume_catalog": ["", 5],
    "resume_workgroup": ["", None],
    "resume_window_minutes": [0, 2000],
    "redshift_query_checks": [1],
    "operation_timeout_minutes": [0, -1],
    "schedule": ["Mon 08:00-09:00", [{"spec": "bad"}], [Period("Mon 08:00-09:00", max_nodes=100)]],
    "holidays": [["not a date"], "2025-01-01"],
    "paused_outside_schedule": [True, "yes"],
    "forecasts": ["yes"],
    "forecast_tz": ["Mars/Base", ""],
    "forecast_history_days": [3, 500, 14.5],
    "expected_resize_minutes": [-1, 2000],
    "expected_resume_minutes": [-1],
    "aurora_auto_pause": [None],
}


def policy_errors() -> list[dict[str, Any]]:
    """The error of each bad value, alone and paired with a later bad value of every other field (first wins)."""
    from dbscale.core.errors import InvalidRequest

    names = list(BAD_VALUES)
    rows = []
    rng = random.Random(SEED)
    combos: list[dict[str, Any]] = [{n: v} for n in names for v in BAD_VALUES[n]]
    for _ in range(300):
        picked = rng.sample(names, rng.choice([2, 3]))
        combos.append({n: rng.choice(BAD_VALUES[n]) for n in picked})
    for kw in combos:
        try:
            AutoscalePolicy(**kw)
            error = None
        except InvalidRequest as err:
            error = [err.field, str(err)]
        rows.append({"policy": {k: repr(v) for k, v in sorted(kw.items())}, "error": error})
    return rows


def test_the_policy_refuses_as_the_golden_file_says() -> None:
    text = _dump(policy_errors())
    if os.environ.get(REGENERATE):
        POLICY_ERRORS.write_text(text)
        pytest.fail(f"{POLICY_ERRORS} rewritten ({REGENERATE} is set): review it with git diff, then run without it")
    for want, got in zip(POLICY_ERRORS.read_text().splitlines(), text.splitlines(), strict=True):
        assert got == want
