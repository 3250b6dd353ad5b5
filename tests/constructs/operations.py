"""Read a provider's long-operation state machine out of a synthesized template and check it:
its name, its definition (the one ``dbscale.cfn.workflow.definition`` makes, the function's ARN
substituted), its role, its logging, and the grants of the provider function's role to run it.

Used by tests/constructs/test_operations.py (the example app) and test_database_bootstrap.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dbscale.cfn.workflow import STATE_MACHINE_SUFFIX
from dbscale.constructs import (
    AuroraCloneProvider,
    AuroraClusterProvider,
    DatabaseBootstrapProvider,
    RedshiftClusterProvider,
)

from .iam_policies import resolve

# Every provider that runs on dbscale.cfn.runtime (its long operations on Step Functions).
PROVIDER_HANDLERS = frozenset(
    cls.handler_name
    for cls in (RedshiftClusterProvider, AuroraClusterProvider, AuroraCloneProvider, DatabaseBootstrapProvider)
)
STATES_ACTIONS = {"states:StartExecution", "states:ListExecutions", "states:DescribeExecution", "states:StopExecution"}
# What Step Functions needs to deliver a state machine's logs to CloudWatch Logs (AWS documents
# them on '*': no resource-level permissions).
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# Placeholders substituted into the synthesized definition (an unusual partition, so that a
# partition written into the definition instead of AWS::Partition shows).
PARTITION, REGION, ACCOUNT = "aws-test", "eu-test-1", "111122223333"


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def substitute(value: Any, values: dict[str, str]) -> str:
    """A string intrinsic (Fn::Join of strings, Ref, Fn::GetAtt) with ``values`` substituted for its
    references (``Ref`` keys by name, ``Fn::GetAtt`` keys as ``Id.Attribute``); anything else fails."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return str(separator).join(substitute(p, values) for p in parts)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return values[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return values[".".join(value["Fn::GetAtt"])]
    raise AssertionError(f"unexpected intrinsic {json.dumps(value)}")


def role_policies(resources: dict[str, Any], role_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, resource) of every AWS::IAM::Policy attached to role ``role_id``."""
    return [
        (logical_id, r)
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"].get("Roles", [])
    ]


def role_statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [s for _, p in role_policies(resources, role_id) for s in p["Properties"]["PolicyDocument"]["Statement"]]


@dataclass
class Operations:
    """A provider function and the state machine of its long operations, as synthesized."""

    resources: dict[str, Any]
    function_id: str
    machine_id: str

    @property
    def function(self) -> dict[str, Any]:
        return dict(self.resources[self.function_id])

    @property
    def machine(self) -> dict[str, Any]:
        return dict(self.resources[self.machine_id]["Properties"])

    @property
    def function_role_id(self) -> str:
        return str(self.function["Properties"]["Role"]["Fn::GetAtt"][0])

    @property
    def machine_role_id(self) -> str:
        return str(self.machine["RoleArn"]["Fn::GetAtt"][0])

    def definition(self, function_arn: str) -> dict[str, Any]:
        """The synthesized definition, parsed, with ``function_arn`` and :data:`PARTITION` substituted."""
        text = substitute(
            self.machine["DefinitionString"],
            {f"{self.function_id}.Arn": function_arn, "AWS::Partition": PARTITION},
        )
        loaded: dict[str, Any] = json.loads(text)
        return loaded


def provider_functions(template: dict[str, Any]) -> list[str]:
    """Logical ids of the provider functions of ``template`` (those run by dbscale.cfn.runtime)."""
    return sorted(
        logical_id
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") in PROVIDER_HANDLERS
    )


def operations_of(template: dict[str, Any], function_id: str) -> Operations:
    """The state machine named after provider function ``function_id`` (exactly one)."""
    resources = template["Resources"]
    name = {"Fn::Join": ["", [{"Ref": function_id}, STATE_MACHINE_SUFFIX]]}
    machines = [
        logical_id
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and r["Properties"].get("StateMachineName") == name
    ]
    assert len(machines) == 1, f"{function_id}: {len(machines)} state machines named after it"
    return Operations(resources, function_id, machines[0])


def resolved_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """The statements of ``role_id``'s policies with intrinsics replaced by plausible values (iam_policies)."""
    resources = template["Resources"]
    return [resolve(s, resources) for s in role_statements(resources, role_id)]
