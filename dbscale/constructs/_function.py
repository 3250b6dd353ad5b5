"""The Lambda functions dbscale deploys besides the providers (autoscaler, clone pool): one recipe."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .providers.stack_state import shared_code


@dataclass(frozen=True)
class HandlerFunction:
    """A function, its role (no managed policies) and the log group it alone writes to."""

    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def handler_function(
    scope: Construct,
    *,
    handler: str,
    description: str,
    timeout: Duration,
    environment: dict[str, str],
    log_retention: logs.RetentionDays,
    grant_logs: bool = True,
) -> HandlerFunction:
    """A Python 3.14 arm64 function running ``handler`` from the providers' asset (no Docker).

    256 MB, reserved concurrency 1 (two runs at once could decide the same change twice), not in a
    VPC (it only calls AWS APIs). ``grant_logs=False`` leaves writing to the log group to the
    caller's own policy (one policy document instead of a second statement).
    """
    log_group = logs.LogGroup(scope, "LogGroup", retention=log_retention)
    # No AWSLambdaBasicExecutionRole: that managed policy may write to any log group.
    role = iam.Role(scope, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    if grant_logs:
        log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler=handler,
        code=shared_code(Stack.of(scope)),
        timeout=timeout,
        memory_size=256,
        role=role,
        log_group=log_group,
        reserved_concurrent_executions=1,
        environment=environment,
    )
    return HandlerFunction(function, role, log_group)
