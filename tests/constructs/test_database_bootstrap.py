"""DatabaseBootstrap on a RedshiftCluster (the telemetry example covers AuroraCluster), synth-time
errors, and AuroraCluster's auto-pause and Data API properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbscale.constructs import AuroraCluster, DatabaseBootstrap, DatabaseUser, InvalidConstructProps, RedshiftCluster

from .templates import assert_template_unchanged

pytestmark = pytest.mark.slow


def migrations(directory: Path, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {"001_schema.sql": "CREATE SCHEMA IF NOT EXISTS app;"}).items():
        (directory / name).write_text(text)
    return directory


@pytest.fixture(scope="module")
def redshift_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk.assertions import Template

    app = App()
    stack = Stack(app, "Warehouse")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    cluster = RedshiftCluster(stack, "Cluster", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    DatabaseBootstrap(
        stack,
        "Schema",
        cluster=cluster,
        migrations=migrations(tmp_path_factory.mktemp("sql")),
        users=[DatabaseUser("loader", grants=["select, insert on app.*"])],
    )
    return dict(Template.from_stack(stack).to_json())


def test_redshift_bootstrap_uses_the_redshift_data_api(redshift_template: dict[str, Any]) -> None:
    resources = redshift_template["Resources"]
    bootstrap = next(r for r in resources.values() if r["Type"] == "Custom::DatabaseBootstrap")["Properties"]
    assert bootstrap["Engine"] == "redshift" and "ClusterArn" not in bootstrap
    assert bootstrap["ClusterIdentifier"].startswith("warehouse-cluster-")
    assert bootstrap["Users"][0]["Grants"] == ["SELECT, INSERT ON app.*"]  # normalized at synth
    secret = next(r for r in resources.values() if r["Type"] == "AWS::SecretsManager::Secret")["Properties"]
    template = "".join(
        p if isinstance(p, str) else "X" for p in secret["GenerateSecretString"]["SecretStringTemplate"]["Fn::Join"][1]
    )
    assert '"engine":"redshift"' in template and '"dbname":"dev"' in template and '"username":"loader"' in template
    statements = [
        s
        for name, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and name.startswith("DbscaleDatabaseBootstrapProviderRoleDefault")
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["RedshiftDataApi"]["Action"] == "redshift-data:ExecuteStatement"
    assert ":cluster:warehouse-cluster-" in json.dumps(by_sid["RedshiftDataApi"]["Resource"])
    assert by_sid["RedshiftDataApiStatements"]["Resource"] == "*"
    assert "RdsDataApi" not in by_sid


def test_the_bootstrap_provider_runs_its_long_operations_on_its_own_state_machine(
    redshift_template: dict[str, Any],
) -> None:
    from dbscale.cfn.workflow import definition

    from .operations import PARTITION, STATES_ACTIONS, listed, operations_of, provider_functions, role_statements

    resources = redshift_template["Resources"]
    (bootstrap,) = [
        f
        for f in provider_functions(redshift_template)
        if resources[f]["Properties"]["Handler"].endswith("bootstrap.handler")
    ]
    ops = operations_of(redshift_template, bootstrap)
    arn = f"arn:{PARTITION}:lambda:eu-test-1:111122223333:function:bootstrap"
    assert ops.definition(arn) == definition(arn, partition=PARTITION)
    assert ops.machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    actions = {a for s in role_statements(resources, ops.function_role_id) for a in listed(s["Action"])}
    assert {a for a in actions if a.startswith(("states:", "events:"))} == STATES_ACTIONS
    invoke = [
        s for s in role_statements(resources, ops.machine_role_id) if "lambda:InvokeFunction" in listed(s["Action"])
    ]
    assert [s["Resource"] for s in invoke] == [{"Fn::GetAtt": [bootstrap, "Arn"]}]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": [DatabaseUser("App")]}, "user name 'App' is not valid"),
        ({"users": [DatabaseUser("app"), DatabaseUser("app")]}, "declared twice"),
        ({"users": [DatabaseUser("app", grants=["DROP ON app.*"])]}, "privilege 'DROP'"),
        ({"users": [DatabaseUser("app", grants=["SELECT ON everything"])]}, "is not <schema>.<table>"),
    ],
)
def test_bad_users_fail_the_synth(scratch: Any, tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    stack, vpc = scratch
    cluster = AuroraCluster(stack, "Db", vpc=vpc, instance_class="db.r6g.large")
    with pytest.raises(InvalidConstructProps, match=message) as caught:
        DatabaseBootstrap(stack, "Schema", cluster=cluster, migrations=migrations(tmp_path / "m"), **kwargs)
    assert caught.value.path == "Scratch/Schema"


def test_bad_migrations_fail_the_synth(scratch: Any, tmp_path: Path) -> None:
    stack, vpc = scratch
    cluster = AuroraCluster(stack, "Db", vpc=vpc, instance_class="db.r6g.large")
    with pytest.raises(InvalidConstructProps, match="does not exist"):
        DatabaseBootstrap(stack, "A", cluster=cluster, migrations=tmp_path / "missing")
    with pytest.raises(InvalidConstructProps, match="same number 1"):
        DatabaseBootstrap(
            stack, "B", cluster=cluster, migrations=migrations(tmp_path / "b", {"1_a.sql": "", "001_b.sql": ""})
        )
    big = migrations(tmp_path / "c", {f"{n:03d}_x.sql": "-- " + "x" * 100_000 for n in range(1, 3)})
    with pytest.raises(InvalidConstructProps, match="KiB of SQL"):
        DatabaseBootstrap(stack, "C", cluster=cluster, migrations=big)
    with pytest.raises(InvalidConstructProps, match="AuroraCluster or a RedshiftCluster"):
        DatabaseBootstrap(stack, "D", cluster=vpc, migrations=migrations(tmp_path / "d"))  # type: ignore[arg-type]


def test_auto_pause_is_validated_at_synth(scratch: Any) -> None:
    stack, vpc = scratch
    common = {"vpc": vpc, "instance_class": "db.serverless", "engine": "aurora-mysql", "serverless_v2_max_capacity": 4}
    with pytest.raises(InvalidConstructProps, match="needs serverless_v2_min_capacity 0"):
        AuroraCluster(stack, "A", serverless_v2_min_capacity=0.5, serverless_v2_seconds_until_auto_pause=600, **common)
    with pytest.raises(InvalidConstructProps, match="out of range: allowed 300 to 86400"):
        AuroraCluster(stack, "B", serverless_v2_min_capacity=0, serverless_v2_seconds_until_auto_pause=60, **common)
    ok = AuroraCluster(stack, "C", serverless_v2_min_capacity=0, serverless_v2_seconds_until_auto_pause=300, **common)
    assert not ok.data_api_enabled
    ok.enable_data_api()
    ok.enable_data_api()  # idempotent
    assert ok.data_api_enabled


def test_the_provider_asset_imports_the_bootstrap_handler_without_cdk() -> None:
    import subprocess
    import sys

    from dbscale.constructs._asset import staged_handler_code

    asset = staged_handler_code()
    probe = (
        f"import sys; sys.path.insert(0, {asset!r}); import dbscale.handlers.database_bootstrap as h; "
        f"assert h.__file__.startswith({asset!r}); "
        "assert not any(m.startswith(('aws_cdk', 'jsii', 'pymysql', 'psycopg')) for m in sys.modules); "
        "assert 'botocore.client' not in sys.modules  # no client before the first call"
    )
    subprocess.run([sys.executable, "-I", "-B", "-c", probe], check=True)  # -B: a read-only /var/task


def test_template_unchanged(redshift_template: dict[str, Any]) -> None:
    """The stack's template is the golden one (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("database_bootstrap", {"Warehouse": redshift_template})
