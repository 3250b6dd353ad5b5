"""The CloudFormation custom resource event: read strictly, and the marker id of a Create that made nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dbscale.core.errors import InvalidRequest

REQUEST_TYPES = ("Create", "Update", "Delete")
_FAILED_MARKER = "DBSCALE-NOT-CREATED-"


@dataclass(frozen=True)
class Request:
    """The parts of a CloudFormation custom resource event the resources use."""

    request_type: str
    stack_id: str
    request_id: str
    logical_id: str
    resource_type: str
    physical_id: str | None
    properties: dict[str, Any]
    old_properties: dict[str, Any] | None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        """Read an event strictly: InvalidRequest names the first field that is missing or wrong."""
        for name in ("StackId", "RequestId", "LogicalResourceId"):
            if not isinstance(event.get(name), str) or not event[name]:
                raise InvalidRequest(f"the event has no {name}", field=name)
        request_type = event.get("RequestType")
        if request_type not in REQUEST_TYPES:
            raise InvalidRequest(
                f"RequestType {request_type!r} is not one of {', '.join(REQUEST_TYPES)}", field="RequestType"
            )
        physical_id = event.get("PhysicalResourceId")
        properties = event.get("ResourceProperties")
        old = event.get("OldResourceProperties")
        if physical_id is not None and not isinstance(physical_id, str):
            raise InvalidRequest("PhysicalResourceId must be a string", field="PhysicalResourceId")
        if properties is not None and not isinstance(properties, dict):
            raise InvalidRequest("ResourceProperties must be an object", field="ResourceProperties")
        if old is not None and not isinstance(old, dict):
            raise InvalidRequest("OldResourceProperties must be an object", field="OldResourceProperties")
        return cls(
            request_type=request_type,
            stack_id=event["StackId"],
            request_id=event["RequestId"],
            logical_id=event["LogicalResourceId"],
            resource_type=str(event.get("ResourceType") or ""),
            physical_id=physical_id,
            properties=dict(properties or {}),
            old_properties=old,
        )

    @property
    def failed_create_id(self) -> str:
        """The PhysicalResourceId of a Create that made nothing: never a valid cluster identifier."""
        return failed_create_id(self.request_id)


def failed_create_id(request_id: str) -> str:
    """The marker PhysicalResourceId of request ``request_id`` when it made nothing."""
    return _FAILED_MARKER + hashlib.sha256(request_id.encode()).hexdigest()[:16]
