"""Aurora Serverless v2 auto-pause: preferred to stop/start where the engine version supports it."""

from __future__ import annotations

import boto3
import pytest

from dbscale.core.aurora import RdsProvisioning
from dbscale.core.autoscale import AutoscalePolicy, ClusterRef, Period, supports_auto_pause
from dbscale.core.errors import InvalidRequest
from tests.fakes import FakeClock, SlowAws
from tests.unit.test_autoscale import AU, World, make_aurora


@pytest.fixture
def world(slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session) -> World:
    return World(boto_session, fake_clock, slow_aws)


@pytest.mark.parametrize(
    ("engine", "version", "supported"),
    [
        ("aurora-postgresql", "13.15", True),
        ("aurora-postgresql", "13.14", False),
        ("aurora-postgresql", "14.12", True),
        ("aurora-postgresql", "14.11", False),
        ("aurora-postgresql", "15.7", True),
        ("aurora-postgresql", "15.6", False),
        ("aurora-postgresql", "16.3", True),
        ("aurora-postgresql", "16.2", False),
        ("aurora-postgresql", "17.4", True),
        ("aurora-postgresql", "12.22", False),
        ("aurora-mysql", "8.0.mysql_aurora.3.08.0", True),
        ("aurora-mysql", "8.0.mysql_aurora.3.07.1", False),
        ("aurora-mysql", "8.0.mysql_aurora.3.10.0", True),
        ("aurora-mysql", "5.7.mysql_aurora.2.12.3", False),
        ("aurora-mysql", "nonsense", False),
        ("mysql", "8.0.36", False),
    ],
)
def test_the_engine_version_floor_for_auto_pause(engine: str, version: str, supported: bool) -> None:
    assert supports_auto_pause(engine, version) is supported


def test_an_idle_serverless_cluster_on_a_recent_engine_auto_pauses_instead_of_stopping(world: World) -> None:
    cluster = make_aurora(
        world, "db.serverless", engine="aurora-postgresql", engine_version="16.4",
        serverless_v2_min_acu=1, serverless_v2_max_acu=8,
    )
    policy = AutoscalePolicy(aurora_acu_range=(1, 8), aurora_stop_when_idle=True, idle_pause_minutes=30)
    world.tick(10, aurora={f"{AU}-1": 2})
    decision = world.run(policy, ClusterRef.aurora(AU))
    assert (decision.action, decision.rule, decision.causes) == ("pause", "reactive", ("idle",))
    assert decision.target == {"acu": [0.0, 8.0], "auto_pause_seconds": 1800}
    assert "supports auto-pause" in decision.reason and decision.outcome.startswith(("started", "done"))
    world.slow.finish_all()
    c = world.session.client("rds").describe_db_clusters(DBClusterIdentifier=AU)["DBClusters"][0]
    assert c["Status"] == "available"  # never stopped: Aurora pauses the instances itself
    assert c["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert c["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] == 1800
    assert cluster.serverless_v2_capacity == (0.0, 8.0)
    world.tick(10, aurora={f"{AU}-1": 2})
    assert world.run(policy, ClusterRef.aurora(AU)).action == "skip_busy"  # the stored operation is wound up
    assert world.run(policy, ClusterRef.aurora(AU)).action == "none"  # configured once


def test_an_older_engine_is_stopped_after_the_idle_time_as_before(world: World) -> None:
    make_aurora(
        world, "db.serverless", engine="aurora-postgresql", engine_version="15.4",
        serverless_v2_min_acu=1, serverless_v2_max_acu=8,
    )
    policy = AutoscalePolicy(aurora_acu_range=(1, 8), aurora_stop_when_idle=True, idle_pause_minutes=30)
    world.tick(10, aurora={f"{AU}-1": 2})
    assert world.run(policy, ClusterRef.aurora(AU)).action == "none"


def test_a_paused_schedule_on_a_serverless_cluster_sets_zero_acu_and_the_schedule_restores_it(world: World) -> None:
    make_aurora(
        world, "db.serverless", engine="aurora-mysql", engine_version="8.0.mysql_aurora.3.08.0",
        serverless_v2_min_acu=2, serverless_v2_max_acu=8,
    )
    policy = AutoscalePolicy(
        aurora_acu_range=(1, 8),
        schedule=(Period("Daily 00:00-24:00", paused=True),),
    )
    world.tick(10, aurora={f"{AU}-1": 40})
    held = world.run(policy, ClusterRef.aurora(AU))
    assert (held.action, held.rule, held.target["acu"]) == ("pause", "schedule", [0.0, 8.0])
    world.slow.finish_all()
    running = AutoscalePolicy(aurora_acu_range=(1, 8), schedule=(Period("Daily 00:00-24:00", min_acu=2),))
    world.tick(5, aurora={f"{AU}-1": 40})
    assert world.run(running, ClusterRef.aurora(AU)).action == "skip_busy"  # the stored operation is wound up
    back = world.run(running, ClusterRef.aurora(AU))
    assert (back.action, back.rule, back.target) == ("resume", "schedule", {"acu": [2.0, 8.0]})


def test_rescale_checks_the_auto_pause_seconds(world: World) -> None:
    cluster = make_aurora(
        world, "db.serverless", engine="aurora-postgresql", engine_version="16.4",
        serverless_v2_min_acu=1, serverless_v2_max_acu=8,
    )
    assert isinstance(cluster, RdsProvisioning)
    with pytest.raises(InvalidRequest, match="minimum capacity of 0 ACU"):
        cluster.rescale(new_serverless_v2_capacity=(1, 8), new_seconds_until_auto_pause=600)
    with pytest.raises(InvalidRequest, match="from 300 to 86400"):
        cluster.rescale(new_serverless_v2_capacity=(0, 8), new_seconds_until_auto_pause=60)


def test_a_period_bounds_the_serverless_maximum_capacity(world: World) -> None:
    make_aurora(world, "db.serverless", serverless_v2_min_acu=0.5, serverless_v2_max_acu=4)
    policy = AutoscalePolicy(aurora_acu_range=(1, 32), schedule=(Period("Daily 00:00-24:00", min_acu=8, max_acu=16),))
    world.tick(10, aurora={f"{AU}-1": 30})
    decision = world.run(policy, ClusterRef.aurora(AU))
    assert (decision.action, decision.rule, decision.target) == ("scale_up", "schedule", {"acu": [0.5, 8.0]})
    assert "outside the schedule's 8-16 ACU" in decision.reason


def test_on_an_older_engine_the_schedule_stops_the_cluster_and_starts_it_again(world: World) -> None:
    make_aurora(
        world, "db.serverless", engine="aurora-postgresql", engine_version="15.4",
        serverless_v2_min_acu=1, serverless_v2_max_acu=8,
    )
    ref = ClusterRef.aurora(AU)
    closed = AutoscalePolicy(aurora_acu_range=(1, 8), schedule=(Period("Daily 00:00-24:00", paused=True),))
    world.tick(10, aurora={f"{AU}-1": 40})
    stop = world.run(closed, ref)
    assert (stop.action, stop.rule, stop.target) == ("pause", "schedule", {"paused": True})
    world.slow.finish_all()
    world.run(closed, ref)  # winds up the stored operation
    rds = world.session.client("rds")
    assert rds.describe_db_clusters(DBClusterIdentifier=AU)["DBClusters"][0]["Status"] == "stopped"
    open_ = AutoscalePolicy(aurora_acu_range=(1, 8), schedule=(Period("Daily 00:00-24:00"),))
    start = world.run(open_, ref)
    assert (start.action, start.rule, start.target) == ("resume", "schedule", {"paused": False})
