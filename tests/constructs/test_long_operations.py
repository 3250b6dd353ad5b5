"""LongOperations: a wait condition per change, attributes read from its signal, cfn-lint clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Synthesized, cfn_lint, synthesize
from .templates import assert_template_unchanged, stack_templates

pytestmark = pytest.mark.slow


def build(app: Any, nodes: int = 2) -> None:
    from aws_cdk import Duration, Stack, Tokenization
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_ssm as ssm

    from dbscale.constructs import AuroraClone, AuroraCluster, LongOperations, RedshiftCluster

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
    orders = AuroraCluster(
        stack, "Orders", vpc=vpc, instance_class="db.r6g.large", long_operations=LongOperations(Duration.hours(3))
    )
    # A resource that uses an attribute: it must wait for the finished operation.
    ssm.StringParameter(stack, "Endpoint", string_value=warehouse.cluster_endpoint.hostname)
    # A copy-first clone: its endpoint, port and secret exist only once the copy is done.
    qa = AuroraClone(
        stack,
        "QaClone",
        source=orders,
        instance_class="db.r6g.large",
        copy_ok=True,
        long_operations=LongOperations(Duration.hours(6)),
    )
    ssm.StringParameter(stack, "CloneEndpoint", string_value=qa.cluster_endpoint.hostname)
    ssm.StringParameter(stack, "ClonePort", string_value=Tokenization.stringify_number(qa.cluster_endpoint.port))
    ssm.StringParameter(stack, "CloneSecret", string_value=qa.secret.secret_arn)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("long"), build)


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_each_cluster_gets_a_handle_and_a_condition_with_its_timeout(synthesized: Synthesized) -> None:
    template = synthesized.template("Long")
    handles = of_type(template, "AWS::CloudFormation::WaitConditionHandle")
    conditions = of_type(template, "AWS::CloudFormation::WaitCondition")
    assert len(handles) == 3 and len(conditions) == 3
    assert sorted(c["Properties"]["Timeout"] for c in conditions.values()) == ["10800", "21600", "43200"]
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


def test_a_clone_reads_its_finished_attributes_from_the_completion_data(synthesized: Synthesized) -> None:
    from dbscale.cfn.signal import signal_data
    from dbscale.handlers.aurora_clone import SIGNAL_ATTRIBUTES

    template = synthesized.template("Long")
    resources = template["Resources"]
    clone_id, clone = next((k, v) for k, v in resources.items() if v["Type"] == "Custom::AuroraClone")
    handle_ref = clone["Properties"]["CompletionSignalUrl"]["Ref"]
    condition_id = next(
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::CloudFormation::WaitCondition" and v["Properties"]["Handle"] == {"Ref": handle_ref}
    )
    assert condition_id.startswith("QaCloneCompletion")
    assert clone_id in resources[condition_id]["DependsOn"]
    data = {"Fn::Select": [1, ["", {"Fn::GetAtt": [condition_id, "Data"]}]]}
    payload = {"Fn::Select": [3, {"Fn::Split": ['"', data]}]}
    parameters = {k: v["Properties"]["Value"] for k, v in resources.items() if v["Type"] == "AWS::SSM::Parameter"}
    for name, attribute in (("CloneEndpoint", "Endpoint.Address"), ("ClonePort", "Endpoint.Port")):
        (value,) = [v for k, v in parameters.items() if k.startswith(name)]
        assert value == {"Fn::Select": [SIGNAL_ATTRIBUTES.index(attribute), {"Fn::Split": ["|", payload]}]}
    (secret,) = [v for k, v in parameters.items() if k.startswith("CloneSecret")]
    assert secret["Fn::Select"][0] == SIGNAL_ATTRIBUTES.index("SecretArn")
    # Evaluated as CloudFormation would, on the Data of a signal the handler sends, each reads its value.
    finished = {
        "Endpoint.Address": "qa.cluster-abc.us-east-1.rds.amazonaws.com",
        "Endpoint.Port": "5432",
        "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1-AbCdEf",
    }
    condition_data = json.dumps({"qa-clone": signal_data(finished, SIGNAL_ATTRIBUTES)}, separators=(",", ":"))
    for name, attribute in (("CloneEndpoint", "Endpoint.Address"), ("ClonePort", "Endpoint.Port")):
        (value,) = [v for k, v in parameters.items() if k.startswith(name)]
        assert evaluate(value, {condition_id: condition_data}) == finished[attribute]
    assert evaluate(secret, {condition_id: condition_data}) == finished["SecretArn"]
    # Nothing reads the attributes the early answer does not carry from the custom resource itself.
    text = json.dumps(template)
    for attribute in ("Endpoint.Address", "Endpoint.Port", "ReadEndpoint.Address", "SecretArn", "ClusterArn"):
        assert json.dumps({"Fn::GetAtt": [clone_id, attribute]}) not in text


def evaluate(value: Any, data: dict[str, str]) -> Any:
    """Fn::Select, Fn::Split and GetAtt of a wait condition's Data, as CloudFormation evaluates them."""
    if isinstance(value, list):
        return [evaluate(item, data) for item in value]
    if not isinstance(value, dict):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::GetAtt":
        assert argument[1] == "Data"
        return data[argument[0]]
    if function == "Fn::Select":
        return evaluate(argument[1], data)[argument[0]]
    if function == "Fn::Split":
        return evaluate(argument[1], data).split(argument[0])
    raise AssertionError(f"unexpected {function}")


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


def test_a_clone_with_long_operations_but_without_waiting_fails_at_synth(tmp_path: Path) -> None:
    from aws_cdk import App, Stack

    from dbscale.constructs import AuroraClone, InvalidConstructProps, LongOperations

    stack = Stack(App(outdir=str(tmp_path)), "NoWaitClone")
    with pytest.raises(InvalidConstructProps, match="wait_for_completion"):
        AuroraClone(
            stack,
            "Clone",
            source="prod",
            instance_class="db.r6g.large",
            wait_for_completion=False,
            long_operations=LongOperations(),
        )


def test_template_unchanged(synthesized: Synthesized) -> None:
    """The app's templates are the golden ones (tests/constructs/templates.py says how to regenerate)."""
    assert_template_unchanged("long_operations", stack_templates(synthesized))
