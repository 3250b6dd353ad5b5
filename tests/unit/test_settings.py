"""Settings (Modify* parameters) as steps of an operation, the fakes' state rules for modify calls,
and an Aurora delete that checks its final snapshot before removing any instance."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dbscale.core.aurora import RdsProvisioning
from dbscale.core.errors import InvalidRequest, InvalidState, OperationFailed
from dbscale.core.operation import Operation
from dbscale.core.redshift import RedshiftProvisioning
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws

WAREHOUSE = "warehouse"
ORDERS = "orders"


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def redshift(session: boto3.Session, clock: FakeClock, **kw: Any) -> RedshiftProvisioning:
    return RedshiftProvisioning(WAREHOUSE, initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=session, clock=clock, **kw)


def aurora(session: boto3.Session, clock: FakeClock, **kw: Any) -> RdsProvisioning:
    return RdsProvisioning(ORDERS, initial_instance_type="db.r6g.large", session=session, clock=clock, **kw)


def mutations(calls: AwsCallRecorder) -> list[str]:
    return [op for op in calls.operations() if not op.startswith(("Describe", "GetCallerIdentity"))]


def security_group(session: boto3.Session) -> str:
    ec2 = session.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    return str(ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"])


# --- the fakes refuse what AWS refuses (plain moto, no slow transitions) -----------------------


def test_redshift_modify_pause_and_resume_follow_aws_state_rules(boto_session: boto3.Session) -> None:
    client = boto_session.client("redshift")
    client.create_cluster(
        ClusterIdentifier=WAREHOUSE, NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="admin",
        ManageMasterPassword=True,
    )  # fmt: skip
    with pytest.raises(ClientError) as err:
        client.resume_cluster(ClusterIdentifier=WAREHOUSE)
    assert code(err) == "InvalidClusterState"
    client.pause_cluster(ClusterIdentifier=WAREHOUSE)
    for call in (
        lambda: client.pause_cluster(ClusterIdentifier=WAREHOUSE),
        lambda: client.modify_cluster(ClusterIdentifier=WAREHOUSE, Port=5440),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert code(err) == "InvalidClusterState"
    client.resume_cluster(ClusterIdentifier=WAREHOUSE)
    client.modify_cluster(ClusterIdentifier=WAREHOUSE, Port=5440, PubliclyAccessible=True)
    c = client.describe_clusters(ClusterIdentifier=WAREHOUSE)["Clusters"][0]
    assert (c["Endpoint"]["Port"], c["PubliclyAccessible"]) == (5440, True)


def test_rds_modify_calls_follow_aws_state_rules(boto_session: boto3.Session) -> None:
    rds = boto_session.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier=ORDERS, Engine="aurora-postgresql", MasterUsername="postgres", ManageMasterUserPassword=True
    )
    rds.create_db_instance(
        DBInstanceIdentifier="orders-1", DBClusterIdentifier=ORDERS, DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql",
    )  # fmt: skip
    rds.stop_db_cluster(DBClusterIdentifier=ORDERS)
    with pytest.raises(ClientError) as err:
        rds.modify_db_cluster(DBClusterIdentifier=ORDERS, BackupRetentionPeriod=14)
    assert code(err) == "InvalidDBClusterStateFault"
    with pytest.raises(ClientError) as err:
        rds.modify_db_instance(DBInstanceIdentifier="orders-1", DBInstanceClass="db.r6g.xlarge")
    assert code(err) == "InvalidDBInstanceState"
    assert rds.describe_db_clusters(DBClusterIdentifier=ORDERS)["DBClusters"][0]["Status"] == "stopped"
    rds.start_db_cluster(DBClusterIdentifier=ORDERS)
    rds.modify_db_cluster(DBClusterIdentifier=ORDERS, EnableIAMDatabaseAuthentication=True, ApplyImmediately=True)
    assert rds.describe_db_clusters(DBClusterIdentifier=ORDERS)["DBClusters"][0]["IAMDatabaseAuthenticationEnabled"]


def test_rds_delete_db_cluster_takes_a_snapshot_unless_told_to_skip_it(boto_session: boto3.Session) -> None:
    rds = boto_session.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier=ORDERS, Engine="aurora-postgresql", MasterUsername="postgres", ManageMasterUserPassword=True
    )
    for kwargs in ({}, {"SkipFinalSnapshot": False}, {"SkipFinalSnapshot": True, "FinalDBSnapshotIdentifier": "x"}):
        with pytest.raises(ClientError) as err:
            rds.delete_db_cluster(DBClusterIdentifier=ORDERS, **kwargs)
        assert code(err) == "InvalidParameterCombination"
    assert len(rds.describe_db_clusters()["DBClusters"]) == 1
    rds.delete_db_cluster(DBClusterIdentifier=ORDERS, FinalDBSnapshotIdentifier="orders-last")
    assert rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="orders-last")["DBClusterSnapshots"]


def test_slow_redshift_modify_leaves_the_cluster_modifying_for_a_while(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rp = redshift(boto_session, fake_clock)
    boto_session.client("redshift").modify_cluster(ClusterIdentifier=WAREHOUSE, Port=5440)
    assert rp.status == "modifying"
    slow_aws.finish_all()
    assert rp.status == "available"


# --- Redshift settings as an operation ---------------------------------------------------------


def test_settings_of_a_paused_redshift_cluster_resume_apply_and_pause_it_again(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = redshift(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    group = security_group(boto_session)
    seen = len(slow_aws.observed(WAREHOUSE))
    aws_calls.clear()

    op = rp.modify_settings(Port=5440, VpcSecurityGroupIds=[group], PubliclyAccessible=True)

    assert op.done
    c = rp.describe()
    assert (c["ClusterStatus"], c["Endpoint"]["Port"], c["PubliclyAccessible"]) == ("paused", 5440, True)
    assert [g["VpcSecurityGroupId"] for g in c["VpcSecurityGroups"]] == [group]
    assert mutations(aws_calls) == ["ResumeCluster", "ModifyCluster", "PauseCluster"]
    assert slow_aws.observed(WAREHOUSE)[seen - 1 :] == [
        "paused", "resuming", "available", "modifying", "available", "pausing", "paused",
    ]  # fmt: skip


def test_new_paused_sets_the_end_state_and_settings_in_effect_are_not_sent_again(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = redshift(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    aws_calls.clear()
    assert rp.modify_settings(Port=5439).done  # the default port: nothing to do, not even a resume
    assert mutations(aws_calls) == []
    assert rp.modify_settings(Port=5440, new_paused=False).done
    assert (rp.status, mutations(aws_calls)) == ("available", ["ResumeCluster", "ModifyCluster"])
    with pytest.raises(InvalidRequest) as err:
        rp.modify_settings(Port=5441, new_paused="no")  # type: ignore[arg-type]
    assert err.value.field == "new_paused"


def test_settings_of_a_busy_redshift_cluster_wait_for_it_only_after_pending(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = redshift(boto_session, fake_clock)
    rp.rescale(new_instance_type="ra3.4xlarge", wait=False).poll()
    assert rp.status == "resizing"
    aws_calls.clear()
    with pytest.raises(InvalidState):
        rp.modify_settings(Port=5440)
    assert mutations(aws_calls) == []
    op = rp.modify_settings(Port=5440, after_pending=True)
    assert op.done
    c = rp.describe()
    assert (c["ClusterStatus"], c["NodeType"], c["Endpoint"]["Port"]) == ("available", "ra3.4xlarge", 5440)


def test_a_settings_operation_resumes_from_its_json_and_modifies_once(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rp = redshift(boto_session, fake_clock)
    rp.rescale(new_paused=True)
    aws_calls.clear()
    saved = json.dumps(rp.modify_settings(Port=5440, wait=False).to_dict())
    for _ in range(200):
        later = Operation.from_dict(json.loads(saved), session=boto_session, clock=fake_clock)
        result = later.poll()
        saved = json.dumps(later.to_dict())
        if not result.in_progress:
            break
        fake_clock.sleep(15)
    assert result.done, result.reason
    assert (rp.status, rp.describe()["Endpoint"]["Port"]) == ("paused", 5440)
    assert aws_calls.count("ModifyCluster") == 1


# --- Aurora settings as an operation -----------------------------------------------------------


def test_settings_of_a_stopped_aurora_cluster_start_apply_and_stop_it_again(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = aurora(boto_session, fake_clock, reader_count=1)
    rds.rescale(new_paused=True)
    group = security_group(boto_session)
    aws_calls.clear()

    op = rds.modify_settings(
        BackupRetentionPeriod=14, EnableIAMDatabaseAuthentication=True, VpcSecurityGroupIds=[group]
    )

    assert op.done
    c = rds.describe()
    assert (c["Status"], c["BackupRetentionPeriod"], c["IAMDatabaseAuthenticationEnabled"]) == ("stopped", 14, True)
    assert [g["VpcSecurityGroupId"] for g in c["VpcSecurityGroups"]] == [group]
    assert mutations(aws_calls) == ["StartDBCluster", "ModifyDBCluster", "StopDBCluster"]
    assert aws_calls.params("ModifyDBCluster")[0]["ApplyImmediately"] is True


# --- Aurora delete: the final snapshot is checked before any instance goes --------------------


def test_an_aurora_delete_whose_final_snapshot_name_is_taken_deletes_nothing(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = aurora(boto_session, fake_clock, reader_count=1)
    client = boto_session.client("rds")
    client.create_db_cluster_snapshot(DBClusterIdentifier=ORDERS, DBClusterSnapshotIdentifier="orders-last")
    aws_calls.clear()

    with pytest.raises(OperationFailed) as err:
        rds.delete(snapshot_identifier="orders-last")

    found = client.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [ORDERS]}])["DBInstances"]
    assert sorted(i["DBInstanceStatus"] for i in found) == ["available", "available"]
    assert rds.status == "available"
    assert mutations(aws_calls) == []
    assert "orders-last" in str(err.value) and "nothing was deleted" in str(err.value)


def test_an_aurora_delete_with_an_invalid_snapshot_name_deletes_nothing(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    rds = aurora(boto_session, fake_clock)
    aws_calls.clear()
    with pytest.raises(OperationFailed, match="not a valid DB cluster snapshot identifier"):
        rds.delete(snapshot_identifier="orders--last")
    assert mutations(aws_calls) == []
