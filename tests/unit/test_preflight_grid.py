"""The preflight (issue 27) as a generated grid: every referential property of every resource type
x every way it can be wrong that applies to it (absent object, wrong family/engine/VPC, disabled
or pending-deletion key, a role the service cannot assume, an object of another region).

Each case is a Create of an otherwise valid, fully specified template sent through the handler as
CloudFormation sends it (in process, on moto): it must be FAILED by the first invocation, with the
marker physical id, a Reason naming the property, no call that creates or changes anything, and
nothing left in AWS. Then: several bad properties are named in one Reason; the valid templates have
no problem; a template's reads are one per referential property present (none for an absent one);
an Update that changes nothing referential reads nothing, and one that does is refused before any
modify.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import trustme
from moto import mock_aws

from dbscale.core.preflight import preflight_for
from dbscale.handlers import aurora_clone, aurora_cluster, database_bootstrap, redshift_cluster
from tests.e2e.conftest import response_server, tls_ca  # noqa: F401  (fixtures)
from tests.e2e.harness import SFN_CONFIG, CloudFormation, ResponseServer, wired
from tests.fakes import AwsCallRecorder, FakeClock
from tests.fakes.preflight import RDS_QUOTAS, create_key, create_role
from tests.fakes.sessions import fresh_session

WEST = "us-west-2"
CHANGES = re.compile(r"^(Create|Modify|Restore|Delete|Reboot|Start|Stop|Add|Remove|Put|Execute)")
RESOURCE_SERVICES = ("rds", "redshift", "ec2", "kms", "iam", "secretsmanager", "rds-data", "redshift-data")
ACCOUNT = "123456789012"


@dataclass
class World:
    """The objects a valid template refers to, and the wrong ones the grid swaps in."""

    names: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.names[key]


def _network(session: Any, cidr: str) -> tuple[str, list[str], str]:
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.rsplit(".", 2)[0]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.{i}.0/24", AvailabilityZone=f"{session.region_name}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName=f"sg-{cidr}", Description="db", VpcId=vpc)["GroupId"]
    return vpc, subnets, group


def _rds_groups(rds: Any, suffix: str = "") -> None:
    for name, family in ((f"cpg16{suffix}", "aurora-postgresql16"), (f"cpg15{suffix}", "aurora-postgresql15")):
        rds.create_db_cluster_parameter_group(
            DBClusterParameterGroupName=name, DBParameterGroupFamily=family, Description=name
        )
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=name,
            Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
        )
    for name, family in ((f"ipg16{suffix}", "aurora-postgresql16"), (f"ipg15{suffix}", "aurora-postgresql15")):
        rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=family, Description=name)


def build_world(session: Any) -> World:
    """Everything the templates refer to, in us-east-1 (and a twin of some in us-west-2)."""
    west = fresh_session(WEST)
    rds, redshift, kms = session.client("rds"), session.client("redshift"), session.client("kms")
    _, subnets, sg_a = _network(session, "10.1.0.0/16")
    _, _, sg_b = _network(session, "10.2.0.0/16")
    _, west_subnets, sg_west = _network(west, "10.3.0.0/16")
    rds.create_db_subnet_group(DBSubnetGroupName="db-subnets", DBSubnetGroupDescription="db", SubnetIds=subnets)
    redshift.create_cluster_subnet_group(ClusterSubnetGroupName="rs-subnets", Description="rs", SubnetIds=subnets)
    west.client("rds").create_db_subnet_group(
        DBSubnetGroupName="db-subnets-west", DBSubnetGroupDescription="db", SubnetIds=west_subnets
    )
    west.client("redshift").create_cluster_subnet_group(
        ClusterSubnetGroupName="rs-subnets-west", Description="rs", SubnetIds=west_subnets
    )
    _rds_groups(rds)
    _rds_groups(west.client("rds"), "-west")
    for client in (redshift, west.client("redshift")):
        name = "rs-tls" if client is redshift else "rs-tls-west"
        client.create_cluster_parameter_group(
            ParameterGroupName=name, ParameterGroupFamily="redshift-1.0", Description="t"
        )
        client.modify_cluster_parameter_group(
            ParameterGroupName=name, Parameters=[{"ParameterName": "require_ssl", "ParameterValue": "true"}]
        )
    key = create_key(session=session)
    disabled = create_key(session=session)
    kms.disable_key(KeyId=disabled.rsplit("/", 1)[-1])  # moto: a KeyError for an ARN
    pending = create_key(session=session)
    kms.schedule_key_deletion(KeyId=pending.rsplit("/", 1)[-1], PendingWindowInDays=7)
    role = "arn:aws:iam::123456789012:role/"
    rs_roles = [
        create_role(f"{role}rs-a", "redshift.amazonaws.com"),
        create_role(f"{role}rs-b", "redshift.amazonaws.com"),
    ]
    create_role(f"{role}monitoring", "monitoring.rds.amazonaws.com")
    create_role(f"{role}ec2-only", "ec2.amazonaws.com")
    for client, name, engine in ((rds, "src", "aurora-postgresql"), (rds, "mysrc", "aurora-mysql"),
                                 (west.client("rds"), "src-west", "aurora-postgresql")):  # fmt: skip
        client.create_db_cluster(
            DBClusterIdentifier=name, Engine=engine, MasterUsername="admin", MasterUserPassword="password1",
            StorageEncrypted=True, EnableHttpEndpoint=True,
        )  # fmt: skip
        client.create_db_cluster_snapshot(DBClusterIdentifier=name, DBClusterSnapshotIdentifier=f"{name}-snap")
    for client, name in ((redshift, "rs-src"), (west.client("redshift"), "rs-src-west")):
        client.create_cluster(
            ClusterIdentifier=name, NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="admin",
            MasterUserPassword="Password1",
        )  # fmt: skip
        client.create_cluster_snapshot(SnapshotIdentifier=f"{name}-snap", ClusterIdentifier=name)
    boot = rds.create_db_cluster(
        DBClusterIdentifier="boot", Engine="aurora-postgresql", MasterUsername="admin", ManageMasterUserPassword=True,
        EnableHttpEndpoint=True,
    )["DBCluster"]  # fmt: skip
    dark = rds.create_db_cluster(
        DBClusterIdentifier="dark", Engine="aurora-postgresql", MasterUsername="admin", MasterUserPassword="password1",
    )["DBCluster"]  # fmt: skip
    west_secret = west.client("secretsmanager").create_secret(Name="west", SecretString="{}")["ARN"]
    return World(
        {
            "sg_a": sg_a, "sg_b": sg_b, "sg_west": sg_west, "key": key, "disabled": disabled, "pending": pending,
            "key_west": create_key(session=west), "rs_roles": rs_roles, "role": role,
            "boot_arn": boot["DBClusterArn"], "boot_secret": boot["MasterUserSecret"]["SecretArn"],
            "dark_arn": dark["DBClusterArn"], "west_secret": west_secret,
        }
    )  # fmt: skip


# --- the templates ----------------------------------------------------------------------------


def redshift_full(w: World) -> dict[str, Any]:
    return {
        "ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2,
        "ClusterParameterGroupName": "rs-tls", "ClusterSubnetGroupName": "rs-subnets",
        "VpcSecurityGroupIds": [w["sg_a"]], "KmsKeyId": w["key"], "MasterPasswordSecretKmsKeyId": w["key"],
        "IamRoles": w["rs_roles"], "DefaultIamRoleArn": w["rs_roles"][1], "SnapshotIdentifier": "rs-src-snap",
    }  # fmt: skip


def aurora_full(w: World) -> dict[str, Any]:
    return {
        "ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "EngineVersion": "16",
        "DBClusterParameterGroupName": "cpg16", "DBInstanceParameterGroupName": "ipg16",
        "DBSubnetGroupName": "db-subnets", "VpcSecurityGroupIds": [w["sg_a"]], "KmsKeyId": w["key"],
        "MasterUserSecretKmsKeyId": w["key"], "PerformanceInsightsKmsKeyId": w["key"], "MonitoringInterval": 60,
        "MonitoringRoleArn": f"{w['role']}monitoring", "SnapshotIdentifier": "src-snap",
    }  # fmt: skip


def aurora_pitr(w: World) -> dict[str, Any]:
    props = {k: v for k, v in aurora_full(w).items() if k != "SnapshotIdentifier"}
    return {**props, "SourceDBClusterIdentifier": "src", "UseLatestRestorableTime": True}


def clone_full(w: World) -> dict[str, Any]:
    return {"SourceClusterId": "src", "InstanceClass": "db.r6g.large"}


def bootstrap_full(w: World) -> dict[str, Any]:
    return {"Engine": "aurora-postgresql", "ClusterArn": w["boot_arn"], "SecretArn": w["boot_secret"]}


def bootstrap_redshift(w: World) -> dict[str, Any]:
    return {"Engine": "redshift", "ClusterIdentifier": "rs-src", "SecretArn": w["boot_secret"]}


Value = Callable[[World], Any]
KEY_CASES: dict[str, Value] = {
    "absent": lambda w: "alias/no-such-key",
    "disabled": lambda w: w["disabled"],
    "pending_deletion": lambda w: w["pending"],
    "other_region": lambda w: w["key_west"],
}
# resource type -> (module, template, {property: {kind: bad value}})
GRID: dict[str, tuple[Any, Callable[[World], dict[str, Any]], dict[str, dict[str, Value]]]] = {
    "Custom::RedshiftCluster": (redshift_cluster, redshift_full, {
        "ClusterParameterGroupName": {"absent": lambda w: "NaN", "other_region": lambda w: "rs-tls-west"},
        "ClusterSubnetGroupName": {"absent": lambda w: "nope", "other_region": lambda w: "rs-subnets-west"},
        "VpcSecurityGroupIds": {"absent": lambda w: ["sg-0123456789abcdef0"], "wrong_vpc": lambda w: [w["sg_b"]],
                                "other_region": lambda w: [w["sg_west"]]},
        "KmsKeyId": KEY_CASES,
        "MasterPasswordSecretKmsKeyId": KEY_CASES,
        "IamRoles": {"absent": lambda w: [w["rs_roles"][0], f"{w['role']}ghost"],
                     "untrusted": lambda w: [w["rs_roles"][0], f"{w['role']}ec2-only"]},
        "SnapshotIdentifier": {"absent": lambda w: "no-snap", "other_region": lambda w: "rs-src-west-snap"},
    }),
    "Custom::AuroraCluster": (aurora_cluster, aurora_full, {
        "DBClusterParameterGroupName": {"absent": lambda w: "NaN", "wrong_family": lambda w: "cpg15",
                                        "other_region": lambda w: "cpg16-west"},
        "DBInstanceParameterGroupName": {"absent": lambda w: "NaN", "wrong_family": lambda w: "ipg15",
                                         "other_region": lambda w: "ipg16-west"},
        "DBSubnetGroupName": {"absent": lambda w: "nope", "other_region": lambda w: "db-subnets-west"},
        "VpcSecurityGroupIds": {"absent": lambda w: ["sg-0123456789abcdef0"], "wrong_vpc": lambda w: [w["sg_b"]],
                                "other_region": lambda w: [w["sg_west"]]},
        "KmsKeyId": KEY_CASES,
        "MasterUserSecretKmsKeyId": KEY_CASES,
        "PerformanceInsightsKmsKeyId": KEY_CASES,
        "MonitoringRoleArn": {"absent": lambda w: f"{w['role']}ghost", "untrusted": lambda w: f"{w['role']}ec2-only"},
        "SnapshotIdentifier": {"absent": lambda w: "Infinity", "wrong_engine": lambda w: "mysrc-snap",
                               "other_region": lambda w: "src-west-snap"},
    }),
    "Custom::AuroraCluster(point in time)": (aurora_cluster, aurora_pitr, {
        "SourceDBClusterIdentifier": {"absent": lambda w: "ghost", "wrong_engine": lambda w: "mysrc",
                                      "other_region": lambda w: "src-west"},
    }),
    "Custom::AuroraClone": (aurora_clone, clone_full, {
        "SourceClusterId": {"absent": lambda w: "ghost", "other_region": lambda w: "src-west"},
    }),
    "Custom::DatabaseBootstrap": (database_bootstrap, bootstrap_full, {
        "ClusterArn": {"absent": lambda w: w["boot_arn"].replace(":boot", ":ghost"), "wrong": lambda w: w["dark_arn"],
                       "other_region": lambda w: w["boot_arn"].replace("us-east-1", WEST)},
        "SecretArn": {"absent": lambda w: w["boot_secret"][:-6] + "Zzzzzz", "other_region": lambda w: w["west_secret"]},
    }),
    "Custom::DatabaseBootstrap(redshift)": (database_bootstrap, bootstrap_redshift, {
        "ClusterIdentifier": {"absent": lambda w: "ghost", "other_region": lambda w: "rs-src-west"},
    }),
}  # fmt: skip
CASES = [
    pytest.param(kind_of, prop, kind, id=f"{kind_of}-{prop}-{kind}")
    for kind_of, (_, _, props) in GRID.items()
    for prop, kinds in props.items()
    for kind in kinds
]


def resource_type(kind_of: str) -> str:
    return kind_of.split("(")[0]


# --- driving and counting -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_aws() -> Iterator[World]:
    """One moto for the whole module, with the world built once (a case leaves nothing behind,
    which each case asserts): the function-scoped ``aws`` of each test nests inside it."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(config=SFN_CONFIG):
            yield build_world(fresh_session("us-east-1"))


@pytest.fixture
def world(shared_aws: World, boto_session: boto3.Session) -> World:
    return shared_aws


@pytest.fixture
def drive(
    world: World,
    response_server: ResponseServer,  # noqa: F811
    tls_ca: tuple[trustme.CA, str],  # noqa: F811
    boto_session: boto3.Session,
    fake_clock: FakeClock,
) -> Iterator[Callable[[Any], Any]]:
    opened: list[Any] = []

    def open_for(module: Any) -> CloudFormation:
        context = wired(module, response_server, tls_ca[1], boto_session, fake_clock)
        opened.append(context)
        return context.__enter__()

    yield open_for
    for context in reversed(opened):
        context.__exit__(None, None, None)


def changes(calls: AwsCallRecorder) -> list[str]:
    """Calls of the resource services that create or change something."""
    return [c.operation for c in calls.calls if c.service in RESOURCE_SERVICES and CHANGES.match(c.operation)]


def inventory(session: Any) -> dict[str, Any]:
    """What exists in AWS that a create could have made."""
    rds, redshift = session.client("rds"), session.client("redshift")
    return {
        "rds clusters": sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]),
        "rds instances": sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]),
        "rds cluster groups": sorted(
            g["DBClusterParameterGroupName"]
            for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
        ),
        "redshift clusters": sorted(c["ClusterIdentifier"] for c in redshift.describe_clusters()["Clusters"]),
        "redshift groups": sorted(
            g["ParameterGroupName"] for g in redshift.describe_cluster_parameter_groups()["ParameterGroups"]
        ),
    }


@pytest.mark.parametrize(("kind_of", "prop", "kind"), CASES)
def test_a_bad_reference_fails_the_first_invocation_before_anything_is_made(
    kind_of: str, prop: str, kind: str, world: World, drive: Any, aws_calls: AwsCallRecorder, boto_session: Any
) -> None:
    module, template, props = GRID[kind_of]
    cfn = drive(module)
    bad = {**template(world), prop: props[prop][kind](world)}
    before = inventory(boto_session)
    aws_calls.clear()
    result = cfn.send(cfn.event("Create", resource_type(kind_of), bad), after_answer_seconds=0)
    assert (result.status, result.invocations) == ("FAILED", 1), result.reason
    assert prop in result.reason, result.reason
    assert changes(aws_calls) == [], changes(aws_calls)
    assert not cfn.executions(), "a Step Functions execution was started"
    assert inventory(boto_session) == before


def test_several_bad_references_are_named_in_one_reason(world: World, drive: Any, aws_calls: AwsCallRecorder) -> None:
    cfn = drive(aurora_cluster)
    bad = {
        **aurora_full(world),
        "DBInstanceParameterGroupName": "NaN",
        "KmsKeyId": world["pending"],
        "MonitoringRoleArn": f"{world['role']}ec2-only",
        "VpcSecurityGroupIds": [world["sg_b"]],
    }
    aws_calls.clear()
    result = cfn.send(cfn.event("Create", "Custom::AuroraCluster", bad), after_answer_seconds=0)
    assert result.status == "FAILED"
    for name in ("DBInstanceParameterGroupName", "KmsKeyId", "MonitoringRoleArn", "VpcSecurityGroupIds"):
        assert f"{name}: " in result.reason, result.reason
    assert "no DB parameter group 'NaN' in us-east-1 (family aurora-postgresql16 expected for EngineVersion 16)" in (
        result.reason
    )
    assert changes(aws_calls) == []


# resource type -> (template, the reads its preflight makes: operation -> count)
READS: dict[str, tuple[Callable[[World], dict[str, Any]], dict[str, int], int]] = {
    # (template, reads by operation, referential properties present)
    "Custom::RedshiftCluster": (redshift_full, {
        "DescribeClusterParameterGroups": 1, "DescribeClusterSubnetGroups": 1, "DescribeSecurityGroups": 1,
        "DescribeKey": 2, "GetRole": 2, "DescribeClusterSnapshots": 1,
    }, 8),  # IamRoles names 2 roles, DefaultIamRoleArn one of them (read once)
    "Custom::AuroraCluster": (aurora_full, {
        "DescribeDBClusterParameterGroups": 1, "DescribeDBParameterGroups": 1, "DescribeDBSubnetGroups": 1,
        "DescribeSecurityGroups": 1, "DescribeKey": 3, "GetRole": 1, "DescribeDBClusterSnapshots": 1,
        "DescribeAccountAttributes": 1,
    }, 9),  # + the account's quotas, read once
    "Custom::AuroraClone": (clone_full, {"DescribeDBClusters": 1, "DescribeAccountAttributes": 1}, 1),
    "Custom::DatabaseBootstrap": (bootstrap_full, {"DescribeDBClusters": 1, "GetSecretValue": 1}, 2),
}  # fmt: skip
MINIMAL: dict[str, tuple[dict[str, Any], int]] = {
    "Custom::RedshiftCluster": ({"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}, 0),
    "Custom::AuroraCluster": ({"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large"}, 1),  # quotas
}


def parsed(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    """``props`` as the resource type's handler parses them."""
    from dbscale.cfn import Request

    module = {"Custom::RedshiftCluster": redshift_cluster, "Custom::AuroraCluster": aurora_cluster,
              "Custom::AuroraClone": aurora_clone, "Custom::DatabaseBootstrap": database_bootstrap}[kind]  # fmt: skip
    event = {
        "RequestType": "Create", "ResponseURL": "https://example.invalid/", "ServiceToken": "x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": "r",
        "LogicalResourceId": "L", "ResourceType": kind, "ResourceProperties": json.loads(json.dumps(props)),
    }  # fmt: skip
    return dict(module.provider.resource.parse(Request.from_event(event)))


def options(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    if kind != "Custom::RedshiftCluster":
        return {}
    return {"owned_parameter_group": redshift_cluster.owned_parameter_group_name(props["ClusterIdentifier"])}


@pytest.mark.parametrize("kind", sorted(READS))
def test_a_valid_full_template_has_no_problem_and_reads_once_per_reference(
    kind: str, world: World, boto_session: Any, aws_calls: AwsCallRecorder
) -> None:
    template, reads, present = READS[kind]
    props = parsed(kind, template(world))
    aws_calls.clear()
    assert preflight_for(kind, props, boto_session, **options(kind, props)) == []
    assert dict(aws_calls.by_operation()) == reads
    quota_reads = reads.get("DescribeAccountAttributes", 0)
    assert len(aws_calls) - quota_reads == present


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_absent_properties_cost_no_call(kind: str, boto_session: Any, aws_calls: AwsCallRecorder) -> None:
    raw, calls = MINIMAL[kind]
    props = parsed(kind, raw)
    aws_calls.clear()
    assert preflight_for(kind, props, boto_session, **options(kind, props)) == []
    assert len(aws_calls) == calls, aws_calls


@pytest.mark.parametrize("kind", ["Custom::RedshiftCluster", "Custom::AuroraCluster"])
def test_an_update_that_changes_nothing_referential_reads_nothing(
    kind: str, world: World, boto_session: Any, aws_calls: AwsCallRecorder
) -> None:
    template = READS[kind][0]
    old = parsed(kind, template(world))
    new = parsed(kind, {**template(world), "Paused": True, "Tags": [{"Key": "team", "Value": "data"}]})
    aws_calls.clear()
    assert preflight_for(kind, new, boto_session, old=old, **options(kind, new)) == []
    assert len(aws_calls) == 0, aws_calls
    changed = parsed(kind, {**template(world), "VpcSecurityGroupIds": [world["sg_b"]]})
    problems = preflight_for(kind, changed, boto_session, old=old, **options(kind, changed))
    assert [p.property for p in problems] == ["VpcSecurityGroupIds"]
    # the changed property (and the subnet group whose VPC its verdict reads), nothing else
    assert sorted(aws_calls.operations()) == sorted(["DescribeSecurityGroups", _subnet_read(kind)])


def _subnet_read(kind: str) -> str:
    return "DescribeClusterSubnetGroups" if kind == "Custom::RedshiftCluster" else "DescribeDBSubnetGroups"


def test_an_update_to_a_bad_reference_fails_before_any_modify(
    drive: Any, boto_session: Any, aws_calls: AwsCallRecorder
) -> None:
    cfn = drive(aurora_cluster)
    props = {"ClusterIdentifier": "updated", "InstanceClass": "db.r6g.large"}
    created = cfn.send(cfn.event("Create", "Custom::AuroraCluster", props))
    assert created.status == "SUCCESS", created.reason
    aws_calls.clear()
    bad = {**props, "DBInstanceParameterGroupName": "NaN", "Tags": [{"Key": "team", "Value": "data"}]}
    event = cfn.event("Update", "Custom::AuroraCluster", bad, physical_id="updated", old_properties=props)
    result = cfn.send(event, after_answer_seconds=0)
    assert (result.status, result.physical_id) == ("FAILED", "updated")
    assert "Invalid property DBInstanceParameterGroupName: no DB parameter group 'NaN' in us-east-1" in result.reason
    assert changes(aws_calls) == []


def test_a_create_over_the_instance_quota_is_refused_naming_reader_count(
    drive: Any, monkeypatch: pytest.MonkeyPatch, aws_calls: AwsCallRecorder, boto_session: Any
) -> None:
    used = len(boto_session.client("rds").describe_db_instances()["DBInstances"])
    monkeypatch.setitem(RDS_QUOTAS, "DBInstances", used + 2)
    cfn = drive(aurora_cluster)
    props = {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large", "ReaderCount": 2}
    aws_calls.clear()
    result = cfn.send(cfn.event("Create", "Custom::AuroraCluster", props), after_answer_seconds=0)
    assert result.status == "FAILED" and "ReaderCount" in result.reason and f"quota of {used + 2}" in result.reason
    assert changes(aws_calls) == []
