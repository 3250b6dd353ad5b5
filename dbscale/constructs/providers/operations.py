"""The state machine of a provider's long operations: what it is, its log group, and the grants its
function needs to run it (``dbscale.cfn.workflow`` holds its definition)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from dbscale.cfn.workflow import definition

# Where Step Functions' vended logs go (CloudWatch Logs keeps the resource policy that lets the
# service deliver them small for log groups under this prefix).
STATE_MACHINE_LOG_PREFIX = "/aws/vendedlogs/states/"


def operations_state_machine(
    scope: Construct, name: str, function_arn: str, *, partition: str, log_retention: logs.RetentionDays
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """The Standard state machine ``name`` that runs the long operations of function ``function_arn``
    (construct ``Operations``), and its log group (``OperationsLogGroup``, under
    :data:`STATE_MACHINE_LOG_PREFIX`, kept ``log_retention``)."""
    log_group = logs.LogGroup(
        scope,
        "OperationsLogGroup",
        log_group_name=f"{STATE_MACHINE_LOG_PREFIX}{name}",
        retention=log_retention,
    )
    text = json.dumps(definition(function_arn, partition=partition), separators=(",", ":"))
    machine = sfn.StateMachine(
        scope,
        "Operations",
        state_machine_name=name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_string(text),
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=False,
    )
    # The definition invokes the unqualified function ARN, and nothing else.
    machine.add_to_role_policy(
        iam.PolicyStatement(sid="InvokeProvider", actions=["lambda:InvokeFunction"], resources=[function_arn])
    )
    Validations.of(machine).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="Step Functions log delivery (logs:*LogDelivery*, logs:PutResourcePolicy, "
            "logs:DescribeResourcePolicies, logs:DescribeLogGroups) supports no resource-level permissions",
        ),
        Acknowledgment(
            id="AwsSolutions-SF2",
            reason="no X-Ray: the one task is an invocation of the provider function, which is not traced "
            "either; every state transition is in the execution history and the log group (level ALL), and "
            "tracing would add xray:Put* on '*' to the role",
        ),
    )
    return machine, log_group


def operations_statements(state_machine_arn: str, executions_arn: str) -> list[dict[str, Any]]:
    """The function's grants to start, list, describe and stop executions of its state machine
    (``executions_arn``: the ARN pattern of the machine's executions)."""
    return [
        {
            "Sid": "Operations",
            "Effect": "Allow",
            "Action": ["states:StartExecution", "states:ListExecutions"],
            "Resource": state_machine_arn,
        },
        {
            "Sid": "OperationExecutions",
            "Effect": "Allow",
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Resource": executions_arn,
        },
    ]
