"""The providers' long operations on Step Functions, in the example app: one Standard state machine
per provider function, named after it, running exactly ``dbscale.cfn.workflow.definition``; its
role invokes only that function; the function's role runs only that machine's executions."""

from __future__ import annotations

from typing import Any

import pytest

from dbscale.cfn.workflow import (
    Workflow,
    definition,
    execution_name,
    state_machine_arn,
    state_machine_name,
)

from .conftest import Synthesized
from .iam_policies import allowed, resolve
from .operations import (
    ACCOUNT,
    LOG_DELIVERY_ACTIONS,
    PARTITION,
    REGION,
    STATES_ACTIONS,
    Operations,
    listed,
    operations_of,
    provider_functions,
    resolved_statements,
    role_policies,
    role_statements,
    substitute,
)

pytestmark = pytest.mark.slow

# How many provider functions each stack of app.py has (the standalone three; the per-stack singletons).
PROVIDERS = {"DbscaleProviders": 4, "DbscaleExample": 2, "DbscaleDevClones": 1}


@pytest.fixture(scope="module")
def templates(example: Synthesized) -> dict[str, dict[str, Any]]:
    return {name: example.template(name) for name in PROVIDERS}


def all_operations(templates: dict[str, dict[str, Any]]) -> list[tuple[str, Operations]]:
    return [
        (name, operations_of(template, function_id))
        for name, template in templates.items()
        for function_id in provider_functions(template)
    ]


def test_every_provider_function_has_one_standard_state_machine(templates: dict[str, dict[str, Any]]) -> None:
    for name, template in templates.items():
        functions = provider_functions(template)
        assert len(functions) == PROVIDERS[name], name
        machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
        assert len(machines) == len(functions), name
        found = {operations_of(template, f).machine_id for f in functions}  # one each, named after it
        assert len(found) == len(functions)
    for _, ops in all_operations(templates):
        assert ops.machine["StateMachineType"] == "STANDARD"


def test_the_deployed_definition_is_the_workflow_definition(templates: dict[str, dict[str, Any]]) -> None:
    """The synthesized definition, the function's ARN substituted, is what the e2e tests run."""
    for name, ops in all_operations(templates):
        arn = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}-{ops.function_id}"
        assert ops.definition(arn) == definition(arn, partition=PARTITION), f"{name}/{ops.machine_id}"
        text = ops.machine["DefinitionString"]
        # The function is referenced by its ARN (no copy of a name), the partition by AWS::Partition.
        references = [p for p in text["Fn::Join"][1] if not isinstance(p, str)]
        assert references and all(
            p in ({"Fn::GetAtt": [ops.function_id, "Arn"]}, {"Ref": "AWS::Partition"}) for p in references
        )


def test_the_machine_is_where_the_runtime_looks_for_it(templates: dict[str, dict[str, Any]]) -> None:
    """The runtime derives its machine's ARN from its own function ARN: the synthesized name matches."""
    for name, ops in all_operations(templates):
        named = substitute(ops.machine["StateMachineName"], {ops.function_id: "DbscaleProviders-Handler-AbC123"})
        assert named == state_machine_name("DbscaleProviders-Handler-AbC123")
        resources = templates[name]["Resources"]
        function_arn = resolve({"Fn::GetAtt": [ops.function_id, "Arn"]}, resources)
        assert resolve({"Ref": ops.machine_id}, resources) == state_machine_arn(function_arn)
        assert len(state_machine_name("x" * 64)) <= 80  # a generated function name has at most 64


def test_the_machine_role_invokes_only_its_function(templates: dict[str, dict[str, Any]]) -> None:
    for name, ops in all_operations(templates):
        resources = templates[name]["Resources"]
        role = resources[ops.machine_role_id]["Properties"]
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "states.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
        assert "ManagedPolicyArns" not in role and "Policies" not in role
        statements = role_statements(resources, ops.machine_role_id)
        invoke = [s for s in statements if any(a.startswith("lambda:") for a in listed(s["Action"]))]
        assert [(s["Action"], s["Resource"]) for s in invoke] == [
            ("lambda:InvokeFunction", {"Fn::GetAtt": [ops.function_id, "Arn"]})
        ]
        for statement in statements:
            if statement not in invoke:  # log delivery: no resource-level permissions
                assert set(listed(statement["Action"])) <= LOG_DELIVERY_ACTIONS and statement["Resource"] == "*"
        assert "Condition" not in str(statements)
        # Evaluated: this function, no other provider's, no version of it nobody invokes.
        granted = resolved_statements(templates[name], ops.machine_role_id)
        own = resolve({"Fn::GetAtt": [ops.function_id, "Arn"]}, resources)
        assert allowed(granted, "lambda:InvokeFunction", own)
        assert not allowed(granted, "lambda:InvokeFunction", f"{own}:1")
        for other_name, other in all_operations(templates):
            if (other_name, other.function_id) != (name, ops.function_id):
                other_arn = resolve({"Fn::GetAtt": [other.function_id, "Arn"]}, templates[other_name]["Resources"])
                assert not allowed(granted, "lambda:InvokeFunction", other_arn)


def test_logs_leave_out_execution_data(templates: dict[str, dict[str, Any]]) -> None:
    """Every event is logged, but no input or output: an execution's input holds CloudFormation's
    presigned ResponseURL until the request is answered."""
    for name, ops in all_operations(templates):
        resources = templates[name]["Resources"]
        logging = ops.machine["LoggingConfiguration"]
        assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False
        (destination,) = logging["Destinations"]
        group_id, attribute = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
        group = resources[group_id]
        assert attribute == "Arn" and group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["LogGroupName"] == {
            "Fn::Join": ["", ["/aws/vendedlogs/states/", {"Ref": ops.function_id}, "-operations"]]
        }
        function_group = resources[ops.function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == function_group["Properties"]["RetentionInDays"] == 90
        # No X-Ray (the function is not traced either): acknowledged for cdk-nag (AwsSolutions-SF2).
        assert ops.machine["TracingConfiguration"] == {"Enabled": False}


def test_the_function_role_runs_only_its_own_machine(templates: dict[str, dict[str, Any]]) -> None:
    for name, ops in all_operations(templates):
        resources = templates[name]["Resources"]
        statements = role_statements(resources, ops.function_role_id)
        actions = {a for s in statements for a in listed(s["Action"])}
        assert not {a for a in actions if a.startswith("events:")}, "no EventBridge poll rules any more"
        assert not actions & {"lambda:AddPermission", "lambda:RemovePermission"}
        states = {a for a in actions if a.startswith("states:")}
        assert states == STATES_ACTIONS
        scoped = {
            tuple(sorted(listed(s["Action"]))): s["Resource"]
            for s in statements
            if any(a.startswith("states:") for a in listed(s["Action"]))
        }
        executions = {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":states:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":execution:",
                    {"Ref": ops.function_id},
                    "-operations:*",
                ],
            ]
        }
        assert scoped == {
            ("states:ListExecutions", "states:StartExecution"): {"Ref": ops.machine_id},
            ("states:DescribeExecution", "states:StopExecution"): executions,
        }
        # Evaluated for the calls the runtime makes (workflow.Workflow), on its machine and another's.
        granted = resolved_statements(templates[name], ops.function_role_id)
        machine = state_machine_arn(resolve({"Fn::GetAtt": [ops.function_id, "Arn"]}, resources))
        execution = Workflow(machine).execution_arn(execution_name("arn:stack", "Db", "request-1"))
        for action in ("states:StartExecution", "states:ListExecutions"):
            assert allowed(granted, action, machine)
            assert not allowed(granted, action, execution)
        for action in ("states:DescribeExecution", "states:StopExecution"):
            assert allowed(granted, action, execution)
            assert not allowed(granted, action, machine)
        for other_name, other in all_operations(templates):
            if (other_name, other.function_id) == (name, ops.function_id):
                continue
            other_machine = resolve({"Ref": other.machine_id}, templates[other_name]["Resources"])
            other_execution = Workflow(other_machine).execution_arn(execution_name("arn:stack", "Db", "request-1"))
            assert not allowed(granted, "states:StartExecution", other_machine)
            assert not allowed(granted, "states:StopExecution", other_execution)


def test_no_request_comes_before_the_machine(templates: dict[str, dict[str, Any]]) -> None:
    """The policy with the states grants waits for the machine (its Ref), the machine for its role and
    its role's policy; every custom resource the function serves waits for that policy."""
    served = 0
    for name, ops in all_operations(templates):
        resources = templates[name]["Resources"]
        (policy_id,) = [
            logical_id
            for logical_id, p in role_policies(resources, ops.function_role_id)
            if "states:StartExecution" in str(p["Properties"]["PolicyDocument"])
        ]
        assert {"Ref": ops.machine_id} in [
            s["Resource"] for s in resources[policy_id]["Properties"]["PolicyDocument"]["Statement"]
        ]
        machine_role_policies = [p for p, _ in role_policies(resources, ops.machine_role_id)]
        assert machine_role_policies
        depends = set(resources[ops.machine_id].get("DependsOn", []))
        assert {ops.machine_role_id, *machine_role_policies} <= depends
        for resource in resources.values():
            if resource["Type"].startswith("Custom::") and resource["Properties"].get("ServiceToken") == {
                "Fn::GetAtt": [ops.function_id, "Arn"]
            }:
                assert policy_id in resource["DependsOn"]
                served += 1
    assert served >= 3  # the example's two clusters and its clone


def test_lambda_never_retries_a_delivery(templates: dict[str, dict[str, Any]]) -> None:
    """A Lambda retry of an asynchronous invocation would be a stale request acting as the newest."""
    for name, template in templates.items():
        configs = {
            r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        }
        for function_id in provider_functions(template):
            assert configs[function_id]["MaximumRetryAttempts"] == 0, (name, function_id)
