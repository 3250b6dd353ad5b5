"""Long operations on AWS Step Functions: one Standard workflow execution per request that needs
more than its first invocation.

The execution's input is the *operation document* (:func:`operation_document`): the request's
CloudFormation fields (ResponseURL included until the request is answered), the properties the
checks need and the resource's state. The state machine (:func:`definition`) loops one task, a
check invocation of the provider code, and a choice:

* ``Check`` runs the resource's steps, checking every few seconds for up to
  :data:`CHECK_WINDOW_SECONDS`, answers CloudFormation / signals the wait condition handle when the
  operation ends, and returns the document with its ``phase``: ``check`` (go again at once),
  ``wait`` (a Wait state of ``wait_seconds`` first: the sparse cadence of long operations and the
  backoff of an answer that could not be delivered yet) or ``done``.
* AWS errors inside the check are retried by the check itself; errors of the invocation (Lambda
  throttled, timed out) by the task's Retry and then a ``Backoff`` Wait and a new check, for as
  long as the execution runs (the check itself ends the operation at its deadline); an error of
  the check's own code, once its retries run out, goes to ``GiveUp``, which answers FAILED (or
  signals FAILURE) with the error.

Executions are named from the request (:func:`execution_name`): a duplicate delivery finds its
request's execution instead of acting twice (StartExecution is idempotent for a name), and every
execution of one logical resource starts with the same prefix, so a newer request finds and stops
an older one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from dbscale.core.aws import aws_errors, client
from dbscale.core.errors import AwsError
from dbscale.core.limits import (
    OPERATION_DOCUMENT_KEY,
    OPERATION_DOCUMENT_VERSION,
    OPERATIONS_STATE_MACHINE_SUFFIX,
    STEP_FUNCTIONS_INPUT_MAX_BYTES,
)

LOG = logging.getLogger("dbscale")

OPERATION_KEY = OPERATION_DOCUMENT_KEY
"""The marker of a check invocation's payload (and of an operation document)."""
OPERATION_VERSION = OPERATION_DOCUMENT_VERSION
STATE_MACHINE_ENV = "DBSCALE_STATE_MACHINE_ARN"
"""Overrides the state machine of the function's long operations (default: :func:`state_machine_arn`)."""
STATE_MACHINE_SUFFIX = OPERATIONS_STATE_MACHINE_SUFFIX
"""A provider function's state machine is named after it: ``<function name>-operations`` (at most 75
characters), so neither needs the other's ARN at deploy time (which would be a dependency cycle)."""
INPUT_MAX_BYTES = STEP_FUNCTIONS_INPUT_MAX_BYTES
"""Step Functions' limit on an execution's input and on every state's input and output (256 KiB, UTF-8)."""
INPUT_MARGIN_BYTES = 16_384
"""Room kept under :data:`INPUT_MAX_BYTES` for what a check adds (the task's wrapper, error details)."""
CHECK_WINDOW_SECONDS = 600.0
"""How long one check invocation keeps checking before it returns to the state machine (seconds)."""
DENSE_CHECK_SECONDS = 3600.0
"""For this long after a request starts, checks run back to back, every few seconds (seconds):
every operation that fits in CloudFormation's ServiceTimeout is seen to finish within seconds."""
SPARSE_CHECK_SECONDS = 90
"""After :data:`DENSE_CHECK_SECONDS`, one check every this many seconds (a Wait state in between):
a 12-hour operation then costs a few cents instead of a Lambda busy for 12 hours."""
EXECUTION_TIMEOUT_SECONDS = 46_800
"""No execution runs longer than 13 hours (a wait condition waits at most 12)."""
CHECK_TASK_TIMEOUT_SECONDS = 960
"""A check task that has not returned after this long (the function's 15 minutes and a margin) is retried."""
REQUEST_FIELDS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId", "ResourceType")
_LAMBDA_TRANSIENT = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.Unknown",
]
_INFRASTRUCTURE_ERRORS = [*_LAMBDA_TRANSIENT, "Sandbox.Timedout", "States.Timeout", "States.HeartbeatTimeout"]
"""Errors of the invocation, not of the operation: throttling, Lambda's own faults, timeouts. When
retries run out the execution backs off and checks again (the check itself ends the operation at
its deadline); only an error of the check's own code goes to GiveUp."""
BACKOFF_SECONDS = 60
"""The Wait between a check whose retries ran out on an invocation error and the next one (seconds)."""


def state_machine_name(function_name: str) -> str:
    """The name of the state machine of function ``function_name``'s long operations."""
    return f"{function_name}{STATE_MACHINE_SUFFIX}"


def state_machine_arn(function_arn: str) -> str:
    """The state machine of the function ``function_arn`` (a qualified ARN too) in its partition, region, account."""
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        raise ValueError(f"not a Lambda function ARN: {function_arn!r}")
    partition, region, account, name = parts[1], parts[3], parts[4], parts[6]
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{state_machine_name(name)}"


def resource_key(stack_id: str, logical_id: str) -> str:
    """The name prefix shared by every execution of one logical resource (24 hex characters)."""
    return hashlib.sha256(f"{stack_id}|{logical_id}".encode()).hexdigest()[:24]


def execution_name(stack_id: str, logical_id: str, request_id: str) -> str:
    """The execution of one request: ``<resource key>-<request hash>`` (49 characters, at most 80 allowed)."""
    request = hashlib.sha256(request_id.encode()).hexdigest()[:24]
    return f"{resource_key(stack_id, logical_id)}-{request}"


def operation_document(
    request_fields: dict[str, Any],
    physical_id: str | None,
    properties: dict[str, Any],
    state: dict[str, Any],
) -> dict[str, Any]:
    """The execution input of one request (also what each check returns, with ``phase``)."""
    return {
        OPERATION_KEY: OPERATION_VERSION,
        "request": {**{k: request_fields.get(k) for k in REQUEST_FIELDS}, "PhysicalResourceId": physical_id},
        "properties": properties,
        "state": state,
    }


def is_check(event: Any) -> bool:
    """True for an invocation by the state machine (not by CloudFormation)."""
    return isinstance(event, dict) and event.get(OPERATION_KEY) == OPERATION_VERSION and "operation" in event


def document_bytes(document: dict[str, Any]) -> int:
    """The size Step Functions counts for ``document`` (UTF-8 bytes of its JSON)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def definition(check_function_arn: str, *, partition: str = "aws") -> dict[str, Any]:
    """The state machine of long operations (Amazon States Language), invoking ``check_function_arn``."""
    invoke = f"arn:{partition}:states:::lambda:invoke"

    def task(mode: str, operation_path: str) -> dict[str, Any]:
        return {
            "FunctionName": check_function_arn,
            "Payload": {
                OPERATION_KEY: OPERATION_VERSION,
                "mode": mode,
                "execution.$": "$$.Execution.Id",
                "operation.$": operation_path,
            },
        }

    return {
        "Comment": "dbscale: one execution per CloudFormation request that outlasts its first invocation",
        "StartAt": "Check",
        "TimeoutSeconds": EXECUTION_TIMEOUT_SECONDS,
        "States": {
            "Check": {
                "Type": "Task",
                "Resource": invoke,
                "Parameters": task("check", "$"),
                "OutputPath": "$.Payload",
                "TimeoutSeconds": CHECK_TASK_TIMEOUT_SECONDS,
                "Retry": [
                    {
                        "ErrorEquals": _LAMBDA_TRANSIENT,
                        "IntervalSeconds": 2,
                        "MaxAttempts": 12,
                        "BackoffRate": 2.0,
                        "MaxDelaySeconds": 60,
                        "JitterStrategy": "FULL",
                    },
                    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 6, "BackoffRate": 2.0},
                ],
                "Catch": [
                    {"ErrorEquals": _INFRASTRUCTURE_ERRORS, "ResultPath": "$.error", "Next": "Backoff"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "GiveUp"},
                ],
                "Next": "Next",
            },
            "Backoff": {"Type": "Wait", "Seconds": BACKOFF_SECONDS, "Next": "Check"},
            "Next": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.phase", "StringEquals": "check", "Next": "Check"},
                    {"Variable": "$.phase", "StringEquals": "wait", "Next": "Wait"},
                    {"Variable": "$.outcome", "StringEquals": "FAILED", "Next": "Failed"},
                ],
                "Default": "Done",
            },
            "Wait": {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "Check"},
            "GiveUp": {
                "Type": "Task",
                "Resource": invoke,
                "Parameters": task("give-up", "$"),
                "OutputPath": "$.Payload",
                "TimeoutSeconds": CHECK_TASK_TIMEOUT_SECONDS,
                "Retry": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "IntervalSeconds": 5,
                        "MaxAttempts": 8,
                        "BackoffRate": 2.0,
                        "MaxDelaySeconds": 120,
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Backoff"}],
                "Next": "Next",
            },
            "Failed": {"Type": "Fail", "Error": "dbscale.OperationFailed", "CausePath": "$.answer_text"},
            "Done": {"Type": "Succeed", "OutputPath": "$.answer"},
        },
    }


class Workflow:
    """The Step Functions calls of the runtime, for one state machine."""

    def __init__(self, state_machine_arn: str, session: Any = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._session = session

    def _sfn(self) -> Any:
        return client("stepfunctions", self._session)

    def execution_arn(self, name: str) -> str:
        """The ARN an execution named ``name`` of this state machine has (or would have)."""
        prefix, _, machine = self.state_machine_arn.partition(":stateMachine:")
        return f"{prefix}:execution:{machine}:{name}"

    def describe(self, execution_arn: str) -> dict[str, Any] | None:
        """DescribeExecution, or None when there is no such execution."""
        try:
            with aws_errors("describe the operation's execution"):
                return dict(self._sfn().describe_execution(executionArn=execution_arn))
        except AwsError as err:
            if err.code == "ExecutionDoesNotExist":
                return None
            raise

    def start(self, name: str, document: dict[str, Any]) -> str | None:
        """Start the execution ``name``; its ARN, or None when an execution of that name exists already."""
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)  # as document_bytes counts
        try:
            with aws_errors("start the operation's execution"):
                return str(
                    self._sfn().start_execution(stateMachineArn=self.state_machine_arn, name=name, input=text)[
                        "executionArn"
                    ]
                )
        except AwsError as err:
            if err.code == "ExecutionAlreadyExists":
                return None
            raise

    def running(self, prefix: str) -> list[dict[str, Any]]:
        """The RUNNING executions whose name starts with ``prefix``, oldest first."""
        found: list[dict[str, Any]] = []
        with aws_errors("list the running operations"):
            pages = self._sfn().get_paginator("list_executions")
            for page in pages.paginate(stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"):
                found.extend(e for e in page.get("executions", []) if str(e.get("name", "")).startswith(prefix))
        return sorted(found, key=lambda e: e.get("startDate") or 0)

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop an execution (ABORTED); one that has ended already is left as it is."""
        try:
            with aws_errors("stop an older operation's execution"):
                self._sfn().stop_execution(executionArn=execution_arn, error="dbscale.Superseded", cause=cause[:32768])
        except AwsError as err:
            if err.code not in ("ExecutionDoesNotExist",):
                raise

    def is_running(self, execution_arn: str) -> bool:
        """False once the execution has been stopped or has ended; True while it runs, and while it
        cannot be found (just started: a read may lag the start)."""
        described = self.describe(execution_arn)
        return described is None or described.get("status") == "RUNNING"


def recorded_answer(described: dict[str, Any]) -> dict[str, Any] | None:
    """The answer a closed execution recorded (Status, PhysicalResourceId, Reason, Data), if any."""
    text = described.get("output") if described.get("status") == "SUCCEEDED" else described.get("cause")
    if not isinstance(text, str):
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) and loaded.get("Status") in ("SUCCESS", "FAILED") else None
