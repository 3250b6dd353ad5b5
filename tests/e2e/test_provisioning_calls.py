"""One Create event of a cluster resource describes the cluster once before creating it (issue 25:
the adopt-or-create check is the handler's ``open``; ``create`` sends CreateCluster straight away)."""

from __future__ import annotations

from tests.e2e.harness import CloudFormation
from tests.fakes import AwsCallRecorder


def describes_before(calls: AwsCallRecorder, describe: str, create: str) -> int:
    operations = calls.operations()
    return operations[: operations.index(create)].count(describe)


def test_a_redshift_create_describes_the_cluster_once(redshift_cfn: CloudFormation, aws_calls: AwsCallRecorder) -> None:
    aws_calls.clear()
    props = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
    result = redshift_cfn.send(redshift_cfn.event("Create", "Custom::RedshiftCluster", props))
    assert result.status == "SUCCESS", result.reason
    assert describes_before(aws_calls, "DescribeClusters", "CreateCluster") == 1


def test_an_aurora_create_describes_the_cluster_once(aurora_cfn: CloudFormation, aws_calls: AwsCallRecorder) -> None:
    aws_calls.clear()
    props = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large"}
    result = aurora_cfn.send(aurora_cfn.event("Create", "Custom::AuroraCluster", props))
    assert result.status == "SUCCESS", result.reason
    assert describes_before(aws_calls, "DescribeDBClusters", "CreateDBCluster") == 1
