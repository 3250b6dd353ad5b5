"""AWS calls of the provisioning objects happen in named methods (issue 25): ``open`` describes,
``create`` creates without describing first, the seed's constructor is one Describe then a create."""

from __future__ import annotations

import boto3
import pytest

from dbscale.core import RdsProvisioning, RedshiftProvisioning
from dbscale.core.errors import ClusterAlreadyExists, ClusterNotFound, InvalidRequest
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws


def before_create(calls: AwsCallRecorder, create: str) -> list[str]:
    """The operations called before the first ``create``."""
    operations = calls.operations()
    return operations[: operations.index(create)]


def test_open_is_one_describe_and_names_a_missing_cluster(
    boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    with pytest.raises(ClusterNotFound, match="Redshift cluster 'warehouse'"):
        RedshiftProvisioning.open("warehouse", session=boto_session)
    with pytest.raises(ClusterNotFound, match="Aurora cluster 'orders'"):
        RdsProvisioning.open("orders", session=boto_session)
    assert aws_calls.operations() == ["DescribeClusters", "DescribeDBClusters"]


def test_create_sends_the_create_without_describing_first(
    slow_aws: SlowAws, boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    rd = RedshiftProvisioning.create(
        "warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=boto_session, clock=fake_clock
    )
    db = RdsProvisioning.create("orders", initial_instance_type="db.r6g.large", session=boto_session, clock=fake_clock)
    assert "DescribeClusters" not in before_create(aws_calls, "CreateCluster")
    assert "DescribeDBClusters" not in before_create(aws_calls, "CreateDBCluster")
    assert rd.pending_operation is not None and rd.pending_operation.done
    assert db.pending_operation is not None and db.pending_operation.done
    assert RedshiftProvisioning.open("warehouse", session=boto_session).cluster_size == 2
    assert RdsProvisioning.open("orders", session=boto_session).instance_type == "db.r6g.large"


def test_create_of_a_cluster_someone_else_made_is_refused(
    slow_aws: SlowAws, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    boto_session.client("redshift").create_cluster(
        ClusterIdentifier="warehouse",
        NodeType="ra3.xlplus",
        NumberOfNodes=2,
        MasterUsername="owner",
        MasterUserPassword="Sup3rSecret!",
    )
    with pytest.raises(ClusterAlreadyExists):
        RedshiftProvisioning.create(
            "warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=boto_session
        )


def test_the_seed_constructor_describes_once_then_creates(
    slow_aws: SlowAws, boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    RedshiftProvisioning(
        "warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=2, session=boto_session, clock=fake_clock
    )
    RdsProvisioning("orders", initial_instance_type="db.r6g.large", session=boto_session, clock=fake_clock)
    assert before_create(aws_calls, "CreateCluster") == ["DescribeClusters"]
    aurora = before_create(aws_calls, "CreateDBCluster")
    assert aurora[aurora.index("CreateCluster") :].count("DescribeDBClusters") == 1


def test_create_arguments_are_checked_before_any_aws_call(
    boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    aws_calls.clear()
    with pytest.raises(InvalidRequest):
        RedshiftProvisioning.create("warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=0)
    with pytest.raises(InvalidRequest):
        RdsProvisioning.create("orders", initial_instance_type="db.r6g.large", MasterUserPassword="x")
    assert aws_calls.operations() == []
