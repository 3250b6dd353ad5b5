"""The providers' IAM against what their handlers really call.

Each handler is driven through a full lifecycle on moto (create, in-place changes, replacement,
delete with a final snapshot) while a botocore hook records every API operation made during the
handler's invocations (not the test's own calls). Every recorded operation must be granted to
that provider's role, and every granted action must either have been called or be listed in
``AUTHORIZED_ON_BEHALF`` with the reason AWS checks it without dbscale calling it.

The roles are those of the standalone providers of ``app.py`` (one synth of one small stack); the
per-stack providers grant the same actions (checked in tests/constructs/test_provider_iam.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme

from dbscale.handlers import aurora_clone, aurora_cluster, clone_pool, redshift_cluster
from tests.e2e.conftest import _driver
from tests.e2e.harness import CloudFormation, ResponseServer
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws
from tests.fakes.clones import AuroraCloneFake
from tests.fakes.engine_versions import EngineVersionCatalog
from tests.fakes.preflight import create_role

pytestmark = pytest.mark.slow

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


# IAM actions AWS authorizes during a call dbscale makes, although dbscale never calls them itself.
def _on_behalf(
    service: str, password_option: str, key_call: str, snapshot_action: str, tag_action: str
) -> dict[str, str]:
    secret = (
        f"{service} creates, describes, tags, rotates and deletes the managed master password's secret as the "
        f"caller ({password_option}=true); AWS documents these Secrets Manager permissions as required"
    )
    return {
        **{
            f"secretsmanager:{a}": secret
            for a in (
                "CreateSecret",
                "TagResource",
                "DescribeSecret",
                "UpdateSecret",
                "RotateSecret",
                "DeleteSecret",
                "GetRandomPassword",
            )
        },
        "kms:CreateGrant": f"{service} creates a grant on the storage key for the cluster ({key_call})",
        "kms:DescribeKey": f"{service} describes the storage key when creating an encrypted cluster",
        "iam:CreateServiceLinkedRole": f"{service} creates its service-linked role on an account's first cluster",
        snapshot_action: "deleting a cluster with a final snapshot authorizes it on the snapshot",
        tag_action: "tags given to a create or restore call are authorized as this tagging action",
    }


AUTHORIZED_ON_BEHALF: dict[str, dict[str, str]] = {
    "redshift": _on_behalf(
        "Redshift", "ManageMasterPassword", "CreateCluster", "redshift:CreateClusterSnapshot", "redshift:CreateTags"
    ),
    "aurora": _on_behalf(
        "RDS", "ManageMasterUserPassword", "CreateDBCluster", "rds:CreateDBClusterSnapshot", "rds:AddTagsToResource"
    ),
}
AUTHORIZED_ON_BEHALF["redshift"] |= {
    "iam:PassRole": "Redshift checks that the caller may pass the IAM roles a create or ModifyClusterIamRoles attaches",
    "kms:GenerateDataKey": "Secrets Manager encrypts the admin secret with MasterPasswordSecretKmsKeyId as the caller",
    "kms:Decrypt": "Secrets Manager decrypts the admin secret with MasterPasswordSecretKmsKeyId as the caller",
}
AUTHORIZED_ON_BEHALF["clone"] = {
    **AUTHORIZED_ON_BEHALF["aurora"],
    "kms:CreateGrant": "RDS creates a grant on the storage key for a restored cluster (clone, copy)",
    "kms:DescribeKey": "RDS describes the storage key when restoring an encrypted cluster",
}
AUTHORIZED_ON_BEHALF["aurora"]["iam:PassRole"] = (
    "CreateDBInstance/ModifyDBInstance with a MonitoringRoleArn pass that role to RDS Enhanced Monitoring"
)
_LOGS = "the Lambda runtime writes the function's logs to its own log group with the role's credentials"
for _name in AUTHORIZED_ON_BEHALF:
    AUTHORIZED_ON_BEHALF[_name] |= {"logs:CreateLogStream": _LOGS, "logs:PutLogEvents": _LOGS}
# Operations IAM never denies (AWS: "No permissions are required to perform this operation").
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
AUTHORIZED_ON_BEHALF["pool"] = {
    "kms:CreateGrant": "RDS creates a grant on the storage key for each restored copy",
    "kms:DescribeKey": "RDS describes the storage key when restoring an encrypted copy",
    "rds:AddTagsToResource": "tags given to CreateDBClusterSnapshot/RestoreDBClusterFromSnapshot are authorized as it",
    **{a: AUTHORIZED_ON_BEHALF["redshift"][a] for a in ("logs:CreateLogStream", "logs:PutLogEvents")},
}
# Granted on purpose although the scenarios below do not reach the call.
_STOP = (
    "an older request's execution is stopped only when a newer request for the same resource arrives while it "
    "still runs; these scenarios send one request at a time"
)
NOT_REACHED: dict[str, dict[str, str]] = {
    "pool": {},
    "redshift": {"states:StopExecution": _STOP},
    "aurora": {
        "states:StopExecution": _STOP,
        "rds:EnableHttpEndpoint": "EnableHttpEndpoint (the Data API, for DatabaseBootstrap) is switched on by an update",
        "rds:DisableHttpEndpoint": "and off again when EnableHttpEndpoint is removed or false",
    },
    "clone": {
        "states:StopExecution": _STOP,
        "rds:StartDBCluster": "a clone someone stopped is started before its class changes (shared rescale plan)",
        "rds:ModifyDBInstance": "readers someone added to a clone are changed in place by the shared rescale plan",
    },
}


COPY_ROLE = "arn:aws:iam::123456789012:role/dbscale-copy"


def _operation_action(service: str, operation: str) -> str:
    """The IAM action of a botocore operation (boto3's ``stepfunctions`` is IAM's ``states``)."""
    prefix = {"stepfunctions": "states"}.get(service, service)
    return f"{prefix}:{operation}"


@pytest.fixture(scope="module")
def granted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """IAM actions granted to each standalone provider's role and to a clone pool's, by name (``redshift``...)."""
    from aws_cdk import App, Duration, Stack

    from dbscale.constructs import (
        AuroraCloneProvider,
        AuroraClusterProvider,
        ClonePoolMaintenance,
        RedshiftClusterProvider,
    )

    outdir = Path(tmp_path_factory.mktemp("iam"))
    app = App(outdir=str(outdir))
    stack = Stack(app, "Providers")
    RedshiftClusterProvider(stack, "Redshift", cluster_identifier_prefix="dbscale-", iam_role_arns=[COPY_ROLE])
    AuroraClusterProvider(stack, "Aurora", cluster_identifier_prefix="dbscale-")
    AuroraCloneProvider(stack, "Clone", cluster_identifier_prefix="dbscale-")
    ClonePoolMaintenance(stack, "Pool", source="dbscale-prod", min_spare_slots=5, max_copy_age=Duration.days(1))
    app.synth()
    template = json.loads((outdir / "Providers.template.json").read_text())
    # The functions' roles only (a provider's state machine has a role of its own, which the handlers
    # never use: tests/constructs/test_operations.py checks it).
    function_roles = {
        r["Properties"]["Role"]["Fn::GetAtt"][0]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    actions: dict[str, set[str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if not {r["Ref"] for r in resource["Properties"]["Roles"]} & function_roles:
            continue
        name = {"Redshift": "redshift", "Aurora": "aurora", "Clone": "clone", "Pool": "pool"}[
            next(k for k in ("Redshift", "Aurora", "Clone", "Pool") if logical_id.startswith(k))
        ]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            listed = statement["Action"]
            actions.setdefault(name, set()).update([listed] if isinstance(listed, str) else listed)
    return actions


class Recording:
    """Wraps a handler so that only the API calls it makes are kept."""

    def __init__(self, recorder: AwsCallRecorder) -> None:
        self.recorder = recorder
        self.actions: set[str] = set()

    def wrap(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            start = len(self.recorder.calls)
            try:
                return handler(event, context)
            finally:
                self.actions.update(_operation_action(c.service, c.operation) for c in self.recorder.calls[start:])

        return run


@pytest.fixture
def recording(aws_calls: AwsCallRecorder) -> Recording:
    return Recording(aws_calls)


Drive = Callable[[Any], Iterator[CloudFormation]]


@pytest.fixture
def drive(
    provider_env: SlowAws,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    recording: Recording,
) -> Drive:
    """``for cfn in drive(handler_module):`` a CloudFormation driver whose handler calls are recorded:
    CloudFormation's invocations and the state machine's check invocations alike."""

    def run(module: Any) -> Iterator[CloudFormation]:
        yield from _driver(_Recorded(module, recording), response_server, tls_ca[1], boto_session, fake_clock)

    return run


class _Recorded:
    """Handler module ``module`` with its ``handler`` recorded (whoever invokes it: the test or the state machine)."""

    def __init__(self, module: Any, recording: Recording) -> None:
        self._module = module
        self.handler = recording.wrap(module.handler)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _check(name: str, called: set[str], granted: dict[str, set[str]]) -> None:
    allowed = granted[name]
    on_behalf, not_reached = AUTHORIZED_ON_BEHALF[name], NOT_REACHED[name]
    called = called - NEEDS_NO_PERMISSION
    assert not (called - allowed), f"{name}: called but not granted: {sorted(called - allowed)}"
    unexplained = allowed - called - set(on_behalf) - set(not_reached)
    assert not unexplained, f"{name}: granted, never called, no reason given: {sorted(unexplained)}"
    stale = (set(on_behalf) | set(not_reached)) - allowed
    assert not stale, f"{name}: explained but not granted (remove the entry): {sorted(stale)}"
    assert not (set(not_reached) & called), f"{name}: reached after all: {sorted(set(not_reached) & called)}"


def test_redshift_handler_calls_only_what_its_role_grants(
    granted: dict[str, set[str]], provider_env: SlowAws, drive: Drive, recording: Recording
) -> None:
    kind = "Custom::RedshiftCluster"
    props = {"ClusterIdentifier": "dbscale-wh", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
    for cfn in drive(redshift_cluster):
        assert cfn.send(cfn.event("Create", kind, props)).status == "SUCCESS"
        bigger = {**props, "NumberOfNodes": 4, "Tags": [{"Key": "team", "Value": "bi"}]}
        steps = [
            (props, bigger),
            (bigger, {**bigger, "Paused": True}),
            ({**bigger, "Paused": True}, bigger),
            (bigger, {**bigger, "Tags": []}),
        ]
        for old, new in steps:
            result = cfn.send(cfn.event("Update", kind, new, physical_id="dbscale-wh", old_properties=old))
            assert result.status == "SUCCESS", result.reason
        # A resize that outlives one invocation (30 simulated minutes here): the state machine checks on it.
        provider_env.set_duration("redshift", "elastic_resize", 1800)
        retyped = {**props, "NumberOfNodes": 8, "Port": 5440}  # 4 -> 8: elastic
        result = cfn.send(cfn.event("Update", kind, retyped, physical_id="dbscale-wh", old_properties=props))
        assert result.status == "SUCCESS" and result.invocations > 1, result.reason
        replaced = {**props, "ClusterIdentifier": "dbscale-wh2"}
        result = cfn.send(cfn.event("Update", kind, replaced, physical_id="dbscale-wh", old_properties=retyped))
        assert result.status == "SUCCESS", result.reason
        last_props = _redshift_settings_lifecycle(cfn, kind, replaced)
        for name, last in (("dbscale-wh", retyped), ("dbscale-wh2", last_props)):
            result = cfn.send(cfn.event("Delete", kind, last, physical_id=name))
            assert result.status == "SUCCESS", result.reason
    _check("redshift", recording.actions, granted)


def _redshift_settings_lifecycle(cfn: CloudFormation, kind: str, props: dict[str, Any]) -> dict[str, Any]:
    """Issue 12's settings on 'dbscale-wh2': roles, a named TLS group with a reboot, logging off,
    then a restore from its snapshot. Returns the last properties of 'dbscale-wh2'."""
    redshift = boto3.client("redshift")
    create_role(COPY_ROLE, "redshift.amazonaws.com")  # the preflight reads it
    redshift.create_cluster_parameter_group(
        ParameterGroupName="dbscale-team", ParameterGroupFamily="redshift-1.0", Description="team"
    )
    redshift.modify_cluster_parameter_group(
        ParameterGroupName="dbscale-team", Parameters=[{"ParameterName": "require_ssl", "ParameterValue": "true"}]
    )
    changed = {
        **props,
        "IamRoles": [COPY_ROLE],
        "DefaultIamRoleArn": COPY_ROLE,
        "ClusterParameterGroupName": "dbscale-team",
        "RebootForParameterChanges": True,
        "LoggingProperties": {"LogExports": []},
    }
    result = cfn.send(cfn.event("Update", kind, changed, physical_id="dbscale-wh2", old_properties=props))
    assert result.status == "SUCCESS", result.reason
    redshift.create_cluster_snapshot(SnapshotIdentifier="dbscale-nightly", ClusterIdentifier="dbscale-wh2")
    restored = {**props, "ClusterIdentifier": "dbscale-wh3", "SnapshotIdentifier": "dbscale-nightly"}
    result = cfn.send(cfn.event("Create", kind, restored, logical_id="Restored"))
    assert result.status == "SUCCESS", result.reason
    result = cfn.send(cfn.event("Delete", kind, restored, logical_id="Restored", physical_id="dbscale-wh3"))
    assert result.status == "SUCCESS", result.reason
    return changed


def test_aurora_handler_calls_only_what_its_role_grants(
    granted: dict[str, set[str]], drive: Drive, recording: Recording
) -> None:
    kind = "Custom::AuroraCluster"
    props = {
        "ClusterIdentifier": "dbscale-orders",
        "InstanceClass": "db.r6g.large",
        "ReaderCount": 1,
        "EngineVersion": "16",
    }  # a major version: resolved through DescribeDBEngineVersions
    rds = boto3.client("rds")
    create_role("arn:aws:iam::123456789012:role/dbscale-monitoring", "monitoring.rds.amazonaws.com")
    rds.create_db_parameter_group(
        DBParameterGroupName="dbscale-tuned", DBParameterGroupFamily="aurora-postgresql16", Description="tuned"
    )
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="dbscale-strict", DBParameterGroupFamily="aurora-postgresql16", Description="tls"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="dbscale-strict",
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
    )
    with EngineVersionCatalog():
        _aurora_lifecycle(drive, kind, props)
    _check("aurora", recording.actions, granted)


def _aurora_lifecycle(drive: Drive, kind: str, props: dict[str, Any]) -> None:
    for cfn in drive(aurora_cluster):
        assert cfn.send(cfn.event("Create", kind, props)).status == "SUCCESS"
        bigger = {
            **props,
            # Instance settings (a parameter group change asked to reboot, Enhanced Monitoring's
            # role passed), deletion protection, a named TLS parameter group read by the guardrail.
            "DBInstanceParameterGroupName": "dbscale-tuned",
            "RebootForParameterChanges": True,
            "MonitoringInterval": 60,
            "MonitoringRoleArn": "arn:aws:iam::123456789012:role/dbscale-monitoring",
            "DeletionProtection": True,
            "DBClusterParameterGroupName": "dbscale-strict",
            "InstanceClass": "db.r6g.xlarge",
            "ReaderCount": 2,
            "BackupRetentionPeriod": 14,
            "Tags": [{"Key": "team", "Value": "app"}],
        }
        steps = [
            (props, bigger),
            (bigger, {**bigger, "Paused": True}),
            ({**bigger, "Paused": True}, bigger),
            (bigger, {**bigger, "ReaderCount": 1, "Tags": [], "DeletionProtection": False}),
        ]
        for old, new in steps:
            result = cfn.send(cfn.event("Update", kind, new, physical_id="dbscale-orders", old_properties=old))
            assert result.status == "SUCCESS", result.reason
        last = {**bigger, "ReaderCount": 1, "Tags": [], "DeletionProtection": False}
        result = cfn.send(cfn.event("Delete", kind, last, physical_id="dbscale-orders"))
        assert result.status == "SUCCESS", result.reason


def test_clone_handler_calls_only_what_its_role_grants(
    granted: dict[str, set[str]], provider_env: SlowAws, boto_session: boto3.Session, drive: Drive, recording: Recording
) -> None:
    kind = "Custom::AuroraClone"
    rds = boto_session.client("rds")
    with AuroraCloneFake(provider_env) as fake:
        fake.make_source(rds, "dbscale-prod")
        # No free clone slot on the source and an obsolete copy: a copy is made (across polls) and
        # the old one purged.
        fake.add_clones(rds, "dbscale-prod", 15)
        fake.make_copy(rds, "dbscale-prod", "dbscale-prod-copy-old", age_hours=40)
        fake.settle()
        fake.snapshot_seconds = 300
        provider_env.set_duration("aurora", "restore", 900)
        props = {
            "SourceClusterId": "dbscale-prod",
            "CloneClusterIdentifier": "dbscale-dev",
            "InstanceClass": "db.r6g.large",
            "CopyOk": True,
            "MaxCopyAgeHours": 24,
            "PurgeObsoleteCopies": True,
            "FinalSnapshot": True,
        }
        for cfn in drive(aurora_clone):
            created = cfn.send(cfn.event("Create", kind, props, logical_id="Clone"))
            assert created.status == "SUCCESS", created.reason
            tagged = {**props, "InstanceClass": "db.r6g.xlarge", "Tags": [{"Key": "team", "Value": "qa"}]}
            result = cfn.send(
                cfn.event("Update", kind, tagged, logical_id="Clone", physical_id="dbscale-dev", old_properties=props)
            )
            assert result.status == "SUCCESS", result.reason
            untagged = {**tagged, "Tags": []}
            result = cfn.send(
                cfn.event(
                    "Update", kind, untagged, logical_id="Clone", physical_id="dbscale-dev", old_properties=tagged
                )
            )
            assert result.status == "SUCCESS", result.reason
            result = cfn.send(cfn.event("Delete", kind, untagged, logical_id="Clone", physical_id="dbscale-dev"))
            assert result.status == "SUCCESS", result.reason
    _check("clone", recording.actions, granted)


def test_clone_pool_calls_only_what_its_role_grants(
    granted: dict[str, set[str]],
    provider_env: SlowAws,
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    recording: Recording,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rds = boto_session.client("rds")
    monkeypatch.setattr(clone_pool, "session", boto_session)
    monkeypatch.setattr(clone_pool, "clock", fake_clock)
    for name, value in {
        "SOURCE_CLUSTER_ID": "dbscale-prod",
        "MIN_SPARE_SLOTS": "5",
        "MAX_COPY_AGE_HOURS": "24",
    }.items():
        monkeypatch.setenv(name, value)
    handler = recording.wrap(clone_pool.handler)
    with AuroraCloneFake(provider_env) as fake:
        fake.make_source(rds, "dbscale-prod")
        fake.add_clones(rds, "dbscale-prod", 15)  # no spare slot on the source
        fake.make_copy(rds, "dbscale-prod", "dbscale-prod-copy-old", age_hours=30)  # obsolete: deleted
        fake.settle()
        event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
        handler(event, None)  # the scheduled run: deletes the old copy, starts a new one
        for _ in range(30):  # the follow-up rule drives the copy on: snapshot, restore, instance, tidy-up
            fake_clock.sleep(600)
            handler({**event, "detail": {"StartCopies": False}}, None)
        copies = [c for c in rds.describe_db_clusters()["DBClusters"] if "-copy-" in c["DBClusterIdentifier"]]
        assert [c["DBClusterIdentifier"] for c in copies] != ["dbscale-prod-copy-old"] and len(copies) == 1
        assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []  # seed deleted
    _check("pool", recording.actions, granted)
