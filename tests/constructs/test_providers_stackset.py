"""``ProvidersStackSet``: a service-managed StackSet of the providers' template that synthesizes and
lints clean (cfn-lint on both templates, every cdk-nag pack), refuses bad props at synth time and
exports the names of ``ProvidersStack``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbscale.constructs import InvalidConstructProps, ProvidersStackSet
from dbscale.core.autoscale import AutoscalePolicy, parse_policies
from dbscale.deploy import EXPORT_NAMES, build_bundle
from dbscale.deploy.stackset_template import OperationPreferences

from .conftest import Synthesized, cdk_nag_errors, cfn_lint, synthesize

pytestmark = pytest.mark.slow
OUS = ["ou-ab12-cd34ef56", "r-ab12"]
REGIONS = ["eu-west-1", "us-east-1"]
NAG_PACKS = (
    "AwsSolutionsChecks",
    "HIPAASecurityChecks",
    "NIST80053R5Checks",
    "PCIDSS321Checks",
    "ServerlessChecks",
)
POLICIES = {"standard": AutoscalePolicy(redshift_max_nodes=8, resume_catalog="sales", evaluation_interval_minutes=10)}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from aws_cdk import Environment, Stack

    def build(app: Any) -> None:
        pinned = Stack(app, "Org", env=Environment(account="111111111111", region="us-east-1"))
        ProvidersStackSet(pinned, "Providers", organizational_unit_ids=OUS, regions=REGIONS)
        agnostic = Stack(app, "Agnostic")
        ProvidersStackSet(
            agnostic,
            "Providers",
            organizational_unit_ids=["ou-ab12-cd34ef56"],
            regions=["eu-central-1"],
            call_as="DELEGATED_ADMIN",
            retain_stacks_on_account_removal=False,
            operation_preferences=OperationPreferences(
                failure_tolerance_percentage=10, region_concurrency="SEQUENTIAL"
            ),
        )
        autoscaled = Stack(app, "Autoscaled", env=Environment(account="111111111111", region="us-east-1"))
        ProvidersStackSet(
            autoscaled, "Providers", organizational_unit_ids=OUS, regions=REGIONS, autoscale_policies=POLICIES
        )

    return synthesize(tmp_path_factory.mktemp("stackset"), build)


def _stack_set(template: dict[str, Any]) -> dict[str, Any]:
    found = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFormation::StackSet"]
    assert len(found) == 1
    return dict(found[0]["Properties"])


def _asset_template(synth: Synthesized, stack: str) -> tuple[Path, dict[str, Any]]:
    url = json.dumps(_stack_set(synth.template(stack))["TemplateURL"])
    name = url.rsplit("/", 1)[-1].split('"')[0]
    path = synth.outdir / f"asset.{name}"
    return path, json.loads(path.read_text())


def test_the_stack_set_is_service_managed_with_automatic_deployment_over_the_ous(synth: Synthesized) -> None:
    properties = _stack_set(synth.template("Org"))
    assert properties["PermissionModel"] == "SERVICE_MANAGED" and properties["CallAs"] == "SELF"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    assert properties["StackInstancesGroup"] == [
        {"DeploymentTargets": {"OrganizationalUnitIds": OUS}, "Regions": REGIONS}
    ]
    assert properties["Capabilities"] == ["CAPABILITY_IAM"] and properties["ManagedExecution"] == {"Active": True}
    assert properties["OperationPreferences"] == {
        "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        "FailureTolerancePercentage": 0,
        "MaxConcurrentPercentage": 25,
        "RegionConcurrencyType": "PARALLEL",
    }
    assert {p["ParameterKey"]: p["ParameterValue"] for p in properties["Parameters"]} == {
        "CodeBucketPrefix": "dbscale-providers-111111111111",
        "CodeKey": build_bundle().s3_key,
    }
    assert "TemplateBody" not in properties  # ~52 KB: over the 51,200-byte limit of an inline body
    other = _stack_set(synth.template("Agnostic"))
    assert other["CallAs"] == "DELEGATED_ADMIN" and other["AutoDeployment"]["RetainStacksOnAccountRemoval"] is False
    assert other["OperationPreferences"]["RegionConcurrencyType"] == "SEQUENTIAL"
    prefix = next(p["ParameterValue"] for p in other["Parameters"] if p["ParameterKey"] == "CodeBucketPrefix")
    assert "AWS::AccountId" in json.dumps(prefix)  # the deploying account, resolved by CloudFormation


def test_the_stack_set_template_exports_the_names_of_providers_stack_and_reads_code_per_region(
    synth: Synthesized,
) -> None:
    _, template = _asset_template(synth, "Org")
    assert len(json.dumps(template, separators=(",", ":")).encode()) > 51_200
    assert sorted(o["Export"]["Name"] for o in template["Outputs"].values()) == sorted(EXPORT_NAMES.values())
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 4
    for function in functions:
        assert function["Code"] == {
            "S3Bucket": {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
            "S3Key": {"Ref": "CodeKey"},
        }


def test_the_tag_autoscaler_is_in_the_template_only_when_asked_its_policies_a_parameter(synth: Synthesized) -> None:
    _, plain = _asset_template(synth, "Org")
    _, template = _asset_template(synth, "Autoscaled")
    handlers = [
        r["Properties"]["Handler"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    assert "dbscale.handlers.tag_autoscaler.handler" in handlers and len(handlers) == 5
    assert not [r for r in plain["Resources"].values() if r["Type"] in ("AWS::Events::Rule", "AWS::SSM::Parameter")]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in _stack_set(synth.template("Autoscaled"))["Parameters"]}
    document = values["AutoscalePolicies"] + values["AutoscalePoliciesMore"]
    assert parse_policies(document, parameter="p") == POLICIES
    assert values["AutoscalePoliciesTier"] == "Standard" and values["AutoscaleSchedule"] == "rate(10 minutes)"
    assert set(template["Parameters"]) == set(values)


def test_both_templates_lint_clean(synth: Synthesized) -> None:
    path, _ = _asset_template(synth, "Org")
    autoscaled, _ = _asset_template(synth, "Autoscaled")
    assert cfn_lint([*synth.template_paths(), path, autoscaled]) == []


def test_every_cdk_nag_pack_is_clean(synth: Synthesized) -> None:
    assert cdk_nag_errors(synth.app) == []
    cdk_nag = pytest.importorskip("cdk_nag")
    for pack in NAG_PACKS:
        report = getattr(cdk_nag, pack)(synth.app).validate_scope(synth.app)
        errors = [f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations]
        assert errors == [], pack


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"organizational_unit_ids": ["ou-1"]}, "organizational_unit_ids"),
        ({"organizational_unit_ids": []}, "at least one organizational unit"),
        ({"regions": ["Frankfurt"]}, "regions"),
        ({"stack_set_name": "9lives"}, "StackSet name"),
        ({"call_as": "ADMIN"}, "--call-as"),
        ({"cluster_identifier_prefix": "Bad_"}, "prefix"),
        ({"operation_preferences": OperationPreferences(failure_tolerance_percentage=101)}, "failure_tolerance"),
        ({"autoscale_policies": {"q": AutoscalePolicy(redshift_query_checks=True)}}, r"autoscale_policies\['q'\] sets"),
        ({"autoscale_policies": {"bad,name": AutoscalePolicy()}}, "autoscale_policies.*tag value"),
        ({"autoscale_policies": {}}, "autoscale_policies must be a non-empty"),
    ],
)
def test_bad_props_are_refused_at_synth_time(kwargs: dict[str, Any], message: str) -> None:
    from aws_cdk import App, Stack

    props: dict[str, Any] = {"organizational_unit_ids": OUS, "regions": REGIONS, "code_key": "k.zip", **kwargs}
    with pytest.raises(InvalidConstructProps, match=message) as refused:
        ProvidersStackSet(Stack(App(), "S"), "Providers", **props)
    assert str(refused.value).startswith("S/Providers: ")


def test_ous_and_regions_known_only_at_deploy_time_are_not_checked() -> None:
    from aws_cdk import App, CfnParameter, Stack

    stack = Stack(App(), "S")
    ous = CfnParameter(stack, "Ous", type="CommaDelimitedList").value_as_list
    regions = CfnParameter(stack, "Regions", type="CommaDelimitedList").value_as_list
    made = ProvidersStackSet(stack, "Providers", organizational_unit_ids=ous, regions=regions, code_key="k.zip")
    assert made.code_key == "k.zip"
