"""The CloudFormation calls on one StackSet: describe it, list its instances, start an operation
with an idempotency token and wait for it, say why it failed, delete it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbscale.core.aws import aws_errors
from dbscale.core.clock import Clock
from dbscale.core.errors import OperationTimeout

_RUNNING = frozenset({"RUNNING", "QUEUED", "STOPPING"})


@dataclass(frozen=True)
class InstanceProblem:
    """A stack instance that is not ``CURRENT``: where, CloudFormation's status and its reason."""

    account: str
    region: str
    status: str
    reason: str = ""


class StackSetCalls:
    """The calls on StackSet ``name`` as ``call_as``, through ``cfn()`` (a client factory); running
    operations are read every ``poll_seconds`` on ``clock``."""

    def __init__(self, cfn: Callable[[], Any], name: str, call_as: str, clock: Clock, poll_seconds: float) -> None:
        self._cfn = cfn
        self.name = name
        self.call_as = call_as
        self._clock = clock
        self._poll_seconds = poll_seconds

    def start(self, method: str, operation: str, **request: Any) -> str:
        """Start a StackSet operation with a fresh operation id (its idempotency token); that id."""
        operation_id = f"dbscale-{uuid.uuid4()}"
        with aws_errors(f"{operation} on StackSet '{self.name}' (cloudformation:{operation})"):
            answer = getattr(self._cfn(), method)(
                StackSetName=self.name, OperationId=operation_id, CallAs=self.call_as, **request
            )
        return str(answer.get("OperationId", operation_id))

    def describe(self) -> dict[str, Any] | None:
        """The StackSet as DescribeStackSet shows it, or None when there is none (or it was deleted)."""
        from botocore.exceptions import ClientError

        try:
            described = self._cfn().describe_stack_set(StackSetName=self.name, CallAs=self.call_as)["StackSet"]
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
                return None
            with aws_errors(f"describe StackSet '{self.name}' (cloudformation:DescribeStackSet)"):
                raise
        return None if described.get("Status") == "DELETED" else dict(described)

    def instances(self) -> list[dict[str, Any]]:
        """Every stack instance of the StackSet (ListStackInstances, all pages)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"StackSetName": self.name, "CallAs": self.call_as}
            if token:
                request["NextToken"] = token
            with aws_errors(f"list the instances of StackSet '{self.name}' (cloudformation:ListStackInstances)"):
                page = self._cfn().list_stack_instances(**request)
            found.extend(page.get("Summaries", []))
            token = page.get("NextToken")
            if not token:
                return found

    def wait(self, operation: str, timeout_seconds: float) -> str:
        """The final status of ``operation`` (SUCCEEDED, FAILED, STOPPED), read every ``poll_seconds``."""
        deadline = self._clock.now() + timeout_seconds
        while True:
            with aws_errors(
                f"read operation {operation} of StackSet '{self.name}' (cloudformation:DescribeStackSetOperation)"
            ):
                described = self._cfn().describe_stack_set_operation(
                    StackSetName=self.name, OperationId=operation, CallAs=self.call_as
                )["StackSetOperation"]
            status = str(described.get("Status", ""))
            if status not in _RUNNING:
                return status
            if self._clock.now() >= deadline:
                raise OperationTimeout(
                    f"operation {operation} of StackSet '{self.name}' was still {status} after "
                    f"{timeout_seconds:.0f} s; it goes on in CloudFormation: run the command again to see the instances"
                )
            self._clock.sleep(self._poll_seconds)

    def operation_reason(self, operation: str) -> str:
        """Why ``operation`` failed, per account and region (ListStackSetOperationResults)."""
        with aws_errors(f"read the results of operation {operation} (cloudformation:ListStackSetOperationResults)"):
            summaries = (
                self._cfn()
                .list_stack_set_operation_results(StackSetName=self.name, OperationId=operation, CallAs=self.call_as)
                .get("Summaries", [])
            )
        failed = [s for s in summaries if s.get("Status") not in ("SUCCEEDED", "PENDING", "RUNNING")]
        return "; ".join(
            f"{s.get('Account')}/{s.get('Region')}: {s.get('StatusReason', s.get('Status'))}" for s in failed
        )

    def delete_stack_set(self) -> None:
        """DeleteStackSet; one already gone (a retry whose first attempt AWS carried out) is deleted."""
        from botocore.exceptions import ClientError

        try:
            self._cfn().delete_stack_set(StackSetName=self.name, CallAs=self.call_as)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
                return
            with aws_errors(f"delete StackSet '{self.name}' (cloudformation:DeleteStackSet)"):
                raise


def instance_problem(instance: dict[str, Any]) -> InstanceProblem | None:
    """The instance as a problem when it is not CURRENT (None when it is)."""
    status = str(instance.get("Status", ""))
    if status == "CURRENT":
        return None
    detailed = str(instance.get("StackInstanceStatus", {}).get("DetailedStatus", "")) or status
    return InstanceProblem(
        account=str(instance.get("Account", "")),
        region=str(instance.get("Region", "")),
        status=f"{status}/{detailed}" if detailed != status else status,
        reason=str(instance.get("StatusReason", "")),
    )
