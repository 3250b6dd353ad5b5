"""A stack's events, read as they come, until the stack settles (what ``dbscale providers`` shows live)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dbscale.core.aws import aws_errors
from dbscale.core.clock import Clock
from dbscale.core.errors import OperationFailed, OperationTimeout


@dataclass(frozen=True)
class StackEvent:
    """One stack event, as CloudFormation reports it."""

    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str = ""

    @property
    def failed(self) -> bool:
        """True for a resource or stack that failed (``*_FAILED``)."""
        return self.status.endswith("_FAILED")


@dataclass(frozen=True)
class Change:
    """One row of a change set: ``Add``, ``Modify`` or ``Remove`` of a resource; ``replacement``
    is CloudFormation's True, False or Conditional for a Modify."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str = ""


class StackWatcher:
    """Reads the events of stack ``stack_name`` through ``cloudformation()`` (a client factory), every
    ``poll_seconds`` on ``clock``."""

    def __init__(self, cloudformation: Callable[[], Any], stack_name: str, clock: Clock, poll_seconds: float) -> None:
        self._cloudformation = cloudformation
        self.stack_name = stack_name
        self._clock = clock
        self._poll_seconds = poll_seconds

    def events(self, stack_ref: str, since: str | None) -> list[dict[str, Any]]:
        """The stack's events newer than event id ``since`` (all when None), oldest first."""
        cfn = self._cloudformation()
        newer: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            request: dict[str, Any] = {"StackName": stack_ref}
            if token:
                request["NextToken"] = token
            with aws_errors(f"read the events of stack '{self.stack_name}' (cloudformation:DescribeStackEvents)"):
                page = cfn.describe_stack_events(**request)
            for event in page.get("StackEvents", []):  # newest first
                if since is not None and event.get("EventId") == since:
                    return newer[::-1]
                newer.append(event)
            token = page.get("NextToken")
            if not token:
                return newer[::-1]

    def latest_event_id(self, stack_ref: str | None = None) -> str | None:
        cfn = self._cloudformation()
        with aws_errors(f"read the events of stack '{self.stack_name}' (cloudformation:DescribeStackEvents)"):
            events = cfn.describe_stack_events(StackName=stack_ref or self.stack_name).get("StackEvents", [])
        return str(events[0]["EventId"]) if events else None

    def watch(
        self,
        since: str | None,
        timeout_seconds: float,
        on_event: Callable[[StackEvent], None],
        *,
        ok: frozenset[str],
        stack_ref: str | None = None,
    ) -> dict[str, Any]:
        """Report events until the stack settles; the settled stack, or OperationFailed/OperationTimeout."""
        ref = stack_ref or self.stack_name
        deadline = self._clock.now() + timeout_seconds
        first_failure: StackEvent | None = None
        while True:
            for raw in self.events(ref, since):
                since = str(raw["EventId"])
                event = stack_event(raw)
                if event.failed and event.reason and first_failure is None:
                    first_failure = event
                on_event(event)
            with aws_errors(f"describe stack '{self.stack_name}' (cloudformation:DescribeStacks)"):
                stack = dict(self._cloudformation().describe_stacks(StackName=ref)["Stacks"][0])
            status = str(stack["StackStatus"])
            if status in ok:
                return stack
            if not status.endswith("_IN_PROGRESS"):
                # Settled, and not as asked: e.g. a delete AWS refused (exports in use) leaves the
                # stack as it was, with the reason in StackStatusReason.
                if first_failure is None and stack.get("StackStatusReason"):
                    first_failure = StackEvent(
                        timestamp=datetime.now(timezone.utc),
                        logical_id=self.stack_name,
                        resource_type="AWS::CloudFormation::Stack",
                        status=status,
                        reason=str(stack["StackStatusReason"]),
                    )
                cause = (
                    f": {first_failure.logical_id} ({first_failure.resource_type}) {first_failure.status}: "
                    f"{first_failure.reason}"
                    if first_failure
                    else ""
                )
                raise OperationFailed(f"stack '{self.stack_name}' ended {status}{cause}")
            if self._clock.now() >= deadline:
                raise OperationTimeout(
                    f"stack '{self.stack_name}' was still {status} after {timeout_seconds:.0f} s; CloudFormation goes "
                    "on with it: run the command again to watch it settle"
                )
            self._clock.sleep(self._poll_seconds)


def stack_event(raw: dict[str, Any]) -> StackEvent:
    """A DescribeStackEvents entry as a :class:`StackEvent`."""
    return StackEvent(
        timestamp=raw["Timestamp"],
        logical_id=str(raw.get("LogicalResourceId", "")),
        resource_type=str(raw.get("ResourceType", "")),
        status=str(raw.get("ResourceStatus", "")),
        reason=str(raw.get("ResourceStatusReason", "") or ""),
    )
