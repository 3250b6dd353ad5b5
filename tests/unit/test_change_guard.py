"""The change guard (dbscale.core.aws.guard_changes) refuses every attempt of a change once the
invocation may make none, retries included: botocore retries a throttled call for up to a minute,
and a stop that lands between two attempts must stop the second."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dbscale.cfn import Provider, ResourceType
from dbscale.cfn.invocation import Invocation
from dbscale.core.aws import client, guard_changes, limit_call_time
from dbscale.core.errors import OperationStopped
from tests.fakes.faults import throttling_response


class _Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _execution(session: boto3.Session) -> tuple[str, str]:
    sfn = session.client("stepfunctions")
    role = session.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    waiting = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9999, "End": True}}}
    machine = sfn.create_state_machine(name="f-operations", roleArn=role, definition=json.dumps(waiting))
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1", input="{}")["executionArn"]
    return machine["stateMachineArn"], arn


@pytest.mark.parametrize("stopped_on_attempt", [1, 2, 3])
def test_a_stop_between_attempts_stops_the_next_attempt(aws: None, stopped_on_attempt: int) -> None:
    limit_call_time(connect_timeout=5, read_timeout=15, total_max_attempts=4)
    session = boto3.Session(region_name="us-east-1")
    machine, arn = _execution(session)
    provider = Provider(ResourceType())
    provider.session, provider.state_machine_arn = session, machine
    invocation = Invocation(provider, {"dbscale-operation": 1, "operation": {}, "execution": arn}, _Context())
    invocation.execution_arn = arn
    redshift = client("redshift", session)
    attempts = {"n": 0}

    def throttled_until_stopped(request: Any, **_: Any) -> Any:
        attempts["n"] += 1
        if attempts["n"] < stopped_on_attempt:
            return throttling_response(request)
        if attempts["n"] == stopped_on_attempt:  # a newer request stops the execution meanwhile
            session.client("stepfunctions").stop_execution(executionArn=arn, cause="newer request")
            return throttling_response(request)
        return None

    redshift.meta.events.register_first("before-send.redshift.CreateClusterParameterGroup", throttled_until_stopped)
    with pytest.raises(OperationStopped), guard_changes(invocation._guard):
        redshift.create_cluster_parameter_group(
            ParameterGroupName="g", ParameterGroupFamily="redshift-1.0", Description="d"
        )
    # No attempt after the stop was sent (this hook runs before the guard, so it may see one more).
    assert stopped_on_attempt <= attempts["n"] <= stopped_on_attempt + 1
    groups = redshift.describe_cluster_parameter_groups()["ParameterGroups"]
    assert "g" not in [g["ParameterGroupName"] for g in groups]


def test_reads_pass_and_no_guard_means_no_check(aws: None) -> None:
    session = boto3.Session(region_name="us-east-1")
    seen: list[tuple[str, str]] = []

    def refuse(service: str, operation: str) -> None:
        seen.append((service, operation))
        raise OperationStopped("no")

    redshift = client("redshift", session)
    with guard_changes(refuse):
        redshift.describe_clusters()  # a read: never checked
        with pytest.raises(OperationStopped):
            redshift.create_cluster_subnet_group(ClusterSubnetGroupName="s", Description="d", SubnetIds=["subnet-1"])
    redshift.describe_clusters()
    assert seen == [("redshift", "CreateClusterSubnetGroup")]
