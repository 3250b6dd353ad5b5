"""The TagAutoscaler construct: function, schedule, policy document, IAM conditioned on the tag, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dbscale.core.autoscale import (
    DRY_RUN_ENV,
    POLICIES_PARAMETER_ENV,
    TAG_KEY_ENV,
    AutoscalePolicy,
    parse_policies,
)

from .conftest import Synthesized, cdk_nag_errors, cfn_lint, synthesize
from .iam_policies import allowed
from .test_autoscaler import arn, of_type, only, resources_of, statements

pytestmark = pytest.mark.slow

POLICIES = {
    "standard": AutoscalePolicy(redshift_max_nodes=8, evaluation_interval_minutes=10),
    "frugal": AutoscalePolicy(
        redshift_max_nodes=4,
        aurora_instance_classes=("db.r6g.large", "db.r6g.xlarge"),
        resume_catalog="sales",
        evaluation_interval_minutes=5,
    ),
}


def build(app: Any) -> None:
    from aws_cdk import Stack

    from dbscale.constructs import TagAutoscaler

    TagAutoscaler(Stack(app, "Tagged"), "TagAutoscaler", policies=POLICIES)
    TagAutoscaler(
        Stack(app, "Shared"),
        "TagAutoscaler",
        policies_parameter_name="/org/dbscale/policies",
        tag_key="autoscale",
        dry_run=True,
    )


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("tag-autoscaler"), build)


def listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_the_function_runs_the_tag_handler_on_a_schedule(synth: Synthesized) -> None:
    t = synth.template("Tagged")
    fn = only(t, "AWS::Lambda::Function", "TagAutoscalerFunction")["Properties"]
    assert fn["Handler"] == "dbscale.handlers.tag_autoscaler.handler" and fn["ReservedConcurrentExecutions"] == 1
    assert fn["Timeout"] == 300
    env = fn["Environment"]["Variables"]
    assert env[TAG_KEY_ENV] == "dbscale:autoscale" and env[DRY_RUN_ENV] == "false"
    assert env[POLICIES_PARAMETER_ENV] == {"Ref": next(iter(of_type(t, "AWS::SSM::Parameter")))}
    rule = only(t, "AWS::Events::Rule", "TagAutoscaler")["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"  # the shortest interval of the policies
    assert "EventPattern" not in rule


def test_the_policy_document_is_an_ssm_parameter_the_handler_reads_back(synth: Synthesized) -> None:
    t = synth.template("Tagged")
    parameter = only(t, "AWS::SSM::Parameter")["Properties"]
    assert parse_policies(parameter["Value"], parameter="p") == POLICIES
    assert parameter["Tier"] == "Standard"
    shared = synth.template("Shared")
    assert of_type(shared, "AWS::SSM::Parameter") == {}
    env = only(shared, "AWS::Lambda::Function", "TagAutoscalerFunction")["Properties"]["Environment"]["Variables"]
    assert env[POLICIES_PARAMETER_ENV] == "/org/dbscale/policies" and env[TAG_KEY_ENV] == "autoscale"
    assert env[DRY_RUN_ENV] == "true"


def test_changes_are_allowed_only_on_clusters_carrying_the_tag_key(synth: Synthesized) -> None:
    s = statements(synth.template("Tagged"), "TagAutoscaler")
    tagged = {"Null": {"aws:ResourceTag/dbscale:autoscale": "false"}}
    for sid, service in (("RedshiftTaggedClusters", "redshift"), ("AuroraTaggedClusters", "rds")):
        assert s[sid]["Condition"] == tagged and resources_of(s[sid]) == [arn(service, "cluster:*")]
    assert "redshift:ResizeCluster" in s["RedshiftTaggedClusters"]["Action"]
    assert "rds:StopDBCluster" in s["AuroraTaggedClusters"]["Action"]
    assert resources_of(s["State"]) == [arn("ssm", "parameter/dbscale/autoscaler/tagged/*")]
    assert s["PerClusterState"]["Action"] == "ssm:GetParameters"
    assert resources_of(s["AthenaSpend"]) == [arn("athena", "workgroup/primary")]
    flat = [{**st, "Resource": resources_of(st)} for st in s.values()]
    cluster = arn("redshift", "cluster:warehouse")
    assert allowed(flat, "redshift:ResizeCluster", cluster, resource_tags={"dbscale:autoscale": "standard"})
    assert not allowed(flat, "redshift:ResizeCluster", cluster, resource_tags={"team": "x"})
    assert not allowed(flat, "rds:ModifyDBCluster", arn("rds", "cluster:orders"))
    for statement in s.values():
        if resources_of(statement) == ["*"]:
            assert set(listed(statement["Action"])) <= {
                "cloudwatch:GetMetricData",
                "cloudwatch:PutMetricData",
                "redshift:DescribeClusters",
            }


def test_a_dry_run_tag_autoscaler_may_not_change_anything(synth: Synthesized) -> None:
    s = statements(synth.template("Shared"), "TagAutoscaler")
    mutating = {
        a
        for statement in s.values()
        for a in listed(statement["Action"])
        if a.split(":")[1].startswith(("Resize", "Pause", "Resume", "Modify", "Start", "Stop", "Create", "Delete"))
    }
    assert mutating == set()
    reads = [a for st in s.values() for a in listed(st["Action"]) if a.startswith("ssm:GetParameter")]
    assert reads  # the existing document is readable
    doc = json.dumps(list(s.values()))
    assert "org/dbscale/policies" in doc


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    assert cfn_lint(synth.template_paths()) == []


def test_cdk_nag_aws_solutions_has_no_unacknowledged_errors(synth: Synthesized) -> None:
    assert cdk_nag_errors(synth.app, only_under="TagAutoscaler") == []


def test_bad_props_fail_at_synth(scratch: Any) -> None:
    from dbscale.constructs import InvalidConstructProps, TagAutoscaler

    stack, _ = scratch
    with pytest.raises(InvalidConstructProps, match="one of them"):
        TagAutoscaler(stack, "Neither")
    with pytest.raises(InvalidConstructProps, match="one of them"):
        TagAutoscaler(stack, "Both", policies=POLICIES, policies_parameter_name="/p")
    with pytest.raises(InvalidConstructProps, match="redshift_query_checks"):
        TagAutoscaler(stack, "Query", policies={"q": AutoscalePolicy(redshift_query_checks=True)})
    with pytest.raises(InvalidConstructProps, match="tag value"):
        TagAutoscaler(stack, "Name", policies={"bad*name": AutoscalePolicy()})
    with pytest.raises(InvalidConstructProps) as err:
        TagAutoscaler(stack, "Key", policies=POLICIES, tag_key="aws:autoscale")
    assert err.value.field == "tag_key"
