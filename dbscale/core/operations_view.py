"""The long operations the custom-resource runtime carries now, as an operator sees them.

Each provider function ``F`` has a Step Functions Standard state machine ``F-operations``; every
request that outlasts its first invocation is one execution of it, whose input is the request's
operation document (see :mod:`dbscale.cfn.workflow`). :func:`running_operations` finds the
RUNNING executions (ListStateMachines, ListExecutions, DescribeExecution: read-only calls) and
returns one :class:`RunningOperation` each, with the request's routing fields, the physical id of
the resource it works on, and the execution's console link.

A record never holds the request's presigned ``ResponseURL`` nor its properties: only the fields
named in :class:`RunningOperation` are read from the execution's input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .aws import aws_errors, client
from .errors import AwsError, InvalidRequest
from .limits import (
    EXECUTION_NAME_PATTERN,
    OPERATION_DOCUMENT_KEY,
    OPERATION_DOCUMENT_VERSION,
    OPERATIONS_STATE_MACHINE_SUFFIX,
)

if TYPE_CHECKING:
    import boto3

STATE_MACHINE_SUFFIX = OPERATIONS_STATE_MACHINE_SUFFIX
OPERATION_KEY = OPERATION_DOCUMENT_KEY
OPERATION_VERSION = OPERATION_DOCUMENT_VERSION
EXECUTION_NAME = re.compile(EXECUTION_NAME_PATTERN)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})

CONSOLE_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
"""The AWS console's host in each partition (the one place that knows them)."""

_STATE_MACHINE_ARN = re.compile(r"^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$")

SessionFactory = Callable[[str], "boto3.Session"]


def console_url(execution_arn: str) -> str | None:
    """The AWS console page of a Step Functions execution; None for a partition without a known console."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        return None
    partition, region = parts[1], parts[3]
    host = CONSOLE_HOSTS.get(partition)
    if host is None:
        return None
    return f"https://{host.format(region=region)}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def stack_name(stack_id: str | None) -> str | None:
    """``my-stack`` from ``arn:aws:cloudformation:<region>:<account>:stack/my-stack/<uuid>``."""
    resource = (stack_id or "").split(":", 5)[-1]
    if not resource.startswith("stack/"):
        return None
    return resource.split("/")[1] or None


def state_machine_region(arn: str) -> str:
    """The region of a state machine ARN; InvalidRequest when ``arn`` is not one."""
    match = _STATE_MACHINE_ARN.match(arn.strip())
    if match is None:
        raise InvalidRequest(
            f"not a Step Functions state machine ARN: {arn!r} "
            "(arn:aws:states:<region>:<account>:stateMachine:<function name>-operations)",
            field="state_machine",
        )
    return match.group(2)


@dataclass(frozen=True)
class RunningOperation:
    """One RUNNING execution of a provider's state machine: the CloudFormation request it carries.

    ``physical_id`` is the resource's physical id (the cluster identifier of a cluster resource)
    once known; ``started`` (epoch seconds) is when the request's first invocation began."""

    region: str
    execution_arn: str
    state_machine_arn: str
    physical_id: str | None
    request_type: str | None
    logical_id: str | None
    resource_type: str | None
    stack_id: str | None
    request_id: str | None
    started: float | None

    @property
    def stack_name(self) -> str | None:
        return stack_name(self.stack_id)

    @property
    def console_url(self) -> str | None:
        return console_url(self.execution_arn)

    def age_seconds(self, now: float) -> float | None:
        return None if self.started is None else max(0.0, now - self.started)

    def to_dict(self, now: float) -> dict[str, Any]:
        started = None
        if self.started is not None:
            started = datetime.fromtimestamp(self.started, tz=timezone.utc).isoformat(timespec="seconds")
        age = self.age_seconds(now)
        return {
            "region": self.region,
            "request_type": self.request_type,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "stack_name": self.stack_name,
            "stack_id": self.stack_id,
            "request_id": self.request_id,
            "physical_id": self.physical_id,
            "started": started,
            "age_seconds": None if age is None else round(age),
            "execution_arn": self.execution_arn,
            "state_machine_arn": self.state_machine_arn,
            "console_url": self.console_url,
        }


@dataclass(frozen=True)
class OperationsView:
    """The running long operations found, and notes on what could not be read (missing permissions)."""

    operations: tuple[RunningOperation, ...] = ()
    notes: tuple[str, ...] = ()

    def for_cluster(self, region: str, name: str) -> RunningOperation | None:
        """The newest running operation on the resource whose physical id is ``name`` in ``region``."""
        key = (region, name.lower())  # cluster identifiers are case-insensitive (AWS keeps them in lower case)
        found = [o for o in self.operations if (o.region, (o.physical_id or "").lower()) == key]
        return max(found, key=lambda o: o.started or 0.0) if found else None

    def others(self, shown: Iterable[tuple[str, str]]) -> tuple[RunningOperation, ...]:
        """The operations on none of the ``(region, name)`` resources shown."""
        names = {(region, name.lower()) for region, name in shown}
        return tuple(o for o in self.operations if (o.region, (o.physical_id or "").lower()) not in names)

    def __add__(self, other: OperationsView) -> OperationsView:
        return OperationsView(self.operations + other.operations, self.notes + other.notes)


def running_operations(
    session: boto3.Session,
    *,
    state_machine_arns: Iterable[str] | None = None,
    page_size: int | None = None,
) -> OperationsView:
    """The long operations running in ``session``'s region.

    Looks in every Standard state machine named ``*-operations``, or only in ``state_machine_arns``
    (those of this region). Executions that are not dbscale's (another name, an input that is not an
    operation document) are left out. Missing permissions do not raise: they become notes."""
    region = str(session.region_name)
    sfn = client("stepfunctions", session)
    paging: dict[str, Any] = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
    notes: list[str] = []
    if state_machine_arns is None:
        try:
            machines = _operation_machines(sfn, region, paging)
        except AwsError as err:
            if err.code not in ACCESS_DENIED_CODES:
                raise
            return OperationsView((), (_denied(region, "states:ListStateMachines", err.code),))
    else:
        machines = [a for a in dict.fromkeys(state_machine_arns) if state_machine_region(a) == region]
    found: list[RunningOperation] = []
    for machine in machines:
        try:
            executions = _running(sfn, machine, paging)
        except AwsError as err:
            if err.code in ACCESS_DENIED_CODES:
                notes.append(_denied(region, "states:ListExecutions", err.code, machine))
                continue
            if err.code == "StateMachineDoesNotExist":
                notes.append(f"state machine {machine} does not exist")
                continue
            raise
        unread = 0
        for execution in executions:
            try:
                with aws_errors(f"read long operation {execution['name']}"):
                    described = sfn.describe_execution(executionArn=execution["executionArn"])
            except AwsError as err:
                if err.code in ACCESS_DENIED_CODES:
                    unread += 1
                    continue
                if err.code == "ExecutionDoesNotExist":
                    continue
                raise
            record = _record(region, machine, execution, described)
            if record is not None:
                found.append(record)
        if unread:
            notes.append(
                _denied(region, "states:DescribeExecution", "AccessDeniedException", machine)
                + f"; {unread} running execution(s) not shown"
            )
    return OperationsView(tuple(sorted(found, key=lambda o: o.started or 0.0)), tuple(notes))


def fleet_operations(
    regions: Iterable[str],
    *,
    sessions: SessionFactory,
    state_machine_arns: Iterable[str] | None = None,
    page_size: int | None = None,
) -> OperationsView:
    """:func:`running_operations` in each of ``regions`` (with ``state_machine_arns``: only the regions
    they are in, and a note for each ARN outside ``regions``)."""
    covered = list(dict.fromkeys(regions))
    arns = None if state_machine_arns is None else list(dict.fromkeys(a.strip() for a in state_machine_arns))
    view = OperationsView()
    arn_regions = {a: state_machine_region(a) for a in arns or []}
    for region in covered:
        if arns is not None and region not in arn_regions.values():
            continue
        view += running_operations(sessions(region), state_machine_arns=arns, page_size=page_size)
    outside = tuple(
        f"state machine {arn} is in {region}, which is not covered (add --region {region})"
        for arn, region in arn_regions.items()
        if region not in covered
    )
    return view + OperationsView((), outside)


def _denied(region: str, action: str, code: str, machine: str | None = None) -> str:
    where = f"state machine {machine}" if machine else region
    return (
        f"long operations could not be listed in {where} ({code} on {action}); grant states:ListStateMachines, "
        "states:ListExecutions and states:DescribeExecution, or pass --state-machine ARN"
    )


def _operation_machines(sfn: Any, region: str, paging: dict[str, Any]) -> list[str]:
    machines: list[str] = []
    with aws_errors(f"list Step Functions state machines in {region}"):
        for page in sfn.get_paginator("list_state_machines").paginate(**paging):
            for machine in page.get("stateMachines", []):
                standard = machine.get("type", "STANDARD") == "STANDARD"  # Express executions cannot be listed
                if standard and str(machine.get("name", "")).endswith(STATE_MACHINE_SUFFIX):
                    machines.append(str(machine["stateMachineArn"]))
    return machines


def _running(sfn: Any, machine: str, paging: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with aws_errors(f"list the running executions of {machine}"):
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING", **paging)
        for page in pages:
            found.extend(e for e in page.get("executions", []) if EXECUTION_NAME.match(str(e.get("name", ""))))
    return found


def _record(region: str, machine: str, execution: dict[str, Any], described: dict[str, Any]) -> RunningOperation | None:
    """The operation an execution carries, or None when it is not a running dbscale operation."""
    if described.get("status", "RUNNING") != "RUNNING":
        return None  # it ended between the listing and now
    try:
        document = json.loads(described.get("input") or "")
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get(OPERATION_KEY) != OPERATION_VERSION:
        return None
    request: dict[str, Any] = document["request"] if isinstance(document.get("request"), dict) else {}
    state: dict[str, Any] = document["state"] if isinstance(document.get("state"), dict) else {}
    started = state.get("started")
    if isinstance(started, bool) or not isinstance(started, (int, float)):
        when = described.get("startDate") or execution.get("startDate")
        started = when.timestamp() if isinstance(when, datetime) else None

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    return RunningOperation(
        region=region,
        execution_arn=str(execution["executionArn"]),
        state_machine_arn=machine,
        physical_id=text(state.get("physical_id")) or text(request.get("PhysicalResourceId")),
        request_type=text(request.get("RequestType")),
        logical_id=text(request.get("LogicalResourceId")),
        resource_type=text(request.get("ResourceType")),
        stack_id=text(request.get("StackId")),
        request_id=text(request.get("RequestId")),
        started=None if started is None else float(started),
    )
