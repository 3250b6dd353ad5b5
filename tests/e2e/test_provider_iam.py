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

from dbscale.handlers import aurora_clone, aurora_cluster, redshift_cluster
from tests.e2e.harness import CloudFormation, ResponseServer
from tests.fakes import AwsCallRecorder, FakeClock, SlowAws
from tests.fakes.clones import AuroraCloneFake
from tests.fakes.engine_versions import EngineVersionCatalog

pytestmark = pytest.mark.slow

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# IAM actions AWS authorizes during a call dbscale makes, although dbscale never calls them itself.
_SECRET = (
    "{service} creates, describes, tags, rotates and deletes the managed master password's secret as the "
    "caller (Manage{what}=true); AWS documents these Secrets Manager and KMS permissions as required"
)
AUTHORIZED_ON_BEHALF: dict[str, dict[str, str]] = {
    "redshift": {
        **{
            f"secretsmanager:{a}": _SECRET.format(service="Redshift", what="MasterPassword")
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
        "kms:CreateGrant": "Redshift creates a grant on the cluster's key for the cluster (CreateCluster)",
        "kms:DescribeKey": "Redshift describes the cluster's key when creating an encrypted cluster",
        "iam:CreateServiceLinkedRole": "Redshift creates its service-linked role on an account's first cluster",
        "redshift:CreateClusterSnapshot": "DeleteCluster with a final snapshot authorizes it on the snapshot",
        "redshift:CreateTags": "tags given to CreateCluster/CreateClusterSnapshot are authorized as CreateTags",
    },
    "aurora": {
        **{
            f"secretsmanager:{a}": _SECRET.format(service="RDS", what="MasterUserPassword")
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
        "kms:CreateGrant": "RDS creates a grant on the storage key for the cluster (CreateDBCluster)",
        "kms:DescribeKey": "RDS describes the storage key when creating an encrypted cluster",
        "iam:CreateServiceLinkedRole": "RDS creates its service-linked role on an account's first cluster",
        "rds:CreateDBClusterSnapshot": "DeleteDBCluster with a final snapshot authorizes it on the snapshot",
        "rds:AddTagsToResource": "tags given to a Create*/Restore* call are authorized as AddTagsToResource",
    },
}
AUTHORIZED_ON_BEHALF["clone"] = {
    **AUTHORIZED_ON_BEHALF["aurora"],
    "kms:CreateGrant": "RDS creates a grant on the storage key for a restored cluster (clone, copy)",
    "kms:DescribeKey": "RDS describes the storage key when restoring an encrypted cluster",
}
_LOGS = "the Lambda runtime writes the function's logs to its own log group with the role's credentials"
for _name in AUTHORIZED_ON_BEHALF:
    AUTHORIZED_ON_BEHALF[_name] |= {"logs:CreateLogStream": _LOGS, "logs:PutLogEvents": _LOGS}
# Operations IAM never denies (AWS: "No permissions are required to perform this operation").
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}
# Granted on purpose although the scenarios below do not reach the call.
NOT_REACHED: dict[str, dict[str, str]] = {
    "redshift": {},
    "aurora": {},
    "clone": {
        "rds:StartDBCluster": "a clone someone stopped is started before its class changes (shared rescale plan)",
        "rds:ModifyDBInstance": "readers someone added to a clone are changed in place by the shared rescale plan",
    },
}


def _operation_action(service: str, operation: str) -> str:
    prefix = {"lambda": "lambda", "events": "events"}.get(service, service)
    return f"{prefix}:{operation}"


@pytest.fixture(scope="module")
def granted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """IAM actions granted to each standalone provider's role, by provider (``redshift``...)."""
    from aws_cdk import App, Stack

    from dbscale.constructs import AuroraCloneProvider, AuroraClusterProvider, RedshiftClusterProvider

    outdir = Path(tmp_path_factory.mktemp("iam"))
    app = App(outdir=str(outdir))
    stack = Stack(app, "Providers")
    RedshiftClusterProvider(stack, "Redshift", cluster_identifier_prefix="dbscale-")
    AuroraClusterProvider(stack, "Aurora", cluster_identifier_prefix="dbscale-")
    AuroraCloneProvider(stack, "Clone", cluster_identifier_prefix="dbscale-")
    app.synth()
    template = json.loads((outdir / "Providers.template.json").read_text())
    actions: dict[str, set[str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        name = {"Redshift": "redshift", "Aurora": "aurora", "Clone": "clone"}[
            next(k for k in ("Redshift", "Aurora", "Clone") if logical_id.startswith(k))
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


def _drive(
    module: Any, server: ResponseServer, ca: str, session: boto3.Session, clock: FakeClock, recording: Recording
) -> Iterator[CloudFormation]:
    provider = module.provider
    saved = (provider.session, provider.clock, provider.ssl_verify, provider._helper)
    provider.session, provider.clock, provider.ssl_verify, provider._helper = session, clock, ca, None
    server.fail_next = 0
    try:
        yield CloudFormation(recording.wrap(module.handler), server, clock)
    finally:
        provider.session, provider.clock, provider.ssl_verify, provider._helper = saved


@pytest.fixture
def recording(aws_calls: AwsCallRecorder) -> Recording:
    return Recording(aws_calls)


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
    granted: dict[str, set[str]],
    provider_env: SlowAws,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    recording: Recording,
) -> None:
    kind = "Custom::RedshiftCluster"
    props = {"ClusterIdentifier": "dbscale-wh", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
    for cfn in _drive(redshift_cluster, response_server, tls_ca[1], boto_session, fake_clock, recording):
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
        # A node type change is a classic resize that outlives one invocation: EventBridge polls.
        provider_env.set_duration("redshift", "classic_resize", 1800)
        retyped = {**props, "NodeType": "ra3.4xlarge", "Port": 5440}
        result = cfn.send(cfn.event("Update", kind, retyped, physical_id="dbscale-wh", old_properties=props))
        assert result.status == "SUCCESS" and result.invocations > 1, result.reason
        replaced = {**props, "ClusterIdentifier": "dbscale-wh2"}
        result = cfn.send(cfn.event("Update", kind, replaced, physical_id="dbscale-wh", old_properties=retyped))
        assert result.status == "SUCCESS", result.reason
        for name, last in (("dbscale-wh", retyped), ("dbscale-wh2", replaced)):
            result = cfn.send(cfn.event("Delete", kind, last, physical_id=name))
            assert result.status == "SUCCESS", result.reason
    _check("redshift", recording.actions, granted)


def test_aurora_handler_calls_only_what_its_role_grants(
    granted: dict[str, set[str]],
    provider_env: SlowAws,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    recording: Recording,
) -> None:
    kind = "Custom::AuroraCluster"
    props = {
        "ClusterIdentifier": "dbscale-orders",
        "InstanceClass": "db.r6g.large",
        "ReaderCount": 1,
        "EngineVersion": "16",
    }  # a major version: resolved through DescribeDBEngineVersions
    with EngineVersionCatalog():
        _aurora_lifecycle(kind, props, response_server, tls_ca, boto_session, fake_clock, recording)
    _check("aurora", recording.actions, granted)


def _aurora_lifecycle(
    kind: str,
    props: dict[str, Any],
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    recording: Recording,
) -> None:
    for cfn in _drive(aurora_cluster, response_server, tls_ca[1], boto_session, fake_clock, recording):
        assert cfn.send(cfn.event("Create", kind, props)).status == "SUCCESS"
        bigger = {
            **props,
            "InstanceClass": "db.r6g.xlarge",
            "ReaderCount": 2,
            "BackupRetentionPeriod": 14,
            "Tags": [{"Key": "team", "Value": "app"}],
        }
        steps = [
            (props, bigger),
            (bigger, {**bigger, "Paused": True}),
            ({**bigger, "Paused": True}, bigger),
            (bigger, {**bigger, "ReaderCount": 1, "Tags": []}),
        ]
        for old, new in steps:
            result = cfn.send(cfn.event("Update", kind, new, physical_id="dbscale-orders", old_properties=old))
            assert result.status == "SUCCESS", result.reason
        last = {**bigger, "ReaderCount": 1, "Tags": []}
        result = cfn.send(cfn.event("Delete", kind, last, physical_id="dbscale-orders"))
        assert result.status == "SUCCESS", result.reason


def test_clone_handler_calls_only_what_its_role_grants(
    granted: dict[str, set[str]],
    provider_env: SlowAws,
    response_server: ResponseServer,
    tls_ca: tuple[trustme.CA, str],
    boto_session: boto3.Session,
    fake_clock: FakeClock,
    recording: Recording,
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
        for cfn in _drive(aurora_clone, response_server, tls_ca[1], boto_session, fake_clock, recording):
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
