"""LongOperations: a wait condition per change, attributes read from its signal, cfn-lint clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Synthesized, cfn_lint, synthesize

pytestmark = pytest.mark.slow


def build(app: Any, nodes: int = 2) -> None:
    from aws_cdk import Duration, Stack
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_ssm as ssm

    from dbscale.constructs import AuroraCluster, LongOperations, RedshiftCluster

    stack = Stack(app, "Long")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    warehouse = RedshiftCluster(
        stack,
        "Warehouse",
        vpc=vpc,
        node_type="ra3.xlplus",
        number_of_nodes=nodes,
        resize_type="classic",
        long_operations=LongOperations(timeout=Duration.hours(12)),
    )
    AuroraCluster(
        stack, "Orders", vpc=vpc, instance_class="db.r6g.large", long_operations=LongOperations(Duration.hours(3))
    )
    # A resource that uses an attribute: it must wait for the finished operation.
    ssm.StringParameter(stack, "Endpoint", string_value=warehouse.cluster_endpoint.hostname)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("long"), build)


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_each_cluster_gets_a_handle_and_a_condition_with_its_timeout(synthesized: Synthesized) -> None:
    template = synthesized.template("Long")
    handles = of_type(template, "AWS::CloudFormation::WaitConditionHandle")
    conditions = of_type(template, "AWS::CloudFormation::WaitCondition")
    assert len(handles) == 2 and len(conditions) == 2
    assert sorted(c["Properties"]["Timeout"] for c in conditions.values()) == ["10800", "43200"]
    redshift = next(v for v in template["Resources"].values() if v["Type"] == "Custom::RedshiftCluster")
    handle_ref = redshift["Properties"]["CompletionSignalUrl"]["Ref"]
    assert handle_ref in handles
    assert redshift["Properties"]["CompletionSignalTimeout"] == "43200"
    condition = next(c for c in conditions.values() if c["Properties"]["Handle"] == {"Ref": handle_ref})
    assert condition["Properties"]["Count"] == 1
    assert any(d.startswith("Warehouse") for d in condition["DependsOn"])


def test_attribute_users_wait_for_the_condition(synthesized: Synthesized) -> None:
    template = synthesized.template("Long")
    parameter = next(v for v in template["Resources"].values() if v["Type"] == "AWS::SSM::Parameter")
    text = str(parameter["Properties"]["Value"])
    assert "Data" in text and "WarehouseCompletion" in text and "Endpoint.Address" in text


def test_a_change_gets_a_fresh_wait_condition(synthesized: Synthesized, tmp_path: Path) -> None:
    before = set(of_type(synthesized.template("Long"), "AWS::CloudFormation::WaitCondition"))
    after = set(of_type(synthesize(tmp_path, lambda app: build(app, nodes=3)).template("Long"), "AWS::CloudFormation::WaitCondition"))
    assert len(before - after) == 1 and len(after - before) == 1  # the Redshift one is new, Aurora's kept


def test_cfn_lint_is_clean(synthesized: Synthesized) -> None:
    assert cfn_lint(synthesized.template_paths()) == []


def test_timeout_over_twelve_hours_is_refused() -> None:
    from datetime import timedelta

    from dbscale.constructs import LongOperations

    with pytest.raises(ValueError, match="12 hours"):
        LongOperations(timedelta(hours=13)).seconds()
    assert LongOperations(timedelta(minutes=90)).seconds() == 5400


def test_long_operations_without_waiting_fail_at_synth(tmp_path: Path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2

    from dbscale.constructs import InvalidConstructProps, LongOperations, RedshiftCluster

    stack = Stack(App(outdir=str(tmp_path)), "NoWait")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    with pytest.raises(InvalidConstructProps, match="wait_for_completion"):
        RedshiftCluster(
            stack,
            "Warehouse",
            vpc=vpc,
            node_type="ra3.xlplus",
            number_of_nodes=2,
            wait_for_completion=False,
            long_operations=LongOperations(),
        )
