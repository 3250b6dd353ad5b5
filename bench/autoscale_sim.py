"""Autoscaling a Redshift cluster through a synthetic 7-day diurnal load, on a simulated clock.

Runs against moto (no AWS account): the cluster's behaviour (resizing, pausing, resuming take
SlowAws's minutes) comes from ``tests/fakes``; every simulated minute the cluster publishes
``CPUUtilization`` = load / nodes (+1% housekeeping) and ``PercentageDiskSpaceUsed`` to moto's
CloudWatch; every ``evaluation_interval_minutes`` a fresh ``Autoscaler`` (as one Lambda invocation
builds it, memory in SSM) evaluates and acts. While the cluster is paused its users' queries go to
Athena (``can_boot_redshift`` reads them to decide when to resume); Athena's bill is added to the
autoscaled cost.

Printed: cost next to an always-on cluster at the autoscaler's peak size (prices from
``dbscale.core.limits``), rescales, pauses, and minutes over the overload threshold (a minute whose
CPU exceeded ``thresholds.cpu_high``, or in which the cluster was paused or resuming while the load
was above the idle level). Exits non-zero unless the autoscaled cluster is at least 40% cheaper and
no overload stretch is longer than one cooldown.

    .venv/bin/python bench/autoscale_sim.py           # the 7-day simulation
    .venv/bin/python bench/autoscale_sim.py --demo    # checks on a simulated load and one decision
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLUSTER = "warehouse"
NODE_TYPE = "ra3.xlplus"
CATALOG = "sales"
START = datetime(2025, 1, 13, tzinfo=timezone.utc)  # a Monday, 00:00 UTC
DAYS = 7
PEAK_LOAD = 440.0
"""Weekday peak in CPU-percent x nodes: 8 nodes at 55%, 2 nodes would need 220%."""
WEEKEND_SHARE = 0.3
HOUSEKEEPING_CPU = 1.0
DISK_PERCENT_NODES = 100.0
"""Stored data as percent of one node's disk: 50% on 2 nodes, 12.5% on 8."""
TARGET_SAVING = 0.40
ALARM_TRIGGER = os.environ.get("SIM_ALARMS", "1") != "0"
"""Evaluate also when the CpuHigh alarm goes into ALARM, as the deployed autoscaler does.

SIM_ALARMS=0 evaluates on the schedule only."""


def _environment() -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        os.environ[key] = value


# --- the load ------------------------------------------------------------------------------------


def _ramp(x: float) -> float:
    """0 -> 1 along a half cosine (slow start, slow finish)."""
    x = min(1.0, max(0.0, x))
    return (1 - math.cos(math.pi * x)) / 2


def load_at(minute: int, noise: random.Random) -> float:
    """Demand in CPU-percent x nodes at ``minute`` minutes after START."""
    day, rest = divmod(minute, 1440)
    hour = rest / 60
    weekend = day >= 5
    peak = PEAK_LOAD * (WEEKEND_SHARE if weekend else 1.0)
    up, plateau, down, off = (9, 10, 18, 21) if weekend else (6, 9, 17, 21)
    if hour < up or hour >= off:
        level = 0.0
    elif hour < plateau:
        level = _ramp((hour - up) / (plateau - up))
    elif hour < down:
        level = 1.0
    else:
        level = 1 - _ramp((hour - down) / (off - down))
    wobble = 1 + 0.08 * math.sin(2 * math.pi * rest / 97) + noise.uniform(-0.04, 0.04) if level > 0 else 1.0
    return peak * level * wobble


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Ledger:
    node_minutes: float = 0.0
    athena_bytes: float = 0.0
    overload_minutes: int = 0
    stretches: list[int] = field(default_factory=list)
    stretch_ends: list[int] = field(default_factory=list)
    minute: int = 0
    current: int = 0
    peak_nodes: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    decisions: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    triggers: Counter[str] = field(default_factory=Counter)

    def overloaded(self, yes: bool) -> None:
        self.minute += 1
        if yes:
            self.overload_minutes += 1
            self.current += 1
        elif self.current:
            self.stretches.append(self.current)
            self.stretch_ends.append(self.minute - 1)
            self.current = 0

    @property
    def longest(self) -> int:
        return max([*self.stretches, self.current, 0])

    def longest_at(self) -> str:
        """When the longest stretch started, e.g. ``Mon 07:06``."""
        if not self.stretches:
            return "-"
        index = self.stretches.index(max(self.stretches))
        start = self.stretch_ends[index] - self.stretches[index]
        return (START + timedelta(minutes=start)).strftime("%a %H:%M")


def simulate(*, days: int = DAYS, quiet: bool = False) -> tuple[Ledger, Any]:
    _environment()
    from moto import mock_aws
    from moto.athena.models import athena_backends
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.redshift.models import redshift_backends

    from dbscale.core.autoscale import AutoscalePolicy, Autoscaler, ClusterRef, SsmStateStore
    from dbscale.core.limits import ATHENA_USD_PER_TB, REDSHIFT_NODE_TYPES, TB
    from dbscale.core.redshift import RedshiftProvisioning
    from tests.fakes import FakeClock, SlowAws, install_moto_shims
    from tests.fakes import athena as fake_athena
    from tests.fakes.sessions import fresh_session

    policy = AutoscalePolicy(
        redshift_min_nodes=2,
        redshift_max_nodes=8,
        redshift_node_type=NODE_TYPE,
        resume_catalog=CATALOG,
        resume_window_minutes=10,
    )
    price = REDSHIFT_NODE_TYPES[NODE_TYPE].usd_per_node_hour
    idle_load = policy.idle_cpu_percent * policy.redshift_min_nodes
    # The users' queries scan this much on Athena per unit of load per minute while Redshift is
    # paused: calibrated so that Athena costs what the smallest cluster costs at half the idle level.
    athena_bytes_per_load_minute = price * policy.redshift_min_nodes / 60 / (ATHENA_USD_PER_TB / TB) / (idle_load / 2)

    install_moto_shims()
    clock = FakeClock((START - timedelta(minutes=20)).timestamp())
    ledger = Ledger()
    noise = random.Random(20250113)
    step = policy.evaluation_interval_minutes
    with mock_aws(), SlowAws(clock) as slow, fake_athena.install():
        session = fresh_session("us-east-1")
        cloudwatch, athena = session.client("cloudwatch"), session.client("athena")
        RedshiftProvisioning(
            CLUSTER,
            initial_instance_type=NODE_TYPE,
            initial_cluster_size=policy.redshift_min_nodes,
            session=session,
            clock=clock,
        )
        clock.advance(START.timestamp() - clock.now())
        cluster = redshift_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].clusters[CLUSTER]
        cw_backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        athena_backend = athena_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        store = SsmStateStore(session=session)
        ref = ClusterRef.redshift(CLUSTER)
        last_decision = None
        points: list[dict[str, Any]] = []
        paused_demand = 0.0
        cpu_seen: list[float] = []  # what the CpuHigh alarm sees: the last window of datapoints
        alarm_state, alarm_due = "OK", None
        window = policy.window_minutes
        for minute in range(days * 1440):
            slow.advance()
            stamp = START + timedelta(minutes=minute)
            load = load_at(minute, noise)
            status, nodes = str(cluster.status), int(cluster.number_of_nodes)
            ledger.statuses[status] += 1
            if status != "paused":  # compute is billed unless paused
                ledger.node_minutes += nodes
            if status in ("available", "resizing"):
                cpu = min(100.0, HOUSEKEEPING_CPU + load / nodes)
                ledger.peak_nodes = max(ledger.peak_nodes, nodes)
                ledger.overloaded(cpu > policy.thresholds.cpu_high)
                dims = [{"Name": "ClusterIdentifier", "Value": CLUSTER}]
                points.append({"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": stamp, "Value": cpu})
                points.append(
                    {
                        "MetricName": "PercentageDiskSpaceUsed",
                        "Dimensions": dims,
                        "Timestamp": stamp,
                        "Value": DISK_PERCENT_NODES / nodes,
                    }
                )
                cpu_seen = [*cpu_seen, cpu][-window:]
            else:
                ledger.overloaded(load > idle_load)
                paused_demand += load
                cpu_seen = []  # no data: the alarm treats it as not breaching
            clock.advance(60)
            # ScalingAlarms' CpuHigh: the window's mean above cpu_high. Its move to ALARM invokes the
            # function through EventBridge; allow a minute for CloudWatch and EventBridge.
            breaching = bool(cpu_seen) and sum(cpu_seen) / len(cpu_seen) > policy.thresholds.cpu_high
            if breaching and alarm_state == "OK" and ALARM_TRIGGER:
                alarm_due = minute + 1
            alarm_state = "ALARM" if breaching else "OK"
            scheduled = (minute + 1) % step == 0
            if not scheduled and alarm_due != minute:
                continue
            trigger = "schedule" if scheduled else "alarm CpuHigh ALARM"
            if points:
                cloudwatch.put_metric_data(Namespace="AWS/Redshift", MetricData=points)
                points = []
            if paused_demand > 0:
                scanned = int(paused_demand * athena_bytes_per_load_minute)
                ledger.athena_bytes += scanned
                end = START + timedelta(minutes=minute + 1)
                fake_athena.add_query_execution(
                    athena,
                    catalog=CATALOG,
                    data_scanned_bytes=scanned,
                    submitted=end - timedelta(minutes=step),
                    completed=end - timedelta(seconds=1),
                )
                paused_demand = 0.0
            # Keep moto's stores to what the checks can still see (moto scans them on every call).
            horizon = clock.now() - 2 * 3600
            cw_backend.metric_data = [m for m in cw_backend.metric_data if m.timestamp.timestamp() >= horizon]
            for exec_id in [e for e in athena_backend.executions if _completed(e) < horizon]:
                del athena_backend.executions[exec_id]
            autoscaler = Autoscaler(policy, session=session, clock=clock, state_store=store, log=lambda _: None)
            for decision in autoscaler.run([ref], trigger=trigger):
                ledger.decisions += 1
                ledger.triggers[trigger.split()[0]] += 1
                if decision.changes and not decision.outcome.startswith(("failed", "skipped")):
                    ledger.actions[decision.action] += 1
                    last_decision = decision
                    if not quiet:
                        print(f"  {_clock(clock.now())}  [{trigger.split()[0]}] {decision.summary()[:140]}")
        ledger.overloaded(False)
        athena_usd = ledger.athena_bytes / TB * ATHENA_USD_PER_TB
    return ledger, {
        "policy": policy,
        "price": price,
        "athena_usd": athena_usd,
        "athena_bytes_per_load_minute": athena_bytes_per_load_minute,
        "last_decision": last_decision,
    }


def _completed(exec_id: str) -> float:
    from tests.fakes.athena import _OVERRIDES

    completed = _OVERRIDES.get(exec_id, {}).get("completed")
    return float(completed) if completed is not None else float("inf")


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%a %H:%M")


def main() -> int:
    started = time.perf_counter()
    print(f"autoscaling {CLUSTER} ({NODE_TYPE}) through {DAYS} days of diurnal load (simulated clock, moto):")
    ledger, info = simulate()
    elapsed = time.perf_counter() - started
    policy, price = info["policy"], info["price"]
    hours = DAYS * 24
    autoscaled_usd = ledger.node_minutes / 60 * price + info["athena_usd"]
    always_on_usd = ledger.peak_nodes * hours * price
    ratio = autoscaled_usd / always_on_usd
    rescales = ledger.actions["scale_up"] + ledger.actions["scale_down"]
    paused_hours = ledger.statuses["paused"] / 60
    print()
    print(
        f"  always-on at peak size ({ledger.peak_nodes} x {NODE_TYPE}, {hours} h, ${price}/node-hour): "
        f"${always_on_usd:,.2f}"
    )
    print(
        f"  autoscaled: {ledger.node_minutes / 60:,.1f} node-hours = ${ledger.node_minutes / 60 * price:,.2f} "
        f"+ Athena while paused ${info['athena_usd']:,.2f} = ${autoscaled_usd:,.2f}"
    )
    print(f"  cost ratio: {ratio:.3f} ({1 - ratio:.0%} cheaper; target at least {TARGET_SAVING:.0%})")
    print(
        f"  rescales: {rescales} ({ledger.actions['scale_up']} up, {ledger.actions['scale_down']} down); "
        f"pauses: {ledger.actions['pause']}, resumes: {ledger.actions['resume']}; paused {paused_hours:.1f} h"
    )
    print(
        f"  overload (CPU > {policy.thresholds.cpu_high:g}%, or paused with load above the idle level): "
        f"{ledger.overload_minutes} min in {len(ledger.stretches)} stretches, longest {ledger.longest} min "
        f"({ledger.longest_at()}) "
        f"(cooldown {policy.cooldown_minutes:g} min)"
    )
    print(
        f"  {ledger.decisions} decisions ({ledger.triggers['schedule']} scheduled, {ledger.triggers['alarm']} on "
        f"alarm) in {elapsed:.1f} s"
    )
    ok = ratio <= 1 - TARGET_SAVING and ledger.longest <= policy.cooldown_minutes
    print("  PASS" if ok else "  FAIL: target missed")
    return 0 if ok else 1


# --- make demo -----------------------------------------------------------------------------------


def demo(out: Any = print) -> None:
    """Run the checks on a simulated load and show one autoscaling decision with the numbers behind it."""
    _environment()
    from moto import mock_aws

    from dbscale.core.autoscale import AutoscalePolicy, Autoscaler, ClusterRef, MemoryStateStore
    from dbscale.core.redshift import RedshiftProvisioning
    from tests.fakes import FakeClock, SlowAws, install_moto_shims
    from tests.fakes.cloudwatch import put_series
    from tests.fakes.sessions import fresh_session

    install_moto_shims()
    clock = FakeClock()
    with mock_aws(), SlowAws(clock) as slow:
        session = fresh_session("us-east-1")
        RedshiftProvisioning(
            CLUSTER, initial_instance_type=NODE_TYPE, initial_cluster_size=2, session=session, clock=clock
        )
        cloudwatch = session.client("cloudwatch")
        dims = {"ClusterIdentifier": CLUSTER}
        for minute, cpu in enumerate([58, 63, 70, 76, 81, 84, 86, 88, 90, 91]):
            stamp = datetime.fromtimestamp(clock.now() // 60 * 60, tz=timezone.utc)
            put_series(cloudwatch, "AWS/Redshift", "CPUUtilization", dims, [(stamp, cpu)])
            put_series(cloudwatch, "AWS/Redshift", "PercentageDiskSpaceUsed", dims, [(stamp, 34 + minute * 0.1)])
            clock.advance(60)
        policy = AutoscalePolicy(redshift_min_nodes=2, redshift_max_nodes=8)
        autoscaler = Autoscaler(
            policy, session=session, clock=clock, state_store=MemoryStateStore(), log=lambda _: None
        )
        decision = autoscaler.evaluate(ClusterRef.redshift(CLUSTER), trigger="demo")
        out(f"Autoscaler checks on '{CLUSTER}' (2 x {NODE_TYPE}) after 10 minutes of rising load:")
        for check in decision.checks:
            verdict = {True: "yes", False: "no", None: "no data"}[check["verdict"]]
            out(
                f"  {check['signal']:<10} {check['value']:>6.1f}{check['unit']} {check['comparison']} "
                f"{check['threshold']:g}{check['unit']}: {verdict} ({check['datapoints']} datapoints over "
                f"{check['window_minutes']:g} min)"
            )
        out(f"Decision: {decision.action} {decision.change}")
        out(f"  because {decision.reason}")
        acted = autoscaler.act(decision, publish=False)
        out(f"  -> {acted.outcome}")
        slow.finish_all()
        nodes = session.client("redshift").describe_clusters(ClusterIdentifier=CLUSTER)["Clusters"][0]["NumberOfNodes"]
        out(f"  ... {slow.tables['redshift']['elastic_resize'].seconds / 60:g} simulated minutes later: {nodes} nodes")


if __name__ == "__main__":
    if "--demo" in sys.argv[1:]:
        demo()
        sys.exit(0)
    sys.exit(main())
