"""examples/telemetry/app.py: it synthesizes offline, passes cfn-lint and cdk-nag, declares what the
issue asks for, and what it sends the handlers is what they accept."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from typing import Any

import pytest

from tests.constructs.conftest import Synthesized, cdk_nag_errors, cfn_lint, synthesize

from .conftest import TELEMETRY

pytestmark = pytest.mark.slow
STACK = "DbscaleTelemetry"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    spec = importlib.util.spec_from_file_location("telemetry_app", TELEMETRY / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return synthesize(tmp_path_factory.mktemp("telemetry"), module.build_app)


@pytest.fixture(scope="module")
def template(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.template(STACK)


def of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def one(template: dict[str, Any], type_: str) -> dict[str, Any]:
    found = list(of_type(template, type_).values())
    assert len(found) == 1, f"{len(found)} {type_}"
    return found[0]


def test_aurora_mysql_serverless_with_auto_pause_and_the_data_api(template: dict[str, Any]) -> None:
    cluster = one(template, "Custom::AuroraCluster")["Properties"]
    assert cluster["Engine"] == "aurora-mysql" and cluster["InstanceClass"] == "db.serverless"
    assert cluster["ServerlessV2MinCapacity"] == 0 and cluster["ServerlessV2MaxCapacity"] == 4
    assert cluster["ServerlessV2SecondsUntilAutoPause"] == 600
    assert cluster["EnableHttpEndpoint"] is True
    assert cluster["SkipFinalSnapshot"] is False  # `cdk destroy` keeps a final snapshot unless told
    # Everything networked is created by the stack: no looked-up VPC, subnets or security groups.
    assert len(of_type(template, "AWS::EC2::VPC")) == 1
    assert not of_type(template, "AWS::EC2::NatGateway")


def test_bootstrap_carries_the_migrations_and_a_user_whose_password_is_generated(template: dict[str, Any]) -> None:
    bootstrap = one(template, "Custom::DatabaseBootstrap")["Properties"]
    files = sorted(p.name for p in (TELEMETRY / "sql" / "migrations").glob("*.sql"))
    assert [m["Name"] for m in bootstrap["Migrations"]] == files
    assert bootstrap["Users"][0]["Name"] == "app"
    assert bootstrap["Users"][0]["Grants"] == ["SELECT, INSERT ON telemetry.*"]
    secret = one(template, "AWS::SecretsManager::Secret")["Properties"]
    generated = secret["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "password" and generated["ExcludePunctuation"] is True
    text = json.dumps(template)
    assert '"password"' not in json.dumps(generated["SecretStringTemplate"])
    shape = "".join(p if isinstance(p, str) else "X" for p in generated["SecretStringTemplate"]["Fn::Join"][1])
    assert json.loads(shape.replace('"host":"X"', '"host":"h"').replace('"port":X', '"port":1')) == {
        "engine": "mysql",
        "host": "h",
        "port": 1,
        "username": "app",
        "dbname": "telemetry",
    }
    assert "IDENTIFIED BY" not in text


def test_properties_are_those_the_handlers_accept(template: dict[str, Any]) -> None:
    from dbscale.cfn import Request
    from dbscale.cfn.schema import parse
    from dbscale.handlers import aurora_cluster, database_bootstrap
    from tests.e2e.harness import stringify

    def resolved(value: Any) -> Any:  # tokens become plausible literals
        if isinstance(value, dict) and ("Fn::GetAtt" in value or "Ref" in value):
            name = value.get("Fn::GetAtt", [value.get("Ref"), ""])[1]
            if name == "ClusterArn":
                return "arn:aws:rds:us-east-1:123456789012:cluster:dbscaletelemetry-database"
            return "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"
        if isinstance(value, list):
            return [resolved(v) for v in value]
        if isinstance(value, dict):
            return {k: resolved(v) for k, v in value.items()}
        return value

    bootstrap = stringify(resolved(one(template, "Custom::DatabaseBootstrap")["Properties"]))
    event = {
        "RequestType": "Create",
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "Schema",
        "ResourceProperties": bootstrap,
    }
    parsed = database_bootstrap.DatabaseBootstrapResource().parse(Request.from_event(event))
    assert [m.name for m in parsed["Migrations"]] == ["001_schema.sql", "002_tables.sql"]
    cluster = one(template, "Custom::AuroraCluster")["Properties"]
    assert set(stringify(cluster)) - {"ServiceToken", "ServiceTimeout"} <= {p.name for p in aurora_cluster.SCHEMA}
    parse(aurora_cluster.SCHEMA, {k: v for k, v in stringify(cluster).items() if isinstance(v, str)})


def test_ingest_function_is_in_the_vpc_behind_an_iam_function_url(template: dict[str, Any]) -> None:
    functions = of_type(template, "AWS::Lambda::Function")
    ingest = next(f for f in functions.values() if f["Properties"]["Handler"] == "telemetry_ingest.handler")
    props = ingest["Properties"]
    assert props["VpcConfig"]["SubnetIds"] and props["ReservedConcurrentExecutions"] == 10
    assert set(props["Environment"]["Variables"]) == {"CLUSTER_ARN", "SECRET_ARN", "DATABASE"}
    assert one(template, "AWS::Lambda::Url")["Properties"]["AuthType"] == "AWS_IAM"
    endpoint = one(template, "AWS::EC2::VPCEndpoint")["Properties"]
    assert "rds-data" in json.dumps(endpoint["ServiceName"])
    # The bootstrap provider is not in the VPC (the Data APIs are public endpoints) and may only run
    # statements on this cluster and read these two secrets.
    statements = [
        s
        for name, p in of_type(template, "AWS::IAM::Policy").items()
        if name.startswith("DbscaleDatabaseBootstrapProviderRoleDefaultPolicy")
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["RdsDataApi"]["Action"] == "rds-data:ExecuteStatement"
    assert by_sid["RdsDataApi"]["Resource"] == {
        "Fn::GetAtt": [next(iter(of_type(template, "Custom::AuroraCluster"))), "ClusterArn"]
    }
    assert len(by_sid["DatabaseSecrets"]["Resource"]) == 2
    assert not any(s["Resource"] == "*" for s in statements)


def test_dashboard_shows_ingest_and_cluster_metrics(template: dict[str, Any]) -> None:
    body = json.dumps(one(template, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for metric in ("Invocations", "Errors", "Throttles", "Duration", "ServerlessDatabaseCapacity", "DMLLatency"):
        assert metric in body


def test_ingest_asset_runs_without_cdk(synthesized: Synthesized, template: dict[str, Any]) -> None:
    functions = of_type(template, "AWS::Lambda::Function")
    ingest = next(f for f in functions.values() if f["Properties"]["Handler"] == "telemetry_ingest.handler")
    key = ingest["Properties"]["Code"]["S3Key"]
    asset = synthesized.outdir / f"asset.{key.split('.')[0]}"
    names = sorted(str(p.relative_to(asset)) for p in asset.rglob("*.py"))
    assert "telemetry_ingest.py" in names and "dbscale/core/bootstrap/executors.py" in names
    assert not any(n.startswith("dbscale/constructs") or n.startswith("dbscale/handlers") for n in names)
    probe = (
        f"import sys; sys.path.insert(0, {str(asset)!r}); import telemetry_ingest, dbscale; "
        f"assert dbscale.__file__.startswith({str(asset)!r}), dbscale.__file__; "
        "assert not any(m.startswith(('aws_cdk', 'jsii', 'pymysql')) for m in sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-I", "-B", "-c", probe], cwd=asset, check=True)  # -B: a read-only /var/task


def test_cfn_lint_and_cdk_nag_are_clean(synthesized: Synthesized) -> None:
    assert cfn_lint([synthesized.outdir / f"{STACK}.template.json"]) == []
    assert cdk_nag_errors(synthesized.app) == []


def test_readme_states_the_cost_per_hour() -> None:
    readme = (TELEMETRY / "README.md").read_text()
    assert "per hour" in readme and "$" in readme
