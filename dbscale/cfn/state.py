"""What one invocation knows, and what travels from one invocation to the next.

The resource's ``state`` dict (version :data:`STATE_VERSION`) travels between invocations in the
operation document (:func:`dbscale.cfn.workflow.operation_document`): the runtime keeps its own keys
there (``started``, ``deadline``, ``timeout``, ``signal``, ``outcome``, ``answered`` ...) beside the
resource's. :class:`InvocationState` is what the collaborators of one invocation share (the request,
the state, whether an answer went out or the invocation was stopped); it lives for the call only.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from .request import Request, failed_create_id
from .signal import CompletionSignal

if TYPE_CHECKING:
    from .runtime import Provider

STATE_VERSION = 3
STATE_KEY = "_dbscale"
SLIM_STATE = ("v", "started", "deadline", "timeout", "signal", "signal_timeout", "physical_id", "answered", "outcome")
"""The runtime's keys of a state: all that is kept of a state that outgrew Step Functions' input limit."""
STEP_RESERVE_SECONDS = 120.0
"""No step starts when less Lambda time than this is left (seconds; at most 30% of the invocation):
room for the slowest bounded step, starting the execution and answering."""


def new_state(timeout: int, now: float, signal: CompletionSignal | None) -> dict[str, Any]:
    """The state a request starts with: its deadline answers before CloudFormation gives up
    (``timeout``, its ServiceTimeout), with some slack for the answer itself."""
    margin = min(90.0, max(10.0, timeout * 0.25))
    state: dict[str, Any] = {
        "v": STATE_VERSION,
        "started": now,
        "deadline": now + timeout - margin,
        "timeout": timeout,
        "signal": signal is not None,
    }
    if signal is not None:
        state["signal_timeout"] = signal.timeout_seconds
    return state


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
        self.state: dict[str, Any] = {}
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
        if self.state.get("physical_id"):
            return str(self.state["physical_id"])
        request = self.request
        if request is not None and request.physical_id:
            return request.physical_id
        physical = self.event.get("PhysicalResourceId")
        if isinstance(physical, str) and physical:
            return physical
        return failed_create_id(str(self.fields.get("RequestId") or "unknown"))
