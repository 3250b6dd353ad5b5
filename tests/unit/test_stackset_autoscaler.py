"""``dbscale providers deploy --stackset ... --autoscale-policies FILE``: the tag autoscaler in every
account and region with the providers, its policies declared once (StackSet parameters), on moto and
the StackSets fake; without the option the StackSet is the providers' alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from dbscale.core.autoscale import AutoscalePolicy, parse_policies, policies_document
from dbscale.core.errors import InvalidRequest
from dbscale.deploy import build_bundle
from dbscale.deploy.autoscaler_template import (
    POLICY_PARAMETERS,
    SCHEDULE_PARAMETER,
    TIER_PARAMETER,
    check_autoscale_policies,
    compact_document,
)
from dbscale.deploy.bundle import Bundle
from dbscale.deploy.stackset import StackSetDeployment
from dbscale.deploy.stackset_template import stackset_parameters, stackset_template
from dbscale.deploy.template import render_template
from tests.cli_runner import dbscale
from tests.fakes import FakeClock
from tests.fakes.stackset_responses import STACKSETS
from tests.unit.test_deploy_stackset import HOME, REGIONS, deployment, make_organization

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..Lambda..EventInvokeConfig")
POLICIES = {
    "standard": AutoscalePolicy(redshift_max_nodes=8, evaluation_interval_minutes=10),
    "frugal": AutoscalePolicy(redshift_max_nodes=4, resume_catalog="sales", evaluation_interval_minutes=3),
}
HANDLER = "dbscale.handlers.tag_autoscaler.handler"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return build_bundle()


@pytest.fixture
def organization(boto_session: boto3.Session) -> dict[str, Any]:
    return make_organization(boto_session)


def described(session: boto3.Session) -> dict[str, Any]:
    return dict(session.client("cloudformation").describe_stack_set(StackSetName="dbscale-providers")["StackSet"])


def parameters_of(stack_set: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Parameters"]}


def document_of(parameters: dict[str, str]) -> str:
    return "".join(parameters[name] for name in POLICY_PARAMETERS)


def test_without_policies_the_stack_set_template_is_the_providers_alone() -> None:
    plain = stackset_template()
    providers = render_template()
    assert set(plain["Resources"]) == set(providers["Resources"]) and plain["Outputs"] == providers["Outputs"]
    assert plain["Description"] == providers["Description"]
    assert sorted(plain["Parameters"]) == ["CodeBucketPrefix", "CodeKey"]
    assert len(stackset_parameters("b", "k")) == 2
    merged = stackset_template(autoscale_policies=POLICIES)
    added = set(merged["Resources"]) - set(plain["Resources"])
    assert {merged["Resources"][k]["Type"] for k in added} == {
        "AWS::SSM::Parameter",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Lambda::Function",
        "AWS::Events::Rule",
        "AWS::Lambda::Permission",
    }
    assert all(merged["Resources"][k] == v for k, v in plain["Resources"].items())


def test_the_athena_grant_follows_the_policies_workgroups() -> None:
    def athena(policies: dict[str, AutoscalePolicy]) -> list[Any]:
        template = stackset_template(autoscale_policies=policies)
        return [
            s["Resource"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy"
            for s in r["Properties"]["PolicyDocument"]["Statement"]
            if s.get("Sid") == "AthenaSpend"
        ]

    assert athena({"plain": AutoscalePolicy()}) == []
    (one,) = athena(POLICIES)
    assert json.dumps(one).endswith(':workgroup/primary"]]}')
    two = {**POLICIES, "bi": AutoscalePolicy(resume_catalog="bi", resume_workgroup="bi-wg")}
    (both,) = athena(two)
    assert [json.dumps(a).endswith(end) for a, end in zip(both, ('/bi-wg"]]}', '/primary"]]}'), strict=True)] == [
        True,
        True,
    ]
    assert "qqdbscale" not in json.dumps(stackset_template(autoscale_policies=two))


def test_deploy_puts_the_autoscaler_into_every_instance_with_the_policies_declared_once(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    made = deployment(boto_session)
    result = made.deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle, autoscale_policies=POLICIES)
    assert result.created and not result.failed and result.instances == 6
    for instance in (i for s in STACKSETS.sets.values() for i in s.instances.values()):
        assert instance.status == "CURRENT"
        assert {"AWS::Events::Rule", "AWS::SSM::Parameter"} <= set(instance.resources.values())
    stack_set = described(boto_session)
    template, values = json.loads(stack_set["TemplateBody"]), parameters_of(stack_set)
    assert parse_policies(document_of(values), parameter="p") == POLICIES
    assert values[TIER_PARAMETER] == "Standard" and values[SCHEDULE_PARAMETER] == "rate(3 minutes)"
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    tagged = [f for f in functions if f["Handler"] == HANDLER]
    assert len(functions) == 5 and len(tagged) == 1
    assert tagged[0]["Code"] == {
        "S3Bucket": {"Fn::Sub": "${CodeBucketPrefix}-${AWS::Region}"},
        "S3Key": {"Ref": "CodeKey"},
    }
    again = made.deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle, autoscale_policies=POLICIES)
    assert not again.updated  # same policies: nothing to update
    fewer = {"standard": POLICIES["standard"]}
    changed = made.deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle, autoscale_policies=fewer)
    assert (
        changed.updated and parse_policies(document_of(parameters_of(described(boto_session))), parameter="p") == fewer
    )
    dropped = made.deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    assert dropped.updated and sorted(parameters_of(described(boto_session))) == ["CodeBucketPrefix", "CodeKey"]
    assert any("tag autoscaler is removed" in note for note in dropped.notes)


def test_a_document_over_4_kb_is_split_over_two_parameters_in_an_advanced_parameter_that_stays_advanced(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    many = {f"policy-{n:03d}": AutoscalePolicy(redshift_max_nodes=2 + n % 8, cooldown_minutes=n) for n in range(120)}
    assert 4096 < len(compact_document(many)) <= 8192 < len(policies_document(many))
    made = deployment(boto_session)
    result = made.deploy(ous=organization["ous"][:1], regions=REGIONS[:1], bundle=bundle, autoscale_policies=many)
    assert not result.failed, result.failed
    values = parameters_of(described(boto_session))
    assert len(values[POLICY_PARAMETERS[0]]) == 4096 and values[POLICY_PARAMETERS[1]]
    assert values[TIER_PARAMETER] == "Advanced" and parse_policies(document_of(values), parameter="p") == many
    made.deploy(ous=organization["ous"][:1], regions=REGIONS[:1], bundle=bundle, autoscale_policies=POLICIES)
    values = parameters_of(described(boto_session))
    assert values[POLICY_PARAMETERS[1]] == "" and values[TIER_PARAMETER] == "Advanced"  # SSM never downgrades
    too_many = {f"policy-{n:03d}": AutoscalePolicy(redshift_max_nodes=2 + n % 8) for n in range(250)}
    with pytest.raises(InvalidRequest, match="over the 8192 bytes"):
        check_autoscale_policies(too_many, where="autoscale_policies")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"std": {"nodes": 3}}', "['std']: policy has unknown keys: nodes"),
        ('{"std": {"redshift_query_checks": true}}', "['std'] sets redshift_query_checks"),
        ('{"std": {"redshift_max_nodes": 0}}', "['std']: redshift_min_nodes (2) is greater"),
        ('{"bad,name": {}}', "a policy name must be a tag value"),
        ("{}", "non-empty JSON object"),
        ("not json", "is not JSON"),
        (None, "cannot read it"),
    ],
)
def test_a_bad_policy_file_is_refused_before_any_aws_call_naming_the_file_and_the_key(
    boto_session: boto3.Session,
    aws_calls: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / "policies.json"
    if content is not None:
        path.write_text(content)
    args = ["providers", "deploy", "--stackset", "dbscale-providers", "--ous", "ou-ab12-cd34ef56"]
    code, _, err = dbscale(capsys, "--region", HOME, *args, "--regions", "us-east-1", "--autoscale-policies", str(path))
    assert code == 2 and message in " ".join(err.split()), err
    assert f"--autoscale-policies {path}" in " ".join(err.split()).replace("\n", "")
    assert aws_calls.count() == 0


def test_the_cli_deploys_the_autoscaler_from_a_policy_file(
    boto_session: boto3.Session,
    organization: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(StackSetDeployment.__init__.__kwdefaults__, "clock", FakeClock())
    path = tmp_path / "policies.json"
    path.write_text(json.dumps({"standard": {"redshift_max_nodes": 8, "evaluation_interval_minutes": 10}}))
    args = ["providers", "deploy", "--stackset", "dbscale-providers", "--ous", ",".join(organization["ous"])]
    code, out, err = dbscale(
        capsys, "--region", HOME, *args, "--regions", ",".join(REGIONS), "--autoscale-policies", str(path)
    )
    assert code == 0 and "0 not current" in out, err
    values = parameters_of(described(boto_session))
    assert parse_policies(document_of(values), parameter="p") == {"standard": POLICIES["standard"]}
    assert values[SCHEDULE_PARAMETER] == "rate(10 minutes)"
    instances = [i for s in STACKSETS.sets.values() for i in s.instances.values()]
    assert len(instances) == 6 and all("AWS::Events::Rule" in i.resources.values() for i in instances)
    code, _, err = dbscale(capsys, "--region", HOME, "providers", "deploy", "--autoscale-policies", str(path))
    assert code == 2 and "--stackset" in err
