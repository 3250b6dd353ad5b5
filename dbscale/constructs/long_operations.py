"""``LongOperations``: let a stack wait for the real outcome of operations longer than a custom
resource's one-hour ``ServiceTimeout`` (a classic resize, a full copy), up to 12 hours.

With ``long_operations=LongOperations(...)`` a cluster construct adds, next to its custom resource,
an ``AWS::CloudFormation::WaitConditionHandle`` and an ``AWS::CloudFormation::WaitCondition`` whose
logical ids carry a hash of the resource's properties: wait conditions cannot be updated, so every
change gets a fresh pair. The handle's URL goes to the resource as ``CompletionSignalUrl``; the
handler answers as soon as AWS has accepted the change and signals the outcome later. The
construct's attributes (the declared end state, which the handler answers early) are tied to the
wait condition, and the condition is a child of the construct, so dependents
(``node.add_dependency(cluster)``) and every resource that uses an attribute wait for the finished
operation, not for the early answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aws_cdk import CfnWaitCondition, CfnWaitConditionHandle, Duration, Fn, Stack, Token
from constructs import Construct

from dbscale.cfn.signal import (
    DATA_SEPARATOR,
    MAX_SIGNAL_TIMEOUT_SECONDS,
    SIGNAL_TIMEOUT_PROPERTY,
    SIGNAL_URL_PROPERTY,
)


@dataclass(frozen=True)
class LongOperations:
    """Wait for operations up to ``timeout`` (a ``Duration`` or ``timedelta``; default 12 hours, the
    most a wait condition allows). The stack fails, and rolls back with the operation's own error,
    when the operation fails or outlasts the timeout.

    :param timeout: how long the wait condition holds the stack for the operation, 1 s to 12 hours.
        Default None: 12 hours (43,200 s).
    """

    timeout: Duration | timedelta | None = None

    def seconds(self) -> int:
        """The timeout in whole seconds (1 to 43,200)."""
        if self.timeout is None:
            return MAX_SIGNAL_TIMEOUT_SECONDS
        if isinstance(self.timeout, timedelta):
            value = self.timeout.total_seconds()
        else:
            if Token.is_unresolved(self.timeout.to_seconds()):
                raise ValueError("LongOperations.timeout must be known at synth time")
            value = self.timeout.to_seconds()
        seconds = int(value)
        if seconds != value or not 1 <= seconds <= MAX_SIGNAL_TIMEOUT_SECONDS:
            raise ValueError(
                f"LongOperations.timeout must be whole seconds from 1 to {MAX_SIGNAL_TIMEOUT_SECONDS} (12 hours), "
                f"got {value:g} s"
            )
        return seconds


class Completion:
    """The wait condition of one cluster construct's current change, and its attributes."""

    def __init__(self, scope: Construct, properties: dict[str, Any], settings: LongOperations) -> None:
        self.timeout_seconds = settings.seconds()
        resolved = Stack.of(scope).resolve({k: v for k, v in properties.items() if k != "Tags"})
        digest = hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:10]
        self.handle = CfnWaitConditionHandle(scope, f"CompletionHandle{digest}")
        self.condition = CfnWaitCondition(
            scope, f"Completion{digest}", handle=self.handle.ref, timeout=str(self.timeout_seconds), count=1
        )
        self._wait: str | None = None
        self._payload: str | None = None

    @property
    def resource_properties(self) -> dict[str, str]:
        """What the custom resource gets: the handle's URL and the timeout."""
        return {SIGNAL_URL_PROPERTY: self.handle.ref, SIGNAL_TIMEOUT_PROPERTY: str(self.timeout_seconds)}

    def attribute(self, name: str, value: str) -> str:
        """``value`` (an attribute of the custom resource: the declared end state, answered early)
        made to depend on the wait condition, so whoever uses it waits for the finished operation.

        ``Fn::Select`` of element 0 of ``["", WaitCondition.Data]`` is the empty string, but
        CloudFormation can only evaluate it once the condition has completed."""
        if self._wait is None:
            self._wait = Fn.select(0, ["", Token.as_string(self.condition.attr_data)])
        return Fn.join("", [value, self._wait])

    def signalled(self, index: int) -> str:
        """Value ``index`` of the success signal's Data (the resource type's ``signal_attributes``
        order), read from the wait condition: for attributes that do not exist before the operation
        has finished (a new clone's endpoints, ARN, secret), so they are never answered early.

        ``WaitCondition.Data`` is the JSON string ``{"<UniqueId>":"<Data>"}`` (one signal, ``Count``
        1): split on ``"`` the Data is element 3; split on ``|``, the values in order. (The attribute
        passes through ``Fn::Select`` of ``["", Data]``, which is Data itself: cfn-lint types the
        attribute as an object and would refuse it as ``Fn::Split``'s string.)"""
        if self._payload is None:
            data = Fn.select(1, ["", Token.as_string(self.condition.attr_data)])
            self._payload = Fn.select(3, Fn.split('"', data))
        return Fn.select(index, Fn.split(DATA_SEPARATOR, self._payload))
