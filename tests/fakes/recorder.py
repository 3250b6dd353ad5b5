"""Count the AWS API calls made through a boto3 session, by operation, with their parameters."""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_UNIQUE_ID = "dbscale-tests-aws-call-recorder"


@dataclass(frozen=True)
class AwsCall:
    """One API call as the caller made it (before retries): ``service`` is botocore's service
    name (``redshift``, ``rds``, ``sts`` ...), ``operation`` the API name (``ResizeCluster``)."""

    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)


class AwsCallRecorder:
    """Records every API call of clients made from the sessions it is attached to.

    It hooks botocore's ``provide-client-params`` event, emitted once per API call (retries of
    the same call are not counted again) with the caller's own parameters.
    """

    def __init__(self) -> None:
        self.calls: list[AwsCall] = []

    def attach(self, events: Any) -> None:
        """Hook into a session's event system (``boto3.Session().events``)."""
        events.register("provide-client-params", self._record, unique_id=_UNIQUE_ID)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append(AwsCall(model.service_model.service_name, model.name, copy.deepcopy(dict(params))))
        # Returning None keeps the parameters unchanged.

    def count(self, operation: str | None = None, *, service: str | None = None) -> int:
        """Calls of ``operation`` (any when None), of ``service`` (any when None)."""
        return sum(
            1
            for call in self.calls
            if (operation is None or call.operation == operation) and (service is None or call.service == service)
        )

    def operations(self) -> list[str]:
        """The operation names in call order."""
        return [call.operation for call in self.calls]

    def by_operation(self) -> Counter[str]:
        return Counter(self.operations())

    def params(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``operation``, in order."""
        return [call.params for call in self.calls if call.operation == operation]

    def clear(self) -> None:
        self.calls.clear()

    def __len__(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        return f"AwsCallRecorder({dict(self.by_operation())})"
