"""dbscale.core.aurora against moto, with timed transitions on a simulated clock."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest

from dbscale.core.aurora import RdsProvisioning, instance_identifier
from dbscale.core.errors import (
    ClusterAlreadyExists,
    ClusterNotFound,
    ClusterNotOwned,
    InvalidRequest,
    InvalidState,
    OperationFailed,
)
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from dbscale.core.operation import Operation
from tests.fakes import (
    AURORA_INSTANCE,
    AwsCallRecorder,
    FakeClock,
    LostResponses,
    SlowAws,
    ThrottleInjector,
    fresh_session,
)

NAME = "orders"
MUTATING = (
    "CreateDBCluster",
    "ModifyDBCluster",
    "StartDBCluster",
    "StopDBCluster",
    "FailoverDBCluster",
    "DeleteDBCluster",
    "CreateDBInstance",
    "ModifyDBInstance",
    "DeleteDBInstance",
)


def create(
    session: boto3.Session, clock: FakeClock, instance_class: str = "db.r6g.large", name: str = NAME, **kw: Any
) -> RdsProvisioning:
    return RdsProvisioning(name, initial_instance_type=instance_class, session=session, clock=clock, **kw)


def mutations(calls: AwsCallRecorder) -> list[str]:
    return [op for op in calls.operations() if op in MUTATING]


def instances(session: boto3.Session, name: str = NAME) -> dict[str, dict[str, Any]]:
    """The cluster's instances by identifier, as DescribeDBInstances returns them."""
    rds = session.client("rds")
    found = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [name]}])["DBInstances"]
    return {i["DBInstanceIdentifier"]: i for i in found}


def writers(session: boto3.Session, name: str = NAME) -> list[str]:
    members = session.client("rds").describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["DBClusterMembers"]
    return [m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]]


# --- get or create ----------------------------------------------------------------------------


def test_a_missing_cluster_without_an_instance_type_is_not_found_and_not_created(
    boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    with pytest.raises(ClusterNotFound, match="pass initial_instance_type"):
        RdsProvisioning(NAME, session=boto_session)
    assert aws_calls.operations() == ["DescribeDBClusters"]


def test_a_missing_cluster_is_created_with_its_instances_and_waited_for(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock, reader_count=1, Tags=[{"Key": "team", "Value": "shop"}])

    assert rds.status == "available"
    assert (rds.instance_type, rds.reader_count, rds.engine) == ("db.r6g.large", 1, "aurora-postgresql")
    assert rds.adopted is False
    assert rds.tags == {"team": "shop", CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}
    assert writers(boto_session) == [f"{NAME}-1"]
    assert {i: d["DBInstanceStatus"] for i, d in instances(boto_session).items()} == {
        f"{NAME}-1": "available",
        f"{NAME}-2": "available",
    }
    assert slow_aws.observed(NAME, "aurora") == ["creating", "available"]
    assert slow_aws.observed(f"{NAME}-1", "aurora-instance") == ["creating", "available"]
    assert fake_clock.slept >= AURORA_INSTANCE["create"].seconds
    (params,) = aws_calls.params("CreateDBCluster")
    assert params["ManageMasterUserPassword"] is True and "MasterUserPassword" not in params
    assert (params["Engine"], params["MasterUsername"], params["StorageEncrypted"]) == (
        "aurora-postgresql",
        "postgres",
        True,
    )
    tiers = {p["DBInstanceIdentifier"]: p["PromotionTier"] for p in aws_calls.params("CreateDBInstance")}
    assert tiers == {f"{NAME}-1": 0, f"{NAME}-2": 1}


def test_a_serverless_v2_cluster_is_created_with_its_capacity_range(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(
        boto_session,
        fake_clock,
        "db.serverless",
        engine="aurora-mysql",
        serverless_v2_min_acu=0.5,
        serverless_v2_max_acu=4,
    )
    assert rds.instance_type == "db.serverless"
    assert rds.serverless_v2_capacity == (0.5, 4.0)
    (params,) = aws_calls.params("CreateDBCluster")
    assert params["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4.0}
    assert params["MasterUsername"] == "admin"


def test_connection_info_names_the_endpoints_and_the_managed_secret(
    boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    rds = create(boto_session, fake_clock, DatabaseName="shop")
    info = rds.connection_info()
    assert info.host is not None and ".cluster-" in info.host
    assert info.reader_host is not None and ".cluster-ro-" in info.reader_host
    assert (info.port, info.database, info.user) == (5432, "shop", "postgres")
    secret = boto_session.client("secretsmanager").get_secret_value(SecretId=info.secret_arn)
    password = json.loads(secret["SecretString"])["password"]
    for text in (repr(info), repr(rds), json.dumps(rds.describe(), default=str)):
        assert password not in text


def test_an_existing_cluster_is_adopted_and_deleted_only_with_force(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    client = boto_session.client("rds")
    client.create_db_cluster(
        DBClusterIdentifier=NAME, Engine="aurora-postgresql", MasterUsername="owner", MasterUserPassword="Sup3rSecret!"
    )
    client.create_db_instance(
        DBInstanceIdentifier="legacy-writer",
        DBClusterIdentifier=NAME,
        DBInstanceClass="db.r5.large",
        Engine="aurora-postgresql",
    )
    slow_aws.finish_all()
    aws_calls.clear()

    rds = create(boto_session, fake_clock, "db.r6g.xlarge", reader_count=2)  # the shape is ignored: it exists

    assert mutations(aws_calls) == []
    assert (rds.adopted, rds.instance_type, rds.reader_count) == (True, "db.r5.large", 0)
    with pytest.raises(ClusterNotOwned):
        rds.delete()
    assert mutations(aws_calls) == []
    rds.delete(force=True, final_snapshot=False)
    with pytest.raises(ClusterNotFound):
        rds.describe()


@pytest.mark.parametrize("operation", ["CreateDBCluster", "CreateDBInstance"])
def test_a_create_whose_response_was_lost_is_recognised_as_ours(
    operation: str,
    lost_responses: LostResponses,
    slow_aws: SlowAws,
    fake_clock: FakeClock,
    boto_session: boto3.Session,
) -> None:
    lost_responses.lose(operation)  # AWS carries it out; botocore's retry meets "already exists"
    rds = create(boto_session, fake_clock, reader_count=1)
    assert lost_responses.lost[operation] == 1
    assert (rds.status, rds.adopted, rds.reader_count) == ("available", False, 1)
    assert set(instances(boto_session)) == {f"{NAME}-1", f"{NAME}-2"}


def test_a_cluster_someone_else_creates_meanwhile_is_not_taken_for_ours(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    def race(**_: Any) -> None:
        fresh_session().client("rds").create_db_cluster(
            DBClusterIdentifier=NAME, Engine="aurora-postgresql", MasterUsername="x", MasterUserPassword="Sup3rSecret!"
        )

    boto_session.events.register_first("before-call.rds.CreateDBCluster", race)
    with pytest.raises(ClusterAlreadyExists):
        create(boto_session, fake_clock)
    assert RdsProvisioning(NAME, session=boto_session).adopted is True


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"engine": "postgres"}, "engine"),
        ({"engine": "aurora"}, "engine"),
        ({"initial_instance_type": "db.r6g.huge"}, "initial_instance_type"),
        ({"initial_instance_type": "r6g.large"}, "initial_instance_type"),
        ({"reader_count": 16}, "reader_count"),
        ({"reader_count": -1}, "reader_count"),
        ({"initial_instance_type": "db.serverless"}, "serverless_v2_min_acu"),
        (
            {"initial_instance_type": "db.serverless", "serverless_v2_min_acu": 0.5, "serverless_v2_max_acu": 300},
            "serverless_v2_max_acu",
        ),
        (
            {"initial_instance_type": "db.serverless", "serverless_v2_min_acu": 0.7, "serverless_v2_max_acu": 4},
            "serverless_v2_min_acu",
        ),
        (
            {"initial_instance_type": "db.serverless", "serverless_v2_min_acu": 8, "serverless_v2_max_acu": 4},
            "serverless_v2_min_acu",
        ),
        ({"serverless_v2_min_acu": 1, "serverless_v2_max_acu": 4}, "serverless_v2_min_acu"),  # provisioned class
        ({"MasterUserPassword": "hunter2hunter2"}, "MasterUserPassword"),
        ({"ManageMasterUserPassword": False}, "ManageMasterUserPassword"),
        ({"EngineVersion": "16.4"}, "EngineVersion"),
    ],
)
def test_a_bad_cluster_request_is_refused_without_any_aws_call(
    kwargs: dict[str, Any], field: str, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    args = {"initial_instance_type": "db.r6g.large", **kwargs}
    with pytest.raises(InvalidRequest) as err:
        RdsProvisioning(NAME, session=boto_session, clock=FakeClock(), **args)
    assert err.value.field == field
    assert len(aws_calls) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"new_instance_type": "db.r6g.huge"}, "new_instance_type"),
        ({"new_reader_count": 16}, "new_reader_count"),
        ({"new_reader_count": 1.5}, "new_reader_count"),
        ({"new_serverless_v2_capacity": (4, 2)}, "new_serverless_v2_capacity[0]"),
        ({"new_serverless_v2_capacity": (0.5, 512)}, "new_serverless_v2_capacity[1]"),
        ({"new_serverless_v2_capacity": (1,)}, "new_serverless_v2_capacity"),
    ],
)
def test_a_bad_rescale_is_refused_without_any_aws_call(
    change: dict[str, Any], field: str, boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(InvalidRequest) as err:
        rds.rescale(**change)
    assert err.value.field == field
    assert len(aws_calls) == 0


# --- rescale ----------------------------------------------------------------------------------


def test_the_serverless_v2_range_changes_in_place(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock, "db.serverless", serverless_v2_min_acu=0.5, serverless_v2_max_acu=4)
    aws_calls.clear()

    rds.rescale(new_serverless_v2_capacity=(1, 16))

    assert rds.serverless_v2_capacity == (1.0, 16.0)
    assert mutations(aws_calls) == ["ModifyDBCluster"]
    (params,) = aws_calls.params("ModifyDBCluster")
    assert params["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 1, "MaxCapacity": 16}
    assert slow_aws.observed(NAME, "aurora")[-2:] == ["modifying", "available"]
    assert set(instances(boto_session)) == {f"{NAME}-1"}


def test_stop_and_start_through_rescale(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock, reader_count=1)
    aws_calls.clear()

    rds.rescale(new_paused=True)
    assert rds.paused and rds.status == "stopped"
    assert {i["DBInstanceStatus"] for i in instances(boto_session).values()} == {"stopped"}
    rds.rescale(new_paused=False)
    assert rds.status == "available"
    assert {i["DBInstanceStatus"] for i in instances(boto_session).values()} == {"available"}

    assert mutations(aws_calls) == ["StopDBCluster", "StartDBCluster"]
    assert slow_aws.observed(NAME, "aurora")[-5:] == ["available", "stopping", "stopped", "starting", "available"]


@pytest.mark.parametrize("reader_count", [0, 2])
def test_a_rolling_class_change_leaves_one_writer_of_the_new_class_and_no_leftover(
    reader_count: int,
    slow_aws: SlowAws,
    fake_clock: FakeClock,
    boto_session: boto3.Session,
    aws_calls: AwsCallRecorder,
) -> None:
    rds = create(boto_session, fake_clock, reader_count=reader_count)
    old_writer = f"{NAME}-1"
    aws_calls.clear()

    op = rds.rescale(new_instance_type="db.r6g.xlarge")

    assert op.done
    (writer,) = writers(boto_session)
    assert writer != old_writer
    found = instances(boto_session)
    assert old_writer not in found
    assert len(found) == 1 + reader_count
    assert {i["DBInstanceClass"] for i in found.values()} == {"db.r6g.xlarge"}
    assert {i["DBInstanceStatus"] for i in found.values()} == {"available"}
    assert (rds.instance_type, rds.reader_count) == ("db.r6g.xlarge", reader_count)
    # The writer was replaced by one failover to a new instance, never modified in place.
    assert aws_calls.params("FailoverDBCluster") == [
        {"DBClusterIdentifier": NAME, "TargetDBInstanceIdentifier": writer}
    ]
    assert [p["DBInstanceIdentifier"] for p in aws_calls.params("DeleteDBInstance")] == [old_writer]
    assert old_writer not in [p["DBInstanceIdentifier"] for p in aws_calls.params("ModifyDBInstance")]
    assert len(aws_calls.params("ModifyDBInstance")) == reader_count
    assert "failing-over" in slow_aws.observed(NAME, "aurora")


def test_readers_are_added_and_removed(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock)
    rds.rescale(new_reader_count=3)
    assert rds.reader_count == 3
    assert set(instances(boto_session)) == {f"{NAME}-1", f"{NAME}-2", f"{NAME}-3", f"{NAME}-4"}
    assert {i["DBInstanceClass"] for i in instances(boto_session).values()} == {"db.r6g.large"}

    aws_calls.clear()
    rds.rescale(new_reader_count=1)
    assert rds.reader_count == 1
    assert writers(boto_session) == [f"{NAME}-1"]
    assert set(instances(boto_session)) == {f"{NAME}-1", f"{NAME}-2"}
    assert mutations(aws_calls) == ["DeleteDBInstance", "DeleteDBInstance"]


def test_a_stopped_cluster_is_started_changed_and_stopped_again(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock)
    rds.rescale(new_paused=True)
    aws_calls.clear()

    rds.rescale(new_reader_count=1)

    assert (rds.reader_count, rds.status) == (1, "stopped")
    assert mutations(aws_calls) == ["StartDBCluster", "CreateDBInstance", "StopDBCluster"]


def test_a_deferred_class_change_waits_for_the_maintenance_window(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock, reader_count=1)
    aws_calls.clear()

    assert rds.rescale(immediate=False, new_instance_type="db.r6g.xlarge").done

    assert [p["ApplyImmediately"] for p in aws_calls.params("ModifyDBInstance")] == [False, False]
    assert "FailoverDBCluster" not in aws_calls.operations()
    found = instances(boto_session)
    assert {i["DBInstanceClass"] for i in found.values()} == {"db.r6g.large"}
    assert {i["PendingModifiedValues"]["DBInstanceClass"] for i in found.values()} == {"db.r6g.xlarge"}
    # Asking again changes nothing: the change is already pending.
    aws_calls.clear()
    rds.rescale(immediate=False, new_instance_type="db.r6g.xlarge")
    assert mutations(aws_calls) == []

    slow_aws.apply_maintenance()
    slow_aws.finish_all()
    assert {i["DBInstanceClass"] for i in instances(boto_session).values()} == {"db.r6g.xlarge"}
    assert rds.instance_type == "db.r6g.xlarge"


def test_rescale_with_nothing_to_change_makes_no_change(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock, reader_count=1)
    aws_calls.clear()
    for op in (rds.rescale(), rds.rescale(new_instance_type="db.r6g.large", new_reader_count=1, new_paused=False)):
        assert op.done and op.steps == []
    assert mutations(aws_calls) == []


def test_rescaling_a_busy_cluster_is_refused_unless_after_pending(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock)
    rds.rescale(new_paused=True, wait=False).poll()
    assert rds.status == "stopping"
    aws_calls.clear()

    with pytest.raises(InvalidState, match="'stopping'"):
        rds.rescale(new_reader_count=1)
    assert mutations(aws_calls) == []

    rds.rescale(new_reader_count=1, after_pending=True)
    assert (rds.reader_count, rds.status) == (1, "stopped")  # planned on the stopped state


def test_a_plan_made_after_pending_that_turns_out_invalid_fails_cleanly(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rds = create(boto_session, fake_clock)
    rds.rescale(new_paused=True, wait=False).poll()  # stopping
    # db.serverless needs an ACU range, which this provisioned cluster does not have.
    op = rds.rescale(new_instance_type="db.serverless", after_pending=True, wait=False)
    with pytest.raises((InvalidRequest, OperationFailed), match="Serverless v2 capacity range"):
        op.wait(timeout_minutes=60)
    resumed = Operation.from_dict(json.loads(json.dumps(op.to_dict())), session=boto_session, clock=fake_clock)
    for again in (op, resumed):  # a later poll (or a later invocation) must not crash
        with contextlib.suppress(InvalidRequest):
            assert again.poll().failed


def test_update_tags_cannot_change_who_owns_the_cluster(boto_session: boto3.Session, fake_clock: FakeClock) -> None:
    rds = create(boto_session, fake_clock)
    with contextlib.suppress(InvalidRequest):
        rds.update_tags({CREATED_BY_TAG_KEY: "someone-else"})
    assert rds.adopted is False


def test_an_aurora_operation_resumes_from_its_json_in_a_later_invocation(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rds = create(boto_session, fake_clock)
    op = rds.rescale(new_instance_type="db.r6g.xlarge", new_reader_count=1, wait=False)
    assert op.poll().in_progress
    saved = json.dumps(op.to_dict())
    for _ in range(200):
        fake_clock.sleep(120)
        later = Operation.from_dict(json.loads(saved), session=fresh_session(), clock=fake_clock)
        result = later.poll()
        saved = json.dumps(later.to_dict())
        if not result.in_progress:
            break
    assert result.done, result.reason
    assert (rds.instance_type, rds.reader_count) == ("db.r6g.xlarge", 1)
    assert len(writers(boto_session)) == 1 and len(instances(boto_session)) == 2


# --- delete -----------------------------------------------------------------------------------


def test_delete_removes_the_instances_then_the_cluster_after_a_final_snapshot(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock, reader_count=1)
    stamp = datetime.fromtimestamp(fake_clock.now(), tz=timezone.utc).strftime("%Y%m%d%H%M%S")
    aws_calls.clear()

    assert rds.delete().done

    with pytest.raises(ClusterNotFound):
        rds.describe()
    assert instances(boto_session) == {}
    client = boto_session.client("rds")
    (snapshot,) = client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=f"{NAME}-final-{stamp}")[
        "DBClusterSnapshots"
    ]
    assert snapshot["DBClusterIdentifier"] == NAME
    assert mutations(aws_calls) == ["DeleteDBInstance", "DeleteDBInstance", "DeleteDBCluster"]
    assert slow_aws.observed(f"{NAME}-2", "aurora-instance")[-1] == "deleting"


def test_a_stopped_cluster_is_started_to_be_deleted(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock)
    rds.rescale(new_paused=True)
    aws_calls.clear()
    rds.delete(final_snapshot=False)
    with pytest.raises(ClusterNotFound):
        rds.describe()
    assert mutations(aws_calls) == ["StartDBCluster", "DeleteDBInstance", "DeleteDBCluster"]
    assert aws_calls.params("DeleteDBCluster") == [{"DBClusterIdentifier": NAME, "SkipFinalSnapshot": True}]


def test_deleting_a_missing_cluster_is_a_no_op(
    boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    rds = create(boto_session, fake_clock)
    rds.delete(final_snapshot=False)
    aws_calls.clear()
    op = rds.delete()
    assert op.done and op.steps == []
    assert aws_calls.operations() == ["DescribeDBClusters"]


def test_instance_identifiers_stay_within_63_characters() -> None:
    name = "a" * 62 + "b"
    assert instance_identifier(name, 12) == "a" * 60 + "-12"
    assert instance_identifier("orders", 3) == "orders-3"


# --- throttling -------------------------------------------------------------------------------


def test_the_aurora_lifecycle_converges_with_30_percent_of_calls_throttled(
    throttle: ThrottleInjector, slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rds = create(boto_session, fake_clock, reader_count=1)
    rds.rescale(new_instance_type="db.r6g.xlarge")
    rds.rescale(new_paused=True)
    assert (rds.instance_type, rds.reader_count, rds.status) == ("db.r6g.xlarge", 1, "stopped")
    rds.delete()
    with pytest.raises(ClusterNotFound):
        rds.describe()
    assert throttle.injected > 30
