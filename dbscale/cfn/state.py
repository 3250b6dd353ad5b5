"""What one invocation knows, and what travels from one invocation to the next.

:class:`OperationState` is what travels between invocations in the operation document
(:func:`dbscale.cfn.workflow.operation_document`): the runtime's typed fields (``started``,
``deadline``, ``timeout``, ``signal``, ``outcome``, ``answered`` ...) and, under ``resource``, the
resource type's own part (a :class:`ResourceState` dataclass each resource type declares).
:class:`InvocationState` is what the collaborators of one invocation share (the request, the state,
whether an answer went out or the invocation was stopped); it lives for the call only.

The JSON (``to_dict``) is version :data:`STATE_VERSION`. Versions 1 to 3 are read too: they kept the
resource's keys beside the runtime's (1: crhelper's polls, 2: EventBridge poll rules, 3: Step
Functions executions, the release before this one), so an operation saved or in flight when the
provider is updated resumes. A newer version is refused with an error naming it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from dbscale.core.errors import DbscaleError

from .request import Request, failed_create_id
from .signal import CompletionSignal

if TYPE_CHECKING:
    from .runtime import Provider

STATE_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
"""The state versions this release reads (see the module's docstring)."""
STATE_KEY = "_dbscale"
SLIM_STATE = ("v", "started", "deadline", "timeout", "signal", "signal_timeout", "physical_id", "answered", "outcome")
"""The runtime's keys of a state: all that is kept of a state that outgrew Step Functions' input limit."""
RUNTIME_KEYS = (*SLIM_STATE, "signalled", "hold_until", "delivery_attempts", "last_error", "last_detail")
"""Every key the runtime keeps at the top of a state (in versions 1 to 3 the others were the resource's)."""
STEP_RESERVE_SECONDS = 120.0
"""No step starts when less Lambda time than this is left (seconds; at most 30% of the invocation):
room for the slowest bounded step, starting the execution and answering."""


class StateError(DbscaleError):
    """A saved state this release cannot read (a newer version, or a value of the wrong type)."""


@dataclass
class ResourceState:
    """A resource type's own part of the state: a dataclass of JSON values, each with a default.

    Subclasses add fields; ``to_dict`` leaves out the fields at their default (compact: the state
    travels in Step Functions' 256 KiB input), ``from_dict`` refuses a key it does not know."""

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults, as JSON values."""
        blank = type(self)()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(blank, f.name)
        }

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """The part saved by :meth:`to_dict` (or the resource's keys of a version 1-3 state)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise StateError(f"the saved state has keys {cls.__name__} does not know: {', '.join(unknown)}")
        return cls(**data)


R = TypeVar("R", bound=ResourceState)


@dataclass(frozen=True)
class OutcomeRecord:
    """How an operation ended: what its CloudFormation answer (and signal) says."""

    status: str
    """``SUCCESS`` or ``FAILED``."""
    physical_id: str
    reason: str = ""
    data: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON kept in a state's ``outcome``."""
        return {"status": self.status, "physical_id": self.physical_id, "reason": self.reason, "data": self.data}

    @classmethod
    def from_dict(cls, data: Any) -> OutcomeRecord:
        """The outcome saved by :meth:`to_dict` (any version); StateError when it is not one."""
        if not isinstance(data, dict) or data.get("status") not in ("SUCCESS", "FAILED"):
            raise StateError(f"the saved state's outcome is not one: {data!r:.200}")
        return cls(
            str(data["status"]),
            str(data.get("physical_id") or ""),
            str(data.get("reason") or ""),
            {str(k): str(v) for k, v in (data.get("data") or {}).items()},
        )


@dataclass
class OperationState(Generic[R]):
    """What travels from one invocation of a request to the next: the runtime's fields and, in
    ``resource``, the resource type's own. Times are epoch seconds, durations seconds."""

    started: float
    deadline: float
    """When the request is answered at the latest (FAILED with a timeout Reason)."""
    timeout: int
    """CloudFormation's ServiceTimeout of the request."""
    resource: R
    signal: bool = False
    """Whether a completion signal waits for the outcome."""
    signal_timeout: int | None = None
    physical_id: str | None = None
    """Set before a call that may create something: every answer from then on carries it."""
    answered: bool = False
    signalled: bool = False
    outcome: OutcomeRecord | None = None
    hold_until: float = 0.0
    """No step before this time (an older request's change may still be in flight)."""
    delivery_attempts: int = 0
    last_error: str = ""
    last_detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON of version :data:`STATE_VERSION`: fields at their default are left out."""
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "started": self.started,
            "deadline": self.deadline,
            "timeout": self.timeout,
            "signal": self.signal,
        }
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in data or f.name in ("resource", "outcome") or value == f.default:
                continue
            data[f.name] = value
        if self.outcome is not None:
            data["outcome"] = self.outcome.to_dict()
        resource = self.resource.to_dict()
        if resource:
            data["resource"] = resource
        return data

    @classmethod
    def from_dict(cls, data: Any, resource_type: type[R]) -> OperationState[R]:
        """A state saved by this release or an earlier one (versions :data:`READABLE_VERSIONS`);
        StateError for a newer version or a value of the wrong type."""
        if not isinstance(data, dict):
            raise StateError("the saved state is not a JSON object")
        version = data.get("v")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise StateError(
                f"the saved state has version {version!r}; this release reads versions "
                f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]}. An operation saved by a newer provider "
                "cannot be resumed by this one: update the provider again, or retry the stack operation."
            )
        if version == STATE_VERSION:
            own = data.get("resource") or {}
        else:  # versions 1-3 kept the resource's keys beside the runtime's
            own = {k: v for k, v in data.items() if k not in RUNTIME_KEYS}
        try:
            outcome = data.get("outcome")
            return cls(
                started=float(data["started"]),
                deadline=float(data["deadline"]),
                timeout=int(data["timeout"]),
                resource=resource_type.from_dict(own),
                signal=bool(data.get("signal", False)),
                signal_timeout=None if data.get("signal_timeout") is None else int(data["signal_timeout"]),
                physical_id=None if data.get("physical_id") is None else str(data["physical_id"]),
                answered=bool(data.get("answered", False)),
                signalled=bool(data.get("signalled", False)),
                outcome=None if outcome is None else OutcomeRecord.from_dict(outcome),
                hold_until=float(data.get("hold_until") or 0.0),
                delivery_attempts=int(data.get("delivery_attempts") or 0),
                last_error=str(data.get("last_error") or ""),
                last_detail=str(data.get("last_detail") or ""),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise StateError(f"the saved state (version {version}) is not readable: {err!r}") from None

    def slim(self) -> OperationState[R]:
        """Only the :data:`SLIM_STATE` fields (the resource's part blank): what is kept of a state
        that outgrew Step Functions' input limit."""
        return OperationState(
            started=self.started,
            deadline=self.deadline,
            timeout=self.timeout,
            resource=type(self.resource)(),
            signal=self.signal,
            signal_timeout=self.signal_timeout,
            physical_id=self.physical_id,
            answered=self.answered,
            outcome=self.outcome,
        )


def new_state(timeout: int, now: float, signal: CompletionSignal | None, resource: R) -> OperationState[R]:
    """The state a request starts with: its deadline answers before CloudFormation gives up
    (``timeout``, its ServiceTimeout), with some slack for the answer itself."""
    margin = min(90.0, max(10.0, timeout * 0.25))
    return OperationState(
        started=now,
        deadline=now + timeout - margin,
        timeout=timeout,
        resource=resource,
        signal=signal is not None,
        signal_timeout=signal.timeout_seconds if signal is not None else None,
    )


class InvocationState:
    """What the pieces of one Lambda invocation share (see :class:`dbscale.cfn.invocation.Invocation`)."""

    def __init__(self, provider: Provider, event: Any, context: Any) -> None:
        self.provider = provider
        self.resource = provider.resource
        self.clock = provider.clock
        self.event: dict[str, Any] = event if isinstance(event, dict) else {}
        self.context = context
        self.lambda_left = max(0.0, float(context.get_remaining_time_in_millis()) / 1000.0)
        self.started = self.clock.now()
        self.real_end = time.monotonic() + self.lambda_left
        self.reserve = min(STEP_RESERVE_SECONDS, 0.3 * self.lambda_left)
        self.request: Request | None = None
        self.fields: dict[str, Any] = {}
        self.state: OperationState[Any] = new_state(0, self.started, None, self.resource.state_type())
        self.signal: CompletionSignal | None = None
        self.execution_arn: str | None = None
        self.lock = threading.Lock()
        self.answered_here = False  # this invocation sent (or tried to send) a CloudFormation answer
        self.stopped = False  # no further change may be made: answered by the watchdog, or superseded
        self.handing_over = False

    def time_left(self) -> float:
        return self.lambda_left - (self.clock.now() - self.started)

    def send_budget(self) -> float:
        return max(1.0, min(25.0, self.real_end - time.monotonic() - 1.0))

    def logical_id(self) -> str | None:
        return self.request.logical_id if self.request else self.fields.get("LogicalResourceId")

    def failure_physical_id(self) -> str:
        # A resource that may have created something has recorded its id: the rollback Delete
        # then removes it. One that made nothing answers a marker the Delete recognizes.
        if self.state.physical_id:
            return self.state.physical_id
        request = self.request
        if request is not None and request.physical_id:
            return request.physical_id
        physical = self.event.get("PhysicalResourceId")
        if isinstance(physical, str) and physical:
            return physical
        return failed_create_id(str(self.fields.get("RequestId") or "unknown"))
