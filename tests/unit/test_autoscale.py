"""The autoscaler against moto: FakeClock time, SlowAws transitions, metrics written minute by minute.

Each scenario writes what AWS would publish (one datapoint per minute), then evaluates the way the
Lambda does: a fresh ``Autoscaler`` per invocation, memory in SSM (moto), every few simulated
minutes. Expected node counts follow the arithmetic in docs/autoscaling.md (aim for the middle of
the CPU band) and the node table in dbscale.core.limits.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.aurora import RdsProvisioning
from dbscale.core.autoscale import (
    AURORA_AUTO_START_SECONDS,
    CHECKS_NAMESPACE,
    DECISION_NAMESPACE,
    SLOW_QUERY_METRIC,
    AutoscalePolicy,
    Autoscaler,
    ClusterRef,
    Decision,
    MemoryStateStore,
    SsmStateStore,
    Thresholds,
)
from dbscale.core.limits import REDSHIFT_NODE_TYPES, TB
from dbscale.core.redshift import RedshiftProvisioning
from dbscale.core.scaling import NO_DATA_PAUSED
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws
from tests.fakes import athena as fake_athena
from tests.fakes import redshift_data as fake_data
from tests.fakes.cloudwatch import put_series

RS = "warehouse"
AU = "orders"
RESIZES = ("ResizeCluster", "PauseCluster", "ResumeCluster")


class World:
    """The cluster side of a test: writes per-minute metrics while simulated time passes."""

    def __init__(self, session: boto3.Session, clock: FakeClock, slow: SlowAws) -> None:
        self.session = session
        self.clock = clock
        self.slow = slow
        self.cw = session.client("cloudwatch")
        self.lines: list[str] = []

    def autoscaler(self, policy: AutoscalePolicy | None = None, **kw: Any) -> Autoscaler:
        """A fresh autoscaler, as one Lambda invocation builds it: only SSM remembers."""
        kw.setdefault("log", self.lines.append)
        return Autoscaler(policy or AutoscalePolicy(), session=self.session, clock=self.clock, **kw)

    def stamp(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now() // 60 * 60, tz=timezone.utc)

    def tick(
        self, minutes: int, *, redshift: dict[str, float] | None = None, aurora: dict[str, Any] | None = None
    ) -> None:
        """Let ``minutes`` pass; each minute the clusters publish the given values.

        ``redshift``: {"cpu": .., "disk": ..} for cluster RS. ``aurora``: {instance: cpu, ...}
        (CPUUtilization per DB instance).
        """
        for _ in range(minutes):
            t = self.stamp()
            if redshift is not None:
                dims = {"ClusterIdentifier": RS}
                put_series(self.cw, "AWS/Redshift", "CPUUtilization", dims, [(t, redshift["cpu"])])
                put_series(self.cw, "AWS/Redshift", "PercentageDiskSpaceUsed", dims, [(t, redshift.get("disk", 30.0))])
            for instance, cpu in (aurora or {}).items():
                put_series(self.cw, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": instance}, [(t, cpu)])
            self.clock.advance(60)
            self.slow.advance()

    def run(self, policy: AutoscalePolicy | None = None, *refs: ClusterRef, **kw: Any) -> Decision:
        decisions = self.autoscaler(policy, **kw).run(list(refs) or [ClusterRef.redshift(RS)])
        return decisions[0]

    def nodes(self) -> int:
        return int(
            self.session.client("redshift").describe_clusters(ClusterIdentifier=RS)["Clusters"][0]["NumberOfNodes"]
        )

    def redshift_status(self) -> str:
        return str(
            self.session.client("redshift").describe_clusters(ClusterIdentifier=RS)["Clusters"][0]["ClusterStatus"]
        )

    def memory(self, key: str = f"redshift/{RS}") -> dict[str, Any]:
        return SsmStateStore(session=self.session).load(key) or {}


@pytest.fixture
def world(slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session) -> World:
    return World(boto_session, fake_clock, slow_aws)


def make_redshift(world: World, nodes: int = 2, node_type: str = "ra3.xlplus") -> None:
    RedshiftProvisioning(
        RS, initial_instance_type=node_type, initial_cluster_size=nodes, session=world.session, clock=world.clock
    )


def make_aurora(world: World, instance_class: str = "db.r6g.large", readers: int = 0, **kw: Any) -> RdsProvisioning:
    return RdsProvisioning(
        AU, initial_instance_type=instance_class, reader_count=readers, session=world.session, clock=world.clock, **kw
    )


def aurora_instances(world: World) -> dict[str, dict[str, Any]]:
    rds = world.session.client("rds")
    found = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [AU]}])["DBInstances"]
    return {i["DBInstanceIdentifier"]: i for i in found}


def aurora_writer(world: World) -> str:
    c = world.session.client("rds").describe_db_clusters(DBClusterIdentifier=AU)["DBClusters"][0]
    return next(m["DBInstanceIdentifier"] for m in c["DBClusterMembers"] if m["IsClusterWriter"])


def resizes(calls: AwsCallRecorder) -> list[str]:
    return [op for op in calls.operations() if op in RESIZES]


# --- scale up -----------------------------------------------------------------------------------


def test_sustained_overuse_scales_up_to_the_middle_of_the_band(world: World, aws_calls: AwsCallRecorder) -> None:
    make_redshift(world)
    world.tick(10, redshift={"cpu": 90})
    decision = world.run()

    target = world.autoscaler().policy.thresholds.cpu_target
    assert decision.action == "scale_up" and decision.target == {"nodes": math.ceil(2 * 90 / target)} == {"nodes": 4}
    assert decision.causes == ("cpu_high",)
    assert "CPU 90% x 2 nodes / 50% target = 3.6 -> 4 nodes" in decision.reason
    assert decision.outcome.startswith("started: resize to 4 x ra3.xlplus")
    cpu_high = next(c for c in decision.checks if c["signal"] == "cpu_high")
    assert cpu_high["value"] == 90 and cpu_high["verdict"] is True and cpu_high["datapoints"] == 10
    assert aws_calls.params("ResizeCluster")[0]["Classic"] is False  # elastic
    assert world.redshift_status() == "resizing"
    assert world.memory()["operation"]["description"] == "resize to 4 x ra3.xlplus for Redshift cluster 'warehouse'"


def test_a_scale_up_is_limited_by_the_policy_maximum_and_one_elastic_resize(world: World) -> None:
    make_redshift(world)
    world.tick(10, redshift={"cpu": 100})
    first = world.run(AutoscalePolicy(redshift_max_nodes=3))
    # 2 x 100 / 50 = 4 nodes wanted; the policy allows 3.
    assert first.target == {"nodes": 3} and "limited by the policy maximum (3)" in first.reason
    world.slow.finish_all()

    # With a 30% target, 3 x 100 / 30 = 10 nodes are wanted; ra3.xlplus grows at most 2x per elastic resize.
    low_band = AutoscalePolicy(redshift_max_nodes=16, thresholds=Thresholds(cpu_high=50, cpu_low=10))
    world.tick(25, redshift={"cpu": 100})
    world.run(low_band)  # finishes the stored operation
    second = world.run(low_band)
    factor = REDSHIFT_NODE_TYPES["ra3.xlplus"].elastic_factor
    assert second.action == "scale_up" and second.target == {"nodes": 3 * factor}
    assert "limited by one elastic resize" in second.reason


def test_bounds_are_never_exceeded(world: World, aws_calls: AwsCallRecorder) -> None:
    make_redshift(world, nodes=4)
    policy = AutoscalePolicy(redshift_min_nodes=2, redshift_max_nodes=4)
    world.tick(10, redshift={"cpu": 99})
    decision = world.run(policy)
    assert decision.action == "none" and "already at the policy's maximum of 4 nodes" in decision.reason
    assert decision.causes == ("cpu_high",)
    assert resizes(aws_calls) == []

    # A cluster outside the bounds (resized by hand to 8) is brought back within them.
    RedshiftProvisioning(RS, session=world.session, clock=world.clock).rescale(new_cluster_size=8)
    world.tick(10, redshift={"cpu": 99})
    back = world.run(policy)
    assert back.action == "scale_down" and back.target == {"nodes": 4} and back.causes == ("bounds",)
    world.slow.finish_all()
    assert world.nodes() == 4


# --- hysteresis and cooldown -----------------------------------------------------------------------


def test_no_scale_down_until_underuse_is_sustained(world: World) -> None:
    make_redshift(world, nodes=8)
    policy = AutoscalePolicy(scale_down_sustain_minutes=30, idle_pause_minutes=None)
    world.tick(10, redshift={"cpu": 50})
    assert world.run(policy).action == "none"
    seen: list[tuple[int, str]] = []
    for minute in range(5, 61, 5):
        world.tick(5, redshift={"cpu": 10, "disk": 12})
        decision = world.run(policy)
        seen.append((minute, decision.action))
        if decision.action != "none":
            break
        assert "of the 30 min a scale-down needs" in decision.reason or "within thresholds" in decision.reason
    # The first underused window (mean of 5 min at 50% and 5 at 10%) is 30%: not under 25%. From
    # minute 10 every window is under, with evidence from minute 0: 30 minutes are reached at minute 30.
    assert seen[-1] == (30, "scale_down")
    assert [a for _, a in seen[:-1]] == ["none"] * 5
    # 8 x 10% / 50% = 1.6 and disk 8 x 12% / 60% = 1.6 -> the policy minimum of 2 (ra3.xlplus
    # elastic resize reaches 8 / 4 = 2).
    assert decision.target == {"nodes": 2}
    assert "CPU 10% x 8 nodes / 50% target = 1.6; disk 12% x 8 / 60% = 1.6" in decision.reason


def test_a_scale_down_keeps_the_disk_in_its_band(world: World) -> None:
    make_redshift(world, nodes=8)
    policy = AutoscalePolicy(scale_down_sustain_minutes=10, idle_pause_minutes=None)
    for _ in range(4):
        world.tick(5, redshift={"cpu": 10, "disk": 30})
        decision = world.run(policy)
        if decision.changes:
            break
    # CPU alone would allow 2 nodes, but 8 x 30% disk on 2 nodes is 120%: 8 x 30 / 60 = 4 nodes.
    assert decision.action == "scale_down" and decision.target == {"nodes": 4}


def test_a_busy_window_breaks_the_underuse_streak(world: World) -> None:
    make_redshift(world, nodes=8)
    policy = AutoscalePolicy(scale_down_sustain_minutes=30, idle_pause_minutes=None)
    world.tick(20, redshift={"cpu": 10})
    world.run(policy)
    assert world.memory()["underused_since"] is not None
    world.tick(10, redshift={"cpu": 60})
    assert world.run(policy).action == "none"
    assert world.memory() == {} or world.memory()["underused_since"] is None
    for _ in range(4):
        world.tick(5, redshift={"cpu": 10})
        decision = world.run(policy)
    # The window that still holds busy minutes does not count; the streak starts again after it.
    assert decision.action == "none" and "underused for 20 min of the 30" in decision.reason


def test_a_gap_without_evaluations_breaks_the_streak(world: World) -> None:
    make_redshift(world, nodes=8)
    policy = AutoscalePolicy(scale_down_sustain_minutes=30, idle_pause_minutes=None)
    world.tick(10, redshift={"cpu": 10})
    world.run(policy)
    world.tick(40, redshift={"cpu": 10})  # no evaluation for 40 minutes: no evidence in between
    decision = world.run(policy)
    assert decision.action == "none" and "underused for 10 min" in decision.reason


def test_cooldown_is_respected_after_a_change(world: World) -> None:
    make_redshift(world)
    policy = AutoscalePolicy(cooldown_minutes=20)
    world.tick(10, redshift={"cpu": 90})
    assert world.run(policy).action == "scale_up"
    started = world.clock.now()
    actions = []
    while world.clock.now() - started < 30 * 60:
        world.tick(5, redshift={"cpu": 90})
        decision = world.run(policy)
        actions.append((round((world.clock.now() - started) / 60), decision.action, decision.reason))
        if decision.action == "scale_up":
            break
    # Busy (the resize takes SlowAws's 10 minutes), then waiting: the cooldown (20 min from the decision)
    # and one whole window (10 min) on the new size, counted from when the resize most likely ended
    # (expected_resize_minutes, 15, after it began), so the window holds no figures of the old size.
    assert [a for _, a, _ in actions] == ["skip_busy", "skip_busy", "none", "none", "scale_up"]
    assert "in cooldown for another 10 min after scale_up" in actions[2][2]
    assert actions[-1][0] == 25 and decision.target == {"nodes": 8}


# --- busy, paused, idle, resume ------------------------------------------------------------------


def test_a_cluster_mid_operation_is_skipped_without_checks(world: World, aws_calls: AwsCallRecorder) -> None:
    make_redshift(world)
    world.tick(10, redshift={"cpu": 95})
    op = RedshiftProvisioning(RS, session=world.session, clock=world.clock).rescale(new_cluster_size=4, wait=False)
    op.poll()  # a deploy started a resize
    aws_calls.clear()
    decision = world.run()
    assert decision.action == "skip_busy" and "the cluster is 'resizing'" in decision.reason
    assert decision.checks == ()
    assert resizes(aws_calls) == [] and aws_calls.count("GetMetricData") == 0


def test_a_paused_cluster_has_no_data_and_gets_no_action(world: World, aws_calls: AwsCallRecorder) -> None:
    make_redshift(world)
    RedshiftProvisioning(RS, session=world.session, clock=world.clock).rescale(new_paused=True)
    world.tick(30)
    aws_calls.clear()
    decision = world.run(AutoscalePolicy(resume_catalog="sales"))
    assert decision.action == "none" and "paused outside the autoscaler" in decision.reason
    notes = {c["signal"]: c["note"] for c in decision.checks}
    assert notes["cpu_low"] == NO_DATA_PAUSED and notes["idle"] == NO_DATA_PAUSED  # never "underused"
    assert "can_boot_redshift" not in notes  # it resumes only what it paused
    assert resizes(aws_calls) == []


def test_idle_pauses_and_athena_spend_resumes(world: World) -> None:
    make_redshift(world)
    policy = AutoscalePolicy(
        idle_pause_minutes=60, idle_cpu_percent=5, resume_catalog="sales", resume_window_minutes=15
    )
    decision = None
    for _ in range(20):
        world.tick(5, redshift={"cpu": 1})
        decision = world.run(policy)
        if decision.action == "pause":
            break
    assert decision is not None and decision.action == "pause" and decision.causes == ("idle",)
    assert "idle for 60 min" in decision.reason
    world.slow.finish_all()
    assert world.redshift_status() == "paused" and world.memory()["paused_by_autoscaler"] is True
    assert world.run(policy).outcome.startswith("done: pause for Redshift cluster")

    with fake_athena.install():
        athena = world.session.client("athena")
        world.tick(10)
        quiet = world.run(policy)
        assert quiet.action == "none" and "stays paused" in quiet.reason and "Athena is cheaper" in quiet.reason
        now = world.stamp()
        for minutes_ago in (9, 6, 3):  # 3 TB scanned in the last 15 minutes: $15 of Athena
            fake_athena.add_query_execution(
                athena,
                catalog="sales",
                data_scanned_bytes=TB,
                submitted=now - timedelta(minutes=minutes_ago + 1),
                completed=now - timedelta(minutes=minutes_ago),
            )
        world.tick(1)
        resume = world.run(policy)
    assert resume.action == "resume" and resume.causes == ("can_boot_redshift",)
    assert "booting Redshift pays off" in resume.reason
    boot = next(c for c in resume.checks if c["signal"] == "can_boot_redshift")
    assert boot["details"]["node_count"] == 2 and boot["value"] >= boot["threshold"]
    world.slow.finish_all()
    assert world.redshift_status() == "available" and world.memory()["paused_by_autoscaler"] is False


def test_a_running_cluster_the_stack_declares_paused_is_paused_when_idle(world: World) -> None:
    make_redshift(world)  # declared paused, but someone resumed it
    ref = ClusterRef.redshift(RS, declared_paused=True)
    policy = AutoscalePolicy(idle_pause_minutes=30)
    actions = []
    for _ in range(8):
        world.tick(5, redshift={"cpu": 2})
        actions.append(world.run(policy, ref).action)
    assert "pause" in actions


def test_a_cluster_the_stack_declares_paused_is_never_resumed(world: World) -> None:
    make_redshift(world)
    RedshiftProvisioning(RS, session=world.session, clock=world.clock).rescale(new_paused=True)
    decision = world.run(AutoscalePolicy(resume_catalog="sales"), ClusterRef.redshift(RS, declared_paused=True))
    assert decision.action == "none" and "as the stack declares" in decision.reason


# --- Aurora -------------------------------------------------------------------------------------


def test_aurora_stopped_for_seven_days_and_restarted_by_aws_is_stopped_again(world: World) -> None:
    cluster = make_aurora(world)
    cluster.rescale(new_paused=True)
    ref = ClusterRef.aurora(AU)
    stopped = world.run(None, ref)
    assert stopped.action == "none" and "AWS starts it again around" in stopped.reason
    assert world.memory(f"aurora/{AU}")["stopped_since"] == pytest.approx(world.clock.now())

    world.clock.advance(AURORA_AUTO_START_SECONDS)
    world.session.client("rds").start_db_cluster(DBClusterIdentifier=AU)  # what AWS does on day 7
    world.slow.finish_all()
    decision = world.run(None, ref)
    assert decision.action == "stop_again" and decision.target == {"paused": True}
    assert "running again 7.0" in decision.reason and decision.causes == ("aws_auto_start",)
    world.slow.finish_all()
    assert cluster.status == "stopped"
    assert world.memory(f"aurora/{AU}")["stopped_since"] == pytest.approx(world.clock.now() - 300, abs=600)


def test_aurora_started_by_a_person_is_left_running(world: World) -> None:
    cluster = make_aurora(world)
    cluster.rescale(new_paused=True)
    ref = ClusterRef.aurora(AU)
    world.run(None, ref)
    world.clock.advance(2 * 86400)
    cluster.rescale(new_paused=False)
    world.tick(10, aurora={f"{AU}-1": 40})
    decision = world.run(None, ref)
    assert decision.action == "none" and "within thresholds" in decision.reason
    assert world.memory(f"aurora/{AU}").get("stopped_since") is None


def test_aurora_climbs_the_class_ladder_through_a_resumable_operation(world: World) -> None:
    make_aurora(world, "db.r6g.large")
    ladder = ("db.r6g.large", "db.r6g.xlarge", "db.r6g.2xlarge")
    policy = AutoscalePolicy(aurora_instance_classes=ladder)
    ref = ClusterRef.aurora(AU)
    world.tick(10, aurora={f"{AU}-1": 90})
    decision = world.run(policy, ref)
    # 90% x 2 vCPU / 50% = 3.6 vCPU: db.r6g.xlarge has 4.
    assert decision.action == "scale_up" and decision.target == {"instance_class": "db.r6g.xlarge"}
    assert "3.6 vCPU" in decision.reason
    # Each invocation advances the stored operation one poll; none waits.
    for _ in range(12):
        world.tick(5)
        step = world.run(policy, ref)
        if not world.memory(f"aurora/{AU}").get("operation"):
            break
        assert step.action == "skip_busy"
    assert step.outcome.startswith("done: rescale Aurora cluster 'orders' to instance class db.r6g.xlarge")
    instances = aurora_instances(world)
    assert {i["DBInstanceClass"] for i in instances.values()} == {"db.r6g.xlarge"}
    assert instances[aurora_writer(world)]["DBInstanceClass"] == "db.r6g.xlarge"


def test_aurora_adds_a_reader_when_a_reader_is_the_busiest(world: World) -> None:
    make_aurora(world, "db.r6g.large", readers=1)
    policy = AutoscalePolicy(
        aurora_instance_classes=("db.r6g.large", "db.r6g.xlarge"), aurora_min_readers=1, aurora_max_readers=3
    )
    world.tick(10, aurora={f"{AU}-1": 30, f"{AU}-2": 92})
    decision = world.run(policy, ClusterRef.aurora(AU))
    assert decision.action == "scale_up" and decision.target == {"readers": 2}
    assert "the busiest instance is a reader" in decision.reason
    world.slow.finish_all()
    assert len(aurora_instances(world)) == 3


def test_aurora_serverless_moves_its_maximum_capacity_within_the_range(world: World) -> None:
    cluster = make_aurora(world, "db.serverless", serverless_v2_min_acu=0.5, serverless_v2_max_acu=4)
    policy = AutoscalePolicy(aurora_acu_range=(1, 16), scale_down_sustain_minutes=20)
    ref = ClusterRef.aurora(AU)
    world.tick(10, aurora={f"{AU}-1": 90})
    up = world.run(policy, ref)
    # 90% of 4 ACU / 50% = 7.2 ACU, rounded up to the 0.5 ACU step.
    assert up.action == "scale_up" and up.target == {"acu": [0.5, 7.5]} and up.change == "0.5-4 -> 0.5-7.5 ACU"
    world.slow.finish_all()
    assert cluster.serverless_v2_capacity == (0.5, 7.5)

    decision = None
    for _ in range(12):
        world.tick(5, aurora={f"{AU}-1": 5})
        decision = world.run(policy, ref)
        if decision.action == "scale_down":
            break
    # 5% of 7.5 ACU / 50% = 0.75 -> the range's lowest maximum, 1 ACU.
    assert decision is not None and decision.action == "scale_down" and decision.target == {"acu": [0.5, 1.0]}
    world.slow.finish_all()
    assert cluster.serverless_v2_capacity == (0.5, 1.0)


# --- dry run, logs, metrics ----------------------------------------------------------------------


def test_dry_run_changes_nothing_but_records_the_decision(world: World, aws_calls: AwsCallRecorder) -> None:
    make_redshift(world)
    aws_calls.clear()
    world.tick(10, redshift={"cpu": 95})
    decision = world.run(AutoscalePolicy(), dry_run=True)
    assert decision.action == "scale_up" and decision.dry_run and decision.outcome == "dry run: not applied"
    assert resizes(aws_calls) == [] and world.nodes() == 2 and world.redshift_status() == "available"
    # Remembered under dry-run/ (so its cooldown applies to later dry-run decisions), not as real memory.
    assert world.memory("dry-run/redshift/warehouse")["last_action"] == "scale_up"
    assert world.memory() == {}
    world.tick(5, redshift={"cpu": 95})
    assert "cooldown" in world.run(AutoscalePolicy(), dry_run=True).reason
    metrics = world.cw.list_metrics(Namespace=DECISION_NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in metrics} == {"DryRunDecision"}


def test_every_decision_is_one_json_line_and_a_metric(world: World) -> None:
    make_redshift(world)
    world.tick(10, redshift={"cpu": 40})
    world.run()
    world.tick(10, redshift={"cpu": 90})
    world.run()
    lines = [json.loads(line) for line in world.lines]
    assert [(line["action"], line["cluster"]) for line in lines] == [("none", RS), ("scale_up", RS)]
    assert lines[1]["message"] == "dbscale autoscaler decision" and lines[1]["change"] == "2 -> 4 nodes"
    assert lines[1]["checks"][0]["signal"] == "cpu_high" and lines[1]["checks"][0]["value"] == 90
    metrics = world.cw.list_metrics(Namespace=DECISION_NAMESPACE)["Metrics"]
    dims = sorted(tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in metrics)
    assert dims == [(("Action", "none"), ("Cluster", RS)), (("Action", "scale_up"), ("Cluster", RS))]
    data = world.cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "up",
                "MetricStat": {
                    "Metric": {
                        "Namespace": DECISION_NAMESPACE,
                        "MetricName": "Decision",
                        "Dimensions": [{"Name": "Cluster", "Value": RS}, {"Name": "Action", "Value": "scale_up"}],
                    },
                    "Period": 3600,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=world.clock.utc() - timedelta(hours=1),
        EndTime=world.clock.utc() + timedelta(minutes=1),
    )
    assert data["MetricDataResults"][0]["Values"] == [1.0]


def test_query_history_checks_publish_the_slow_query_share(world: World) -> None:
    make_redshift(world)
    policy = AutoscalePolicy(redshift_query_checks=True)
    with fake_data.install() as history:
        world.tick(10, redshift={"cpu": 50})
        ended = world.stamp() - timedelta(minutes=2)
        for secs in (5, 5, 120, 300):  # 2 of 4 queries ran longer than 60 s: 50%
            history.add_query(RS, elapsed_secs=secs, end_time=ended)
        decision = world.run(policy)
    assert decision.action == "scale_up" and decision.causes == ("slow_queries_high",)
    assert decision.target == {"nodes": 3}  # +50%
    slow = next(c for c in decision.checks if c["signal"] == "slow_queries_high")
    assert slow["value"] == 50
    found = world.cw.list_metrics(Namespace=CHECKS_NAMESPACE, MetricName=SLOW_QUERY_METRIC)["Metrics"]
    assert found and found[0]["Dimensions"] == [{"Name": "ClusterIdentifier", "Value": RS}]


def test_a_missing_cluster_is_reported_not_raised(world: World) -> None:
    decisions = world.autoscaler().run([ClusterRef.redshift("gone"), ClusterRef.aurora("gone-too")])
    assert [(d.action, d.reason) for d in decisions] == [
        ("none", "the redshift cluster does not exist"),
        ("none", "the aurora cluster does not exist"),
    ]


def test_a_cluster_that_turns_busy_before_the_change_starts_is_skipped(world: World) -> None:
    make_redshift(world)
    world.tick(10, redshift={"cpu": 95})
    autoscaler = world.autoscaler(state_store=MemoryStateStore())
    decision = autoscaler.evaluate(ClusterRef.redshift(RS))
    RedshiftProvisioning(RS, session=world.session, clock=world.clock).rescale(new_paused=True, wait=False).poll()
    acted = autoscaler.act(decision)
    assert acted.action == "skip_busy" and acted.outcome == "skipped: the cluster became busy"


def test_an_operation_older_than_the_timeout_is_given_up(world: World) -> None:
    make_redshift(world)
    store = MemoryStateStore()
    world.tick(10, redshift={"cpu": 95})
    world.autoscaler(state_store=store).run([ClusterRef.redshift(RS)])
    world.slow.set_duration("redshift", "elastic_resize", 10**6)
    world.slow.finish_all()  # (the resize already in flight keeps its 600 s)
    memory = store.data[f"redshift/{RS}"]
    memory["operation"]["index"] = 0  # pretend AWS never took the request: the step retries forever
    memory["operation"]["started_at"] -= 4 * 3600
    decision = world.autoscaler(state_store=store).run([ClusterRef.redshift(RS)])[0]
    assert decision.action == "skip_busy" and decision.outcome.startswith("gave up on 'resize to 4")
    assert store.data[f"redshift/{RS}"]["operation"] is None


def test_a_stored_operation_that_cannot_continue_is_dropped_not_retried(world: World) -> None:
    make_redshift(world)
    store = MemoryStateStore()
    world.tick(10, redshift={"cpu": 95})
    world.autoscaler(state_store=store).run([ClusterRef.redshift(RS)])
    world.slow.finish_all()
    store.data[f"redshift/{RS}"]["operation"]["steps"][1] = {"action": "planned"}  # no 'steps': KeyError
    decision = world.autoscaler(state_store=store).run([ClusterRef.redshift(RS)])[0]
    assert decision.action == "skip_busy" and decision.outcome.startswith("failed: 'resize to 4")
    assert store.data[f"redshift/{RS}"]["operation"] is None


def test_a_scale_down_names_memory_only_when_its_check_says_low(world: World) -> None:
    # With query checks on and no queries, the spill share (Redshift's memory signal) has no data:
    # the scale-down is for low CPU alone.
    make_redshift(world, nodes=8)
    policy = AutoscalePolicy(redshift_query_checks=True, scale_down_sustain_minutes=30, idle_pause_minutes=None)
    with fake_data.install():
        world.tick(10, redshift={"cpu": 50})
        world.run(policy)
        for _ in range(12):
            world.tick(5, redshift={"cpu": 10, "disk": 12})
            decision = world.run(policy)
            if decision.action != "none":
                break
    assert decision.action == "scale_down", decision.reason
    memory = next(c for c in decision.checks if c["signal"] == "memory_low")
    assert memory["verdict"] is not True
    assert decision.causes == ("cpu_low",)


def test_a_queued_backlog_counts_as_load_and_is_caught_up_in_one_step(world: World) -> None:
    # ra3.4xlarge grows 4x in one elastic resize: CPU alone (100% on 2 nodes) asks for 4 nodes; the
    # backlog (queries waited 6 minutes) asks for 2 x (100 + 100 x 6 / 30) / 50 = 4.8 -> 5 more.
    make_redshift(world, nodes=2, node_type="ra3.4xlarge")
    policy = AutoscalePolicy(redshift_query_checks=True, redshift_max_nodes=16)
    with fake_data.install() as history:
        world.tick(10, redshift={"cpu": 100})
        history.add_query(RS, elapsed_secs=400, end_time=world.stamp() - timedelta(minutes=1), queue_secs=360)
        decision = world.run(policy)
    assert decision.action == "scale_up" and decision.target == {"nodes": 5}, decision.reason
    assert {"cpu_high", "backlog"} <= set(decision.causes) and "backlog: queries waited up to 360 s" in decision.reason


def test_a_queue_with_cpu_to_spare_is_not_capacity(world: World) -> None:
    make_redshift(world)
    policy = AutoscalePolicy(redshift_query_checks=True, thresholds=Thresholds(slow_query_seconds=1000))
    with fake_data.install() as history:
        world.tick(10, redshift={"cpu": 40})
        history.add_query(RS, elapsed_secs=400, end_time=world.stamp() - timedelta(minutes=1), queue_secs=360)
        decision = world.run(policy)
    assert decision.action == "none" and "backlog" not in decision.causes


def test_an_idle_cluster_with_queued_work_is_not_paused(world: World) -> None:
    make_redshift(world)
    policy = AutoscalePolicy(redshift_query_checks=True, idle_pause_minutes=20, window_minutes=10)
    with fake_data.install() as history:
        history.add_query(RS, elapsed_secs=100, end_time=world.stamp(), queue_secs=90, status="queued")
        decisions = []
        for _ in range(6):
            world.tick(5, redshift={"cpu": 1})
            decisions.append(world.run(policy))
    assert [d.action for d in decisions] == ["none"] * 6
    assert "but not paused: work is queued (longest wait 90 s)" in decisions[-1].reason


def test_a_large_cluster_in_a_busy_days_tail_is_not_idle(world: World) -> None:
    # 3% of 8 nodes is 24 CPU-percent x nodes: 12% of the 2-node minimum, not idle; 1% of 8 is.
    make_redshift(world, nodes=8)
    policy = AutoscalePolicy(idle_pause_minutes=10, redshift_max_nodes=8, scale_down_sustain_minutes=1000)
    busy_tail = []
    for _ in range(4):
        world.tick(5, redshift={"cpu": 3})
        busy_tail.append(world.run(policy))
    assert [d.action for d in busy_tail] == ["none"] * 4, [d.reason for d in busy_tail]
    quiet = []
    for _ in range(4):
        world.tick(5, redshift={"cpu": 1})
        quiet.append(world.run(policy).action)
    assert "pause" in quiet
