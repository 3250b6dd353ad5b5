"""The example app (app.py): what it synthesizes, its IAM scope, cfn-lint and cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Synthesized, cdk_nag_errors, cfn_lint
from .operations import LOG_DELIVERY_ACTIONS
from .templates import assert_template_unchanged, stack_templates

pytestmark = pytest.mark.slow

STATE_MACHINE = "AWS::StepFunctions::StateMachine"
# Actions with no resource type in IAM, granted on '*' to the provider functions.
NO_RESOURCE_TYPE = {
    "secretsmanager:GetRandomPassword",
    "redshift:DescribeClusters",
    "redshift:DescribeClusterParameterGroups",
    "rds:DescribeDBEngineVersions",
    "rds:DescribeAccountAttributes",
}


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def only(template: dict[str, Any], type_: str) -> dict[str, Any]:
    found = list(resources(template, type_).values())
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def arn_text(value: Any) -> str:
    """An ARN built with Fn::Join rendered as text with ${Pseudo} placeholders."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(arn_text(p) for p in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value)


def test_data_stack_declares_both_clusters_with_secure_defaults(example: Synthesized) -> None:
    t = example.template("DbscaleExample")
    redshift = only(t, "Custom::RedshiftCluster")["Properties"]
    assert redshift["NodeType"] == "ra3.xlplus" and redshift["NumberOfNodes"] == 2
    assert redshift["ClusterIdentifier"].startswith("dbscaleexample-warehouse-")
    assert redshift["PubliclyAccessible"] is False and redshift["Encrypted"] is True
    assert redshift["SkipFinalSnapshot"] is False  # SNAPSHOT is the default removal policy
    assert redshift["Port"] == 5439 and redshift["DBName"] == "dev" and redshift["MasterUsername"] == "admin"
    assert redshift["ServiceTimeout"] == "3600"
    assert {"Key": "project", "Value": "dbscale-example"} in redshift["Tags"]

    aurora = only(t, "Custom::AuroraCluster")["Properties"]
    assert aurora["InstanceClass"] == "db.serverless"
    assert aurora["ServerlessV2MinCapacity"] == 0.5 and aurora["ServerlessV2MaxCapacity"] == 4
    assert aurora["EngineVersion"] == "16" and aurora["Engine"] == "aurora-postgresql"  # the major only
    assert aurora["StorageEncrypted"] is True and aurora["CopyTagsToSnapshot"] is True
    assert aurora["BackupRetentionPeriod"] == 7
    assert "DBClusterParameterGroupName" in aurora and "MasterUsername" not in aurora
    group = only(t, "AWS::RDS::DBClusterParameterGroup")["Properties"]
    assert group["Family"] == "aurora-postgresql16" and group["Parameters"] == {"rds.force_ssl": "1"}


def test_properties_are_only_those_the_handlers_accept(example: Synthesized) -> None:
    import importlib

    from cfnlint.decode import cfn_yaml

    examples = ROOT / "examples"
    for type_, module, stack, raw_template in (
        ("Custom::RedshiftCluster", "dbscale.handlers.redshift_cluster", "DbscaleExample", "raw-cloudformation.yaml"),
        ("Custom::AuroraCluster", "dbscale.handlers.aurora_cluster", "DbscaleExample", "raw-cloudformation.yaml"),
        ("Custom::AuroraClone", "dbscale.handlers.aurora_clone", "DbscaleDevClones", "aurora-clone.yaml"),
        ("Custom::RedshiftCluster", "dbscale.handlers.redshift_cluster", "DbscaleExample", "long-resize.yaml"),
        ("Custom::AuroraClone", "dbscale.handlers.aurora_clone", "DbscaleDevClones", "long-clone.yaml"),
    ):
        handler = importlib.import_module(module)
        allowed = {p.name for p in handler.SCHEMA} | {"ServiceToken", "ServiceTimeout"}
        allowed |= {"CompletionSignalUrl", "CompletionSignalTimeout"}
        required = {p.name for p in handler.SCHEMA if p.required}
        raw = cfn_yaml.load(str(examples / raw_template))
        for where, props in (
            ("construct", only(example.template(stack), type_)["Properties"]),
            ("raw template", only(raw, type_)["Properties"]),
        ):
            sent = set(props)
            assert sent <= allowed, f"{where}: {type_} sends properties the handler refuses: {sorted(sent - allowed)}"
            assert required <= sent, f"{where}: {type_} misses {sorted(required - sent)}"


def test_one_provider_per_type_per_stack(example: Synthesized) -> None:
    t = example.template("DbscaleExample")
    functions = resources(t, "AWS::Lambda::Function")
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == ["dbscale.handlers.aurora_cluster.handler", "dbscale.handlers.redshift_cluster.handler"]
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] >= "python3.12" and props["Runtime"].startswith("python3.1")
        assert props["Architectures"] == ["arm64"] and props["Timeout"] == 900
        assert "VpcConfig" not in props  # it only calls AWS APIs
        assert "LoggingConfig" in props
    retention = {g["Properties"].get("RetentionInDays") for g in resources(t, "AWS::Logs::LogGroup").values()}
    assert 90 in retention


def test_providers_stack_exports_service_tokens(example: Synthesized) -> None:
    t = example.template("DbscaleProviders")
    exports = {o["Export"]["Name"]: o["Value"] for o in t["Outputs"].values() if "Export" in o}
    assert set(exports) == {
        "dbscale-RedshiftClusterServiceToken",
        "dbscale-AuroraClusterServiceToken",
        "dbscale-AuroraCloneServiceToken",
        "dbscale-DatabaseBootstrapServiceToken",
    }
    for value in exports.values():
        assert value["Fn::GetAtt"][1] == "Arn"
    handlers = {f["Properties"]["Handler"] for f in resources(t, "AWS::Lambda::Function").values()}
    assert handlers == {
        "dbscale.handlers.redshift_cluster.handler",
        "dbscale.handlers.aurora_cluster.handler",
        "dbscale.handlers.aurora_clone.handler",
        "dbscale.handlers.database_bootstrap.handler",
    }
    assert not [r for r in t["Resources"].values() if r["Type"].startswith("Custom::")]
    # The standalone providers serve any template in the account: the strict guardrails.
    strict = '{"adopt_prefixes":[],"allow_public_access":false,"allow_tls_off":false,"allow_unencrypted":false}'
    for function in resources(t, "AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["DBSCALE_GUARDRAILS"] == strict


def test_keys_are_rotated_and_retained(example: Synthesized) -> None:
    keys = resources(example.template("DbscaleExample"), "AWS::KMS::Key")
    assert len(keys) == 2
    for key in keys.values():
        assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"
        assert key["Properties"]["EnableKeyRotation"] is True


def test_clusters_use_private_subnets_only(example: Synthesized) -> None:
    t = example.template("DbscaleExample")
    public = {k for k, v in resources(t, "AWS::EC2::Subnet").items() if v["Properties"].get("MapPublicIpOnLaunch")}
    assert public, "the example VPC has public subnets (for the NAT gateway)"
    groups = [
        *resources(t, "AWS::Redshift::ClusterSubnetGroup").values(),
        *resources(t, "AWS::RDS::DBSubnetGroup").values(),
    ]
    assert len(groups) == 2
    for group in groups:
        used = {ref["Ref"] for ref in group["Properties"]["SubnetIds"]}
        assert len(used) == 2 and not used & public


def test_iam_is_scoped_to_the_stacks_clusters(example: Synthesized) -> None:
    t = example.template("DbscaleExample")
    redshift_id = only(t, "Custom::RedshiftCluster")["Properties"]["ClusterIdentifier"]
    aurora_id = only(t, "Custom::AuroraCluster")["Properties"]["ClusterIdentifier"]
    by_sid: dict[str, list[dict[str, Any]]] = {}
    for statement in statements(t):
        by_sid.setdefault(statement.get("Sid", ""), []).append(statement)

    def resources_of(statement: dict[str, Any]) -> list[str]:
        value = statement["Resource"]
        return [arn_text(v) for v in (value if isinstance(value, list) else [value])]

    clusters = {r for s in by_sid["Clusters"] + by_sid["ReadClusters"] for r in resources_of(s)}
    for sid in ("CreateClusters", "DeleteClusters"):  # both engines, conditioned on dbscale's tag
        assert {r for s in by_sid[sid] for r in resources_of(s)} == clusters
        assert all("Condition" in s for s in by_sid[sid])
    assert clusters == {
        f"arn:${{AWS::Partition}}:redshift:${{AWS::Region}}:${{AWS::AccountId}}:cluster:{redshift_id}",
        f"arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:cluster:{aurora_id}",
    }
    for sid in ("CreateInstances", "ChangeInstances"):  # conditioned on the instances' kind tags
        instances = [r for s in by_sid[sid] for r in resources_of(s)]
        assert instances == [f"arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:db:{aurora_id}-*"]
        assert all("Condition" in s for s in by_sid[sid])
    # Only actions IAM cannot scope get '*', and nothing is '*' on both action and resource.
    machine_roles = {m["Properties"]["RoleArn"]["Fn::GetAtt"][0] for m in resources(t, STATE_MACHINE).values()}
    for policy in resources(t, "AWS::IAM::Policy").values():
        of_machine = {r["Ref"] for r in policy["Properties"]["Roles"]} <= machine_roles
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a.endswith(":*") or a == "*" for a in actions)
            if statement["Resource"] == "*":
                # The state machines' roles: Step Functions' log delivery (no resource-level permissions).
                assert set(actions) <= (LOG_DELIVERY_ACTIONS if of_machine else NO_RESOURCE_TYPE), actions
    # The long operations: each provider function runs executions of its own state machine only.
    machines = resources(t, STATE_MACHINE)
    run = [r for s in by_sid["Operations"] for r in resources_of(s)]
    assert sorted(run) == sorted("${" + m + "}" for m in machines) and len(run) == 2
    executions = [r for s in by_sid["OperationExecutions"] for r in resources_of(s)]
    assert all(r.endswith("-operations:*") and ":execution:${" in r for r in executions) and len(executions) == 2
    assert "events:" not in json.dumps([s["Action"] for s in statements(t)])  # no EventBridge poll rules
    kms = [r for s in by_sid["KmsGrantForCluster"] for r in resources_of(s)]
    assert sorted(kms) == sorted("${" + k + ".Arn}" for k in resources(t, "AWS::KMS::Key"))
    # The only role passed is the cluster's Enhanced Monitoring role, and only to RDS monitoring.
    passes = [s for s in statements(t) if "iam:PassRole" in s["Action"]]
    assert [s["Condition"] for s in passes] == [
        {"StringEquals": {"iam:PassedToService": "monitoring.rds.amazonaws.com"}}
    ]
    # Managed policies are not used (AWSLambdaBasicExecutionRole would allow every log group), but
    # for AWS's Enhanced Monitoring policy on the monitoring role.
    for role in resources(t, "AWS::IAM::Role").values():
        for managed in role["Properties"].get("ManagedPolicyArns", []):
            assert arn_text(managed).endswith(":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")


def test_custom_resources_wait_for_the_providers_policy(example: Synthesized) -> None:
    t = example.template("DbscaleExample")
    for type_ in ("Custom::RedshiftCluster", "Custom::AuroraCluster"):
        depends = only(t, type_)["DependsOn"]
        assert any(
            d.startswith("Dbscale") and d.removeprefix("Dbscale").split("ClusterProvider")[1].startswith("Policy")
            for d in depends
        )


def test_asset_holds_the_handler_code_and_nothing_from_cdk(example: Synthesized) -> None:
    t = example.template("DbscaleExample")
    keys = {f["Properties"]["Code"]["S3Key"] for f in resources(t, "AWS::Lambda::Function").values()}
    assert len(keys) == 1, "both providers share one asset"
    asset = example.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    files = sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())
    assert "dbscale/__init__.py" in files and "dbscale/core/validation/values.py" in files
    # Nothing from the CDK or the CLI, no boto3 (the runtime has it), no crhelper (nothing imports it).
    assert not [
        f
        for f in files
        if f.startswith(("dbscale/constructs", "dbscale/cli", "dbscale/deploy", "aws_cdk", "boto3", "botocore", "jsii", "crhelper"))
    ]
    # Code is .py only; the IANA time zone files of tzdata are the one data the schedules need.
    assert not [f for f in files if not f.endswith(".py") and not f.startswith("tzdata/")]
    assert "tzdata/zoneinfo/Europe/Berlin" in files and "dbscale/core/autoscale/schedules.py" in files
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    code = sum(p.stat().st_size for p in asset.rglob("*.py"))
    assert code < 1_200_000, f"the code is {code} bytes"  # ~1.02 MB raw today (158 KB of it CLI-only: advisor, fleet, prices)
    assert size < 2_000_000, f"asset is {size} bytes"  # tzdata adds ~650 KB raw


def test_asset_hash_is_stable_across_synths(example: Synthesized, tmp_path: Path) -> None:
    from .conftest import synthesize

    def providers_only(app: Any) -> None:
        from aws_cdk import Stack

        from dbscale.constructs import RedshiftClusterProvider

        RedshiftClusterProvider.of(Stack(app, "Again"))

    again = synthesize(tmp_path, providers_only)
    key = only(again.template("Again"), "AWS::Lambda::Function")["Properties"]["Code"]["S3Key"]
    first = {
        f["Properties"]["Code"]["S3Key"]
        for f in resources(example.template("DbscaleExample"), "AWS::Lambda::Function").values()
    }
    assert first == {key}


def test_cfn_lint_reports_no_errors(example: Synthesized) -> None:
    examples = ROOT / "examples"
    errors = cfn_lint(
        [
            *example.template_paths(),
            examples / "raw-cloudformation.yaml",
            examples / "aurora-clone.yaml",
            examples / "long-resize.yaml",
            examples / "long-clone.yaml",
        ]
    )
    assert errors == []


def test_cdk_nag_aws_solutions_has_no_unacknowledged_errors(example: Synthesized) -> None:
    assert cdk_nag_errors(example.app) == []


def test_raw_template_imports_both_service_tokens() -> None:
    text = (ROOT / "examples" / "raw-cloudformation.yaml").read_text()
    assert "ServiceToken: !ImportValue dbscale-RedshiftClusterServiceToken" in text
    assert "ServiceToken: !ImportValue dbscale-AuroraClusterServiceToken" in text
    assert "Type: Custom::RedshiftCluster" in text and "Type: Custom::AuroraCluster" in text
    clone = (ROOT / "examples" / "aurora-clone.yaml").read_text()
    assert "ServiceToken: !ImportValue dbscale-AuroraCloneServiceToken" in clone


def test_dev_clones_stack_clones_the_example_cluster(example: Synthesized) -> None:
    t = example.template("DbscaleDevClones")
    source = only(example.template("DbscaleExample"), "Custom::AuroraCluster")["Properties"]["ClusterIdentifier"]
    clone = only(t, "Custom::AuroraClone")["Properties"]
    assert clone["SourceClusterId"] == source and clone["CopyOk"] is True and clone["MaxCopyAgeHours"] == 48
    pool = next(
        f["Properties"]
        for f in resources(t, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "dbscale.handlers.clone_pool.handler"
    )
    assert pool["Environment"]["Variables"]["SOURCE_CLUSTER_ID"] == source


def test_template_unchanged(example: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("example", stack_templates(example))
