"""Step Functions under moto, run for real on a simulated clock, as strict as AWS where moto is not.

moto 5.2.6 interprets Amazon States Language when ``mock_aws(config={"stepfunctions":
{"execute_state_machine": True}})`` is active: one daemon thread per execution, one more per
program and one per task, all waiting in *real* time (Wait states, Retry backoff, task and
execution timeouts), and Lambda tasks calling moto's Lambda. :class:`StepFunctionsSim` makes it
usable for dbscale's long operations (:func:`dbscale.cfn.workflow.definition`):

* **Time.** Every thread moto starts for an execution, and the test's own thread, is a participant
  of a :class:`SharedClock`: a discrete-event scheduler on which a participant's ``sleep(t)`` (and
  every wait of moto's: Wait states, Retry backoff, ``TimeoutSeconds`` of tasks and executions)
  blocks until every participant is asleep or finished, then the sleeper due first is woken with
  the clock at its wake time. Twelve hours of polling take a few seconds; concurrent executions
  share one timeline instead of adding up their sleeps. History timestamps, ``startDate`` and
  ``stopDate`` and ``$$.State.EnteredTime`` are on the clock.
* **Lambda.** Tasks invoke in-process Python handlers (``handler(event, context)``), each in a
  participant thread of its own, with Lambda's timeout on the clock (``Sandbox.Timedout``), the
  Python runtime's unhandled-error payload, injected faults (:meth:`StepFunctionsSim.fail_next`) and
  a record of every invocation.
* **Strictness** (moto does none of it): the 25,000-event history quota, the 256 KiB execution input
  limit at StartExecution and on the input a task sends after ``Parameters``, StopExecution ending
  the execution ABORTED at once whatever an in-flight task does later, and GetExecutionHistory's
  paging (``maxResults``, ``nextToken``, ``reverseOrder``, ``includeExecutionData``).

The patches touch moto internals listed in :data:`REQUIRED_SYMBOLS`; :func:`check_required_symbols`
(run on entering a sim, and by the tests) names any that moved. Everything is put back on exit.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _datetime
import hashlib
import importlib
import itertools
import json
import math
import threading
import time as _time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, cast

from .clock import DEFAULT_START, FakeClock
from .moto_shims import ShimObsolete
from .patching import Patcher

# --- AWS facts ------------------------------------------------------------------------------------

HISTORY_EVENT_LIMIT = 25_000
"""Events in one Standard execution's history. "Maximum execution history size: 25,000 events in a
single state machine execution history. If the execution history reaches this quota, the execution
will fail." (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). "When an
execution reaches 24,999 events, it waits for the next event to happen. If the event number 25,000 is
ExecutionSucceeded, the execution finishes successfully. If the event number 25,000 isn't
ExecutionSucceeded, the ExecutionFailed event is logged"
(https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html)."""
HISTORY_LIMIT_ERROR = "States.Runtime"
"""The ExecutionFailed error of an execution that reached the quota, as AWS reports it
(https://github.com/loads/ardere/issues/86: ``{"error": "States.Runtime", "cause": "The execution
reached the maximum number of history events (25000)."}``)."""
PAYLOAD_LIMIT_BYTES = 262_144
"""256 KiB, UTF-8: "Maximum input or output size for a task, state, or execution"
(https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); StartExecution's
``input``: "Length Constraints: Maximum length of 262144 ... expressed as bytes in UTF-8 encoding"
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)."""
INPUT_TOO_LARGE_ERROR = "ValidationException"
"""StartExecution with a longer ``input``: a modeled length constraint, which AWS's JSON services
refuse with ``ValidationException`` (StartExecution answers "ValidationException: 1 validation error
detected: Value '...' at 'name' failed to satisfy constraint: Member must have length less than or equal
to 80" for its name's constraint, https://github.com/wolfeidau/buildkite-serverless-agent/issues/37).
Not confirmed against AWS for ``input`` (InvalidExecutionInput is documented only as "The provided JSON
input data is not valid")."""
DATA_LIMIT_ERROR = "States.DataLimitExceeded"
"""A state's input after Parameters, a connector's output or a state's output over the limit
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). AWS, recorded by
LocalStack's validated snapshots (tests/aws/services/stepfunctions/v2/error_handling/
test_states_errors.snapshot.json), lets ``States.ALL`` catch it on a task's result (TaskFailed), and
fails the execution outright on a state's output (ExecutionFailed): moto does both already."""
CHOICE_PATH_ERROR = "States.Runtime"
"""A Choice rule (other than ``IsPresent``) whose ``Variable`` is not in the input fails the execution:
"Invalid path '$.x': The choice state's condition path references an invalid value." (not in the AWS
pages reachable here; the tests of several independent Step Functions emulators assert it; moto counts
the rule as not matching and goes on).
dbscale's ``Next`` state reads ``$.outcome`` whenever ``phase`` is neither ``check`` nor ``wait``."""
LAMBDA_TIMEOUT_ERROR = "Sandbox.Timedout"
"""The ``errorType`` Lambda reports for a function that ran out of time ("Lambda: Function times out
... (Sandbox.Timedout)", https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html);
the ``lambda:invoke`` integration names a function error after the payload's ``errorType``."""
HISTORY_PAGE_DEFAULT = 100
HISTORY_PAGE_MAX = 1_000
"""GetExecutionHistory's ``maxResults``: "The default is 100 and the maximum allowed page size is
1000. A value of 0 uses the default." (API_GetExecutionHistory)."""

# The moto internals this module patches or reads (moto 5.2.6). Dotted names are class attributes.
_PARSER = "moto.stepfunctions.parser"
_STATE = f"{_PARSER}.asl.component.state"
REQUIRED_SYMBOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("moto.core.config", ("default_user_config",)),
    (
        "moto.stepfunctions.responses",
        (
            "StepFunctionResponse.get_execution_history",
            "StepFunctionResponse.stop_execution",
            "StepFunctionResponse.describe_execution",
            "StepFunctionResponse.list_executions",
        ),
    ),
    ("moto.stepfunctions.exceptions", ("ValidationException", "InvalidToken")),
    (f"{_PARSER}.models", ("datetime", "StepFunctionsParserBackend.start_execution")),
    (
        f"{_PARSER}.backend.execution",
        (
            "datetime",
            "Execution.stop",
            "Execution._get_start_execution_worker",
            "BaseExecutionWorkerCommunication._reflect_execution_status",
        ),
    ),
    (f"{_PARSER}.backend.execution_worker", ("Thread", "ExecutionWorker._get_evaluation_environment")),
    (f"{_PARSER}.asl.component.program.program", ("threading",)),
    (f"{_STATE}.exec.execute_state", ("Thread", "threading")),
    (f"{_STATE}.wait.wait_function.wait_function", ("WaitFunction._wait_interval",)),
    (f"{_STATE}.wait.wait_function.timestamp", ("datetime",)),
    (f"{_STATE}.state", ("datetime", "is_within_size_quota")),
    (f"{_STATE}.exec.state_task.service.state_task_service", ("is_within_size_quota",)),
    (f"{_STATE}.exec.state_task.state_task_lambda", ("is_within_size_quota",)),
    (
        f"{_STATE}.exec.state_task.lambda_eval_utils",
        ("_invoke_lambda_function", "execute_lambda_function_integration"),
    ),
    (f"{_PARSER}.asl.component.common.retry.retrier_decl", ("time",)),
    (f"{_PARSER}.asl.eval.event.event_manager", ("EventManager.add_event", "EventManager._get_current_timestamp")),
    (f"{_PARSER}.asl.eval.event.event_manager", ("EventHistoryContext",)),
    (f"{_PARSER}.asl.component.common.error_name.failure_event", ("FailureEvent", "FailureEventException")),
    (f"{_PARSER}.asl.component.common.error_name.states_error_name", ("StatesErrorName",)),
    (
        f"{_PARSER}.asl.component.common.error_name.states_error_name_type",
        ("StatesErrorNameType.StatesStatesDataLimitExceeded",),
    ),
    (f"{_PARSER}.api", ("ExecutionStatus", "HistoryEventType")),
    (f"{_STATE}.choice.comparison.comparison_variable", ("ComparisonVariable._eval_body",)),
    (f"{_STATE}.choice.comparison.variable", ("NoSuchVariable",)),
    (f"{_STATE}.choice.comparison.comparison_operator_type", ("ComparisonOperatorType.IsPresent",)),
    (f"{_PARSER}.asl.component.common.error_name.states_error_name_type", ("StatesErrorNameType.StatesRuntime",)),
)


def _moto_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moto")
    except PackageNotFoundError:
        return "unknown"


_ABSENT = object()


def missing_symbols() -> list[str]:
    """The entries of :data:`REQUIRED_SYMBOLS` this moto lacks (``module:attribute``)."""
    missing: list[str] = []
    for module_name, names in REQUIRED_SYMBOLS:
        try:
            module: Any = importlib.import_module(module_name)
        except ImportError:
            missing.extend(f"{module_name}:{name}" for name in names)
            continue
        for name in names:
            target = module
            for part in name.split("."):
                target = getattr(target, part, _ABSENT)
                if target is _ABSENT:
                    missing.append(f"{module_name}:{name}")
                    break
    return missing


def check_required_symbols() -> None:
    """Raise :class:`ShimObsolete` naming every moto symbol this module needs that has moved."""
    missing = missing_symbols()
    if missing:
        raise ShimObsolete(
            f"moto {_moto_version()} no longer has {', '.join(missing)}, which tests/fakes/stepfunctions.py "
            "patches (written for moto 5.2.6; pyproject.toml pins moto <5.3): review the fake against moto's "
            "moto/stepfunctions/parser"
        )


# --- the shared simulated clock -------------------------------------------------------------------

_RUNNING, _WAITING, _DONE = "running", "waiting", "done"


class SimulationStalled(RuntimeError):
    """A waiter gave up (``stall_timeout`` real seconds) on participants that never went back to sleep."""


class Participant:
    """One thread taking part in a :class:`SharedClock`'s schedule."""

    def __init__(self, clock: SharedClock, name: str) -> None:
        self.name = name
        self.state = _RUNNING
        self.wake = math.inf
        self.seq = 0
        self.predicate: Callable[[], bool] | None = None
        self.granted = False
        self.reason = ""
        self.released = False
        self.kill_exc: BaseException | None = None
        self.lazy_until: float | None = None
        self.grants_at_start = 0
        self.stall_timeout: float | None = None
        self.cond = threading.Condition(clock._lock)

    @property
    def done(self) -> bool:
        return self.state == _DONE

    def __repr__(self) -> str:
        return f"Participant({self.name}, {self.state}, wake={self.wake})"


class SharedClock(FakeClock):
    """A :class:`FakeClock` several threads share as a discrete-event scheduler.

    *Participants* (threads enlisted with :meth:`enlist` and :meth:`bind`) block in :meth:`sleep`
    and :meth:`wait_until` until every participant is asleep or finished; then the one due first is
    woken: a waiter whose condition holds (first come first), else the earliest wake time (ties:
    first come), with the clock moved to it. A participant that is not in one of those calls (running
    Python, or blocked in real I/O or on a lock) holds virtual time still until it sleeps again, so
    no participant ever sees time jump while it works. Any other thread's ``sleep`` advances the clock
    at once, as :class:`FakeClock` does; :meth:`now` works from any thread.

    Conditions passed to :meth:`wait_until` are evaluated under the clock's lock by whichever thread
    schedules: they must be quick and must not block. A non-participant that makes one come true
    calls :meth:`notify`.
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        super().__init__(start)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._participants: list[Participant] = []
        self._running = 0
        self._seq = itertools.count()
        self._grants = 0
        self._closed = False

    # -- membership ---------------------------------------------------------------------------------

    def enlist(self, name: str) -> Participant | None:
        """A new participant, running, not yet bound to a thread (enlist in the parent before
        starting a thread, so that time cannot move before the thread runs). None once closed."""
        with self._lock:
            if self._closed:
                return None
            participant = Participant(self, name)
            self._participants.append(participant)
            self._running += 1
            return participant

    def bind(self, participant: Participant | None) -> None:
        """Make ``participant`` the calling thread's identity on this clock."""
        self._local.participant = participant

    def retire(self, participant: Participant | None) -> None:
        """``participant`` finished (its thread ends, or it leaves the simulation)."""
        if participant is None:
            return
        with self._lock:
            if participant.state == _RUNNING:
                self._running -= 1
            participant.state = _DONE
            if participant in self._participants:
                self._participants.remove(participant)
            self._schedule()
        if getattr(self._local, "participant", None) is participant:
            self._local.participant = None

    def current(self) -> Participant | None:
        """The calling thread's participant, if it is one."""
        participant = getattr(self._local, "participant", None)
        return participant if participant is not None and participant.state != _DONE else None

    def kill(self, participant: Participant, exc: BaseException) -> None:
        """Raise ``exc`` in ``participant`` from its current or next wait on this clock."""
        with self._lock:
            participant.kill_exc = exc
            self._schedule()

    def notify(self) -> None:
        """Something a waiter's condition reads changed (from a thread that is not sleeping)."""
        with self._lock:
            self._schedule()

    def close(self) -> None:
        """Stop scheduling: every waiting participant returns now, and every later wait of a
        participant returns at once without moving time."""
        with self._lock:
            self._closed = True
            for participant in self._participants:
                participant.released = True
                if participant.state == _WAITING and not participant.granted:
                    self._grant(participant, "closed")

    def reopen(self) -> None:
        """Schedule again after :meth:`close` (a new simulation on the same clock)."""
        with self._lock:
            self._participants = [p for p in self._participants if p.state != _DONE and not p.released]
            self._running = sum(1 for p in self._participants if p.state == _RUNNING)
            self._closed = False

    @property
    def participants(self) -> list[Participant]:
        with self._lock:
            return list(self._participants)

    # -- time ---------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += float(seconds)

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        participant = self.current()
        if participant is None:
            with self._lock:
                self._now += seconds
            return
        self._wait(participant, seconds, None)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until ``predicate()`` holds or ``timeout`` virtual seconds passed; whether it holds.

        Outside the simulation (not a participant) the condition is checked once and, if it does
        not hold, the clock advances by ``timeout`` as a plain sleep would."""
        participant = self.current()
        if participant is None:
            if predicate():
                return True
            if timeout:
                with self._lock:
                    self._now += max(0.0, float(timeout))
            return predicate()
        return self._wait(participant, timeout, predicate)

    def sleep_watching(self, until: float, step: float, *, stall_timeout: float | None = None) -> None:
        """Sleep until ``step`` seconds passed *and* another participant was woken, or until the clock
        reads ``until``: a waiter's loop that checks something other participants change, without
        waking once per ``step`` through hours in which nobody else runs."""
        participant = self.current()
        if participant is None:
            self.sleep(max(0.0, min(step, until - self._now)))
            return
        with self._lock:
            participant.lazy_until = until
            participant.grants_at_start = self._grants
        try:
            self._wait(participant, max(0.0, min(step, until - self._now)), None, stall_timeout=stall_timeout)
        finally:
            participant.lazy_until = None

    def _wait(
        self,
        participant: Participant,
        timeout: float | None,
        predicate: Callable[[], bool] | None,
        *,
        stall_timeout: float | None = None,
    ) -> bool:
        with self._lock:
            if participant.kill_exc is None:
                if self._closed or participant.released:
                    return predicate() if predicate is not None else True
                if predicate is not None and predicate():
                    return True
                participant.state = _WAITING
                participant.wake = math.inf if timeout is None else self._now + max(0.0, float(timeout))
                participant.seq = next(self._seq)
                participant.predicate = predicate
                participant.granted = False
                self._running -= 1
                if participant.lazy_until is not None:
                    participant.grants_at_start = self._grants
                self._schedule()
                stall = stall_timeout or participant.stall_timeout
                while not participant.granted:
                    if not participant.cond.wait(timeout=stall):
                        self._ungrant_stalled(participant)
                reason = participant.reason
            else:
                reason = "killed"
        if participant.kill_exc is not None:
            raise participant.kill_exc
        if reason == "closed":
            return predicate() if predicate is not None else True
        return reason == "predicate" or predicate is None

    def _ungrant_stalled(self, participant: Participant) -> None:
        # lock held: give up waiting, become running again, say who holds time still
        if participant.state == _WAITING:
            participant.state = _RUNNING
            participant.granted = True
            self._running += 1
        busy = [p.name for p in self._participants if p.state == _RUNNING and p is not participant]
        raise SimulationStalled(
            f"virtual time has not moved for a while: {participant.name} waited in vain for "
            f"{', '.join(busy) or 'nobody'} to sleep (blocked in real I/O or on a lock?)"
        )

    def _grant(self, participant: Participant, reason: str) -> None:
        # lock held
        participant.state = _RUNNING
        participant.granted = True
        participant.reason = reason
        participant.predicate = None
        self._running += 1
        self._grants += 1
        participant.cond.notify()

    def _schedule(self) -> None:
        # lock held: wake the participant due next once nobody runs
        if self._closed or self._running > 0:
            return
        waiting = [p for p in self._participants if p.state == _WAITING and not p.granted]
        if not waiting:
            return
        ready = [p for p in waiting if p.kill_exc is not None or (p.predicate is not None and p.predicate())]
        if ready:
            self._grant(min(ready, key=lambda p: p.seq), "predicate")
            return
        deferred = False
        while True:
            timed = [p for p in waiting if p.wake != math.inf]
            if not timed:
                return  # only a non-participant (notify) can wake anyone now
            first = min(timed, key=lambda p: (p.wake, p.seq))
            if first.lazy_until is not None and self._grants == first.grants_at_start and not deferred:
                later = min((p.wake for p in timed if p is not first), default=math.inf)
                target = min(first.lazy_until, later)
                if target >= first.wake:
                    # nobody else ran since it went to sleep: nothing to look at before the next event
                    first.wake, first.seq, deferred = target, next(self._seq), True
                    continue
            break
        self._now = max(self._now, first.wake)
        self._grant(first, "timeout")


# --- moto's threads and waits, on the clock ------------------------------------------------------


def _participant_thread_class(clock: SharedClock, threads: list[threading.Thread]) -> type[threading.Thread]:
    class ParticipantThread(threading.Thread):
        """A moto thread that takes part in the simulation (enlisted by its starter)."""

        _sim_participant: Participant | None = None

        def start(self) -> None:
            self._sim_participant = clock.enlist(f"moto:{self.name}")
            threads.append(self)
            try:
                super().start()
            except BaseException:
                clock.retire(self._sim_participant)
                raise

        def run(self) -> None:
            clock.bind(self._sim_participant)
            try:
                super().run()
            finally:
                clock.retire(self._sim_participant)

        def join(self, timeout: float | None = None) -> None:
            participant = self._sim_participant
            if participant is None or clock.current() is None:
                super().join(timeout)
                return
            if clock.wait_until(lambda: participant.done, timeout):
                super().join()  # it has retired: its thread is ending

    return ParticipantThread


def _virtual_event_class(clock: SharedClock) -> type[threading.Event]:
    class VirtualEvent(threading.Event):
        """A ``threading.Event`` whose ``wait(timeout)`` counts virtual seconds for participants."""

        def wait(self, timeout: float | None = None) -> bool:
            if clock.current() is None:
                return super().wait(timeout)
            return clock.wait_until(self.is_set, timeout)

        def set(self) -> None:
            super().set()
            clock.notify()

    return VirtualEvent


class _ModuleProxy:
    """A module's stand-in: the given attributes, everything else from the module."""

    def __init__(self, module: Any, **overrides: Any) -> None:
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def _datetime_module(clock: FakeClock) -> _ModuleProxy:
    real = _datetime.datetime

    class ClockDatetime(_datetime.datetime):
        """``datetime.datetime`` whose ``now`` reads the clock (its values are plain datetimes)."""

        @classmethod
        def now(cls, tz: _datetime.tzinfo | None = None) -> Any:
            return real.fromtimestamp(clock.now(), tz)

        @classmethod
        def utcnow(cls) -> Any:
            return real.fromtimestamp(clock.now(), _datetime.timezone.utc).replace(tzinfo=None)

        @classmethod
        def today(cls) -> Any:
            return real.fromtimestamp(clock.now())

    return _ModuleProxy(_datetime, datetime=ClockDatetime)


def _closed_fields(data: dict[str, Any], execution: Any) -> None:
    if str(data.get("status", "")) != "RUNNING" and data.get("stopDate") is None and execution.stop_date is not None:
        data["stopDate"] = execution.stop_date


def _failure(env: Any, error_type: str, event_type: str, details: dict[str, Any]) -> Exception:
    """The exception moto's interpreter turns into a failure event: ``error_type`` names a
    ``StatesErrorNameType`` member, ``event_type`` a ``HistoryEventType`` member, ``details`` the
    event's details (keyed as in the history, e.g. ``taskFailedEventDetails``)."""
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    return FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=getattr(StatesErrorNameType, error_type)),
            event_type=getattr(HistoryEventType, event_type),
            event_details=cast(Any, details),
        )
    )


def _strict_comparison_variable(self: Any, env: Any) -> None:
    """ComparisonVariable._eval_body, failing as AWS does on a missing ``Variable``."""
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
        ComparisonOperatorType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable

    self.variable.eval(env)
    if isinstance(env.stack[-1], NoSuchVariable) and (
        self.comparison_function.operator_type != ComparisonOperatorType.IsPresent
    ):
        env.stack.pop()
        path = getattr(self.variable.string_sampler, "literal_value", "?")
        raise _failure(
            env,
            "StatesRuntime",
            "ExecutionFailed",
            {
                "executionFailedEventDetails": {
                    "error": CHOICE_PATH_ERROR,
                    "cause": f"Invalid path '{path}': The choice state's condition path references an invalid value.",
                }
            },
        )
    self.comparison_function.eval(env)


# --- in-process Lambda functions -------------------------------------------------------------------


class Invocation(NamedTuple):
    """One task invocation: which function (as registered), its event, virtual start and end, and
    ``"ok"`` or the error name the task saw."""

    function: str
    payload: Any
    start: float
    end: float
    outcome: str


class LambdaContext:
    """The handler's ``context``, as the Python runtime gives it (the parts handlers read)."""

    function_version = "$LATEST"

    def __init__(
        self, clock: FakeClock, function_name: str, arn: str, request_id: str, memory: int, deadline: float
    ) -> None:
        self._clock = clock
        self._deadline = deadline
        self.function_name = function_name
        self.invoked_function_arn = arn
        self.aws_request_id = request_id
        self.memory_limit_in_mb = memory
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"2025/01/15/[$LATEST]{request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, round((self._deadline - self._clock.now()) * 1000))


class _LambdaKilled(BaseException):
    """Raised in a handler past its timeout (Lambda stops the sandbox: nothing after it runs)."""


def _parse_function(reference: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function name, partial ARN or ARN, qualified or not."""
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return (parts[6] if len(parts) > 6 else reference), (parts[7] if len(parts) > 7 else None)
    if ":function:" in reference:
        rest = reference.split(":function:", 1)[1]
        name, _, qualifier = rest.partition(":")
        return name, qualifier or None
    name, _, qualifier = reference.partition(":")
    return name, qualifier or None


def _json_default(value: Any) -> str:
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


def _client_error(code: str, message: str, status: int, request_id: str) -> Exception:
    from botocore.exceptions import ClientError

    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id},
    }
    return ClientError(response, "Invoke")


_LAMBDA_SERVICE_ERRORS = {
    "TooManyRequestsException": (429, "Rate Exceeded."),
    "ServiceException": (500, "An error occurred while invoking the function."),
    "AWSLambdaException": (500, "An error occurred while invoking the function."),
    "ResourceNotFoundException": (404, "Function not found"),
}


# --- the simulation --------------------------------------------------------------------------------


@dataclass
class _Run:
    """The sim's view of one execution."""

    execution: Any
    env: Any = None
    last_id: int = 0
    closed: bool = False
    sealed: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


_TERMINAL_EVENTS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})


_DATA_KEYS = ("input", "inputDetails", "output", "outputDetails")


class StepFunctionsSim:
    """moto's Step Functions interpreter on ``clock``, with Lambda tasks run by ``functions``.

    Use inside ``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``::

        with StepFunctionsSim(clock, {function_arn: handler}) as sim:
            sfn.start_execution(...)
            sim.settle()

    ``functions`` maps a function ARN (or name) to ``handler(event, context)``; a task's
    ``FunctionName`` finds it by the same ARN, the ARN with a ``:qualifier``, or the plain name.
    Executions started inside the block run on the clock; on exit every one still running is stopped
    and every thread the simulation holds is released and joined.
    """

    def __init__(
        self,
        clock: SharedClock,
        functions: dict[str, Callable[[dict[str, Any], Any], Any]],
        *,
        lambda_timeout: float = 900.0,
        history_limit: int = HISTORY_EVENT_LIMIT,
        memory_limit_in_mb: int = 1024,
        stall_timeout: float = 60.0,
    ) -> None:
        if not isinstance(clock, SharedClock):
            raise TypeError("StepFunctionsSim needs a SharedClock (a FakeClock cannot schedule threads)")
        self.clock = clock
        self.functions = dict(functions)
        self.lambda_timeout = float(lambda_timeout)
        self.history_limit = int(history_limit)
        self.memory_limit_in_mb = memory_limit_in_mb
        self.stall_timeout = stall_timeout
        self.invocations: list[Invocation] = []
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}  # id(execution) -> run
        self._runs_by_manager: dict[int, _Run] = {}  # id(event manager) -> run
        self._worker_runs: dict[int, _Run] = {}  # id(execution worker) -> run
        self._executions: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._handler_participants: list[Participant] = []
        self._patcher = Patcher()
        self._original_add_event: Any = None
        self._main: Participant | None = None
        self._active = False

    # -- public API ---------------------------------------------------------------------------------

    def fail_next(self, error: str, count: int = 1) -> None:
        """The next ``count`` task invocations fail with ``error`` without running the handler: a
        ``Lambda.*`` name fails the Invoke call itself (the task sees that name, e.g.
        ``Lambda.TooManyRequestsException``); any other name is reported as the function's
        ``errorType`` (e.g. ``Sandbox.Timedout``, ``RuntimeError``)."""
        with self._lock:
            self._faults.extend([error] * count)

    @property
    def execution_arns(self) -> list[str]:
        """The executions started during the simulation, oldest first."""
        return [execution.exec_arn for execution in self._executions]

    def status(self, execution_arn: str) -> str:
        """An execution's status, read from moto directly (no API call)."""
        for execution in self._executions:
            if execution.exec_arn == execution_arn:
                return str(execution.exec_status.value)
        raise KeyError(execution_arn)

    def running(self) -> list[str]:
        """The executions of the simulation that are still RUNNING."""
        return [e.exec_arn for e in self._executions if str(e.exec_status.value) == "RUNNING"]

    def run_for(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (the test's thread sleeps; executions progress)."""
        self._require_main("run_for")
        self.clock.sleep(seconds)

    def run_until(self, predicate: Callable[[], bool], *, max_seconds: float, step: float = 1.0) -> bool:
        """Let virtual time pass until ``predicate()`` holds (checked at least every ``step`` virtual
        seconds while anything happens, and not at all while nothing does) or ``max_seconds``
        passed. Whether it holds. ``predicate`` runs in the test's thread (API calls are fine)."""
        self._require_main("run_until")
        end = self.clock.now() + max_seconds
        while True:
            if predicate():
                return True
            if self.clock.now() >= end:
                return bool(predicate())
            self.clock.sleep_watching(end, step, stall_timeout=self.stall_timeout)

    def settle(self, max_seconds: float = 14 * 86_400.0) -> bool:
        """Run until no execution of the simulation is RUNNING; whether that happened in time."""
        return self.run_until(lambda: not self.running(), max_seconds=max_seconds)

    # -- context manager ----------------------------------------------------------------------------

    def __enter__(self) -> StepFunctionsSim:
        check_required_symbols()
        from moto.core.config import default_user_config

        if not default_user_config.get("stepfunctions", {}).get("execute_state_machine", False):
            raise RuntimeError(
                'StepFunctionsSim needs mock_aws(config={"stepfunctions": {"execute_state_machine": True}}) active'
            )
        if self._active:
            raise RuntimeError("this StepFunctionsSim is already active")
        self.clock.reopen()
        self._main = self.clock.enlist(f"main:{threading.current_thread().name}")
        if self._main is not None:
            self._main.stall_timeout = self.stall_timeout
        self.clock.bind(self._main)
        try:
            self._install()
        except BaseException:
            self._patcher.restore()
            self.clock.retire(self._main)
            raise
        self._active = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            for execution in list(self._executions):
                self._stop(execution, "dbscale.SimulationEnded", "the test's StepFunctionsSim ended")
            with self._lock:
                handlers = list(self._handler_participants)
            for participant in handlers:
                if not participant.done:
                    self.clock.kill(participant, _LambdaKilled())
            self.clock.close()
            self.clock.retire(self._main)
            deadline = _time.monotonic() + 10.0
            for thread in list(self._threads):
                thread.join(max(0.0, deadline - _time.monotonic()))
            alive = [t.name for t in self._threads if t.is_alive()]
        finally:
            self._patcher.restore()
            self._active = False
        if alive and exc_type is None:
            raise RuntimeError(f"threads of the Step Functions simulation still alive after its end: {alive}")

    @property
    def threads(self) -> list[threading.Thread]:
        """Every thread the simulation started (moto's and the handlers')."""
        return list(self._threads)

    # -- internals ------------------------------------------------------------------------------------

    def _require_main(self, what: str) -> None:
        if not self._active or self.clock.current() is not self._main:
            raise RuntimeError(f"{what}() is for the thread that entered the active StepFunctionsSim")

    def _install(self) -> None:
        from moto.stepfunctions import responses
        from moto.stepfunctions.parser import models
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.program import program
        from moto.stepfunctions.parser.asl.component.state import state
        from moto.stepfunctions.parser.asl.component.state.choice.comparison import comparison_variable
        from moto.stepfunctions.parser.asl.component.state.exec import execute_state
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
            lambda_eval_utils,
            state_task_lambda,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function
        from moto.stepfunctions.parser.asl.eval.event import event_manager
        from moto.stepfunctions.parser.backend import execution as backend_execution
        from moto.stepfunctions.parser.backend import execution_worker

        clock, patch, sim = self.clock, self._patcher.set, self

        thread_class = _participant_thread_class(clock, self._threads)
        event_class = _virtual_event_class(clock)
        patch(execution_worker, "Thread", thread_class)
        patch(execute_state, "Thread", thread_class)
        patch(execute_state, "threading", _ModuleProxy(threading, Event=event_class))
        patch(program, "threading", _ModuleProxy(threading, Thread=thread_class))
        patch(retrier_decl, "time", _ModuleProxy(_time, sleep=clock.sleep))
        clock_datetime = _datetime_module(clock)
        for module in (models, backend_execution, state, timestamp):
            patch(module, "datetime", clock_datetime)
        patch(event_manager.EventManager, "_get_current_timestamp", staticmethod(clock.utc))

        def within_quota(value: Any) -> bool:
            # moto: under 256 KiB of JSON with spaces after separators; AWS: up to 256 KiB, compact
            text = (
                value
                if isinstance(value, str)
                else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
            )
            return len(text.encode("utf-8")) <= PAYLOAD_LIMIT_BYTES

        for module in (state, state_task_service, state_task_lambda):
            patch(module, "is_within_size_quota", within_quota)

        def wait_interval(self_: Any, env: Any, wait_seconds: int) -> None:
            if wait_seconds > 0:
                clock.wait_until(lambda: not env.is_running(), wait_seconds)

        patch(wait_function.WaitFunction, "_wait_interval", wait_interval)
        patch(comparison_variable.ComparisonVariable, "_eval_body", _strict_comparison_variable)

        original_get_worker: Any = backend_execution.Execution._get_start_execution_worker

        def get_start_execution_worker(self_: Any) -> Any:
            worker = original_get_worker(self_)
            run = sim._run_of(self_)
            with sim._lock:
                sim._worker_runs[id(worker)] = run
            return worker

        patch(backend_execution.Execution, "_get_start_execution_worker", get_start_execution_worker)

        original_get_env: Any = execution_worker.ExecutionWorker._get_evaluation_environment

        def get_evaluation_environment(self_: Any) -> Any:
            env = original_get_env(self_)
            with sim._lock:
                run = sim._worker_runs.get(id(self_))
                if run is not None:
                    run.env = env
                    sim._runs_by_manager[id(env.event_manager)] = run
            return env

        patch(execution_worker.ExecutionWorker, "_get_evaluation_environment", get_evaluation_environment)

        original_add_event: Any = event_manager.EventManager.add_event
        self._original_add_event = original_add_event

        def add_event(
            self_: Any,
            context: Any,
            event_type: Any,
            event_details: Any = None,
            timestamp: Any = None,
            update_source_event_id: bool = True,
        ) -> int:
            run = sim._runs_by_manager.get(id(self_))
            if run is None:
                return int(
                    original_add_event(self_, context, event_type, event_details, timestamp, update_source_event_id)
                )
            return sim._add_event(run, self_, context, event_type, event_details, update_source_event_id)

        patch(event_manager.EventManager, "add_event", add_event)

        original_reflect: Any = backend_execution.BaseExecutionWorkerCommunication._reflect_execution_status

        def reflect_execution_status(self_: Any) -> None:
            run = sim._runs.get(id(self_.execution))
            if run is None:
                original_reflect(self_)
                return
            with run.lock:
                if run.sealed:
                    return  # stopped or failed by the simulation: its status and stopDate stand
                original_reflect(self_)
                run.sealed = True
                if str(self_.execution.exec_status.value) == "TIMED_OUT" and not run.closed:
                    # the program thread writes it when it next looks; AWS writes it at the timeout
                    sim._write(run, "ExecutionTimedOut", {"executionTimedOutEventDetails": {}})
                run.closed = True

        patch(backend_execution.BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect_execution_status)

        def stop(self_: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
            sim._stop(self_, error or None, cause or None)

        patch(backend_execution.Execution, "stop", stop)

        original_start: Any = models.StepFunctionsParserBackend.start_execution

        def start_execution(
            self_: Any,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Any:
            from moto.stepfunctions.exceptions import ValidationException

            if execution_input is not None and len(execution_input.encode("utf-8")) > PAYLOAD_LIMIT_BYTES:
                raise ValidationException(
                    "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {PAYLOAD_LIMIT_BYTES}"
                )
            execution = original_start(
                self_, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
            )
            with sim._lock:
                if all(e is not execution for e in sim._executions):
                    sim._executions.append(execution)
            return execution

        patch(models.StepFunctionsParserBackend, "start_execution", start_execution)

        def invoke_lambda_function(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
            return sim._invoke(parameters, region)

        patch(lambda_eval_utils, "_invoke_lambda_function", invoke_lambda_function)

        original_integration: Any = lambda_eval_utils.execute_lambda_function_integration

        def execute_lambda_function_integration(
            env: Any, parameters: dict[str, Any], region: str, state_credentials: Any
        ) -> None:
            sim._check_task_input(env, parameters)
            original_integration(env=env, parameters=parameters, region=region, state_credentials=state_credentials)

        patch(lambda_eval_utils, "execute_lambda_function_integration", execute_lambda_function_integration)

        def get_execution_history(self_: Any) -> Any:
            return sim._history_page(self_)

        patch(responses.StepFunctionResponse, "get_execution_history", get_execution_history)

        def stop_execution(self_: Any) -> Any:
            from moto.core.responses import ActionResult

            execution = self_.stepfunction_backend.describe_execution(self_._get_param("executionArn"))
            sim._stop(execution, self_._get_param("error"), self_._get_param("cause"))
            return ActionResult({"stopDate": execution.stop_date})

        patch(responses.StepFunctionResponse, "stop_execution", stop_execution)

        original_describe: Any = responses.StepFunctionResponse.describe_execution
        original_list: Any = responses.StepFunctionResponse.list_executions

        def describe_execution(self_: Any) -> Any:
            # moto: no stopDate for TIMED_OUT (AWS gives every closed execution one), and the output
            # re-serialized with spaces (AWS: the state's output as it is, compact JSON)
            result = original_describe(self_)
            data: Any = result.result
            execution = self_.stepfunction_backend.describe_execution(self_._get_param("executionArn"))
            _closed_fields(data, execution)
            if "output" in data and not isinstance(execution.output, str):
                data["output"] = json.dumps(execution.output, separators=(",", ":"), ensure_ascii=False)
            return result

        def list_executions(self_: Any) -> Any:
            result = original_list(self_)
            listed: Any = result.result
            for item in listed.get("executions", []):
                if "stopDate" not in item and item.get("status") not in ("RUNNING", None):
                    _closed_fields(item, self_.stepfunction_backend.describe_execution(item["executionArn"]))
            return result

        patch(responses.StepFunctionResponse, "describe_execution", describe_execution)
        patch(responses.StepFunctionResponse, "list_executions", list_executions)

    def _run_of(self, execution: Any) -> _Run:
        with self._lock:
            run = self._runs.get(id(execution))
            if run is None:
                run = self._runs[id(execution)] = _Run(execution)
            return run

    # -- history ------------------------------------------------------------------------------------

    def _write(self, run: _Run, event_type: str, details: dict[str, Any] | None, *, context: Any = None) -> int:
        """Append one event to ``run``'s history, past every check (run.lock held)."""
        from moto.stepfunctions.parser.api import HistoryEventType
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

        if context is None:
            context = EventHistoryContext(previous_event_id=run.last_id)
        run.last_id = int(
            self._original_add_event(run.env.event_manager, context, HistoryEventType(event_type), details, None, True)
        )
        return run.last_id

    def _add_event(
        self, run: _Run, manager: Any, context: Any, event_type: Any, details: Any, update_source_event_id: bool
    ) -> int:
        kind = str(getattr(event_type, "value", event_type))
        with run.lock:
            if run.closed:
                return run.last_id  # the execution has ended for AWS: nothing more is recorded
            terminal = kind in _TERMINAL_EVENTS
            if run.last_id + 1 >= self.history_limit and not terminal:
                # event number 25,000 that is not the end: ExecutionFailed instead, and the end
                cause = f"The execution reached the maximum number of history events ({self.history_limit})."
                self._write(
                    run,
                    "ExecutionFailed",
                    {"executionFailedEventDetails": {"error": HISTORY_LIMIT_ERROR, "cause": cause}},
                    context=context,
                )
                self._seal(run, "FAILED", HISTORY_LIMIT_ERROR, cause)
                run.env.set_error({"error": HISTORY_LIMIT_ERROR, "cause": cause})
                return run.last_id
            run.last_id = int(
                self._original_add_event(manager, context, event_type, details, None, update_source_event_id)
            )
            if terminal:
                run.closed = True
            return run.last_id

    def _seal(self, run: _Run, status: str, error: str | None, cause: str | None) -> None:
        """The execution ends now for AWS (run.lock held): status, stopDate, error, cause, no more events."""
        from moto.stepfunctions.parser.api import ExecutionStatus

        execution = run.execution
        execution.exec_status = ExecutionStatus(status)
        execution.stop_date = self.clock.utc()
        execution.error = error
        execution.cause = cause
        run.sealed = True
        run.closed = True

    def _stop(self, execution: Any, error: str | None, cause: str | None) -> None:
        """StopExecution: ABORTED now, at the clock's time, whatever its threads do later."""
        run = self._runs.get(id(execution))
        if run is None or str(getattr(execution.exec_status, "value", "")) != "RUNNING":
            if run is None and getattr(execution, "exec_worker", None) is not None and execution.exec_worker.env:
                execution.exec_worker.env.set_stop(stop_date=self.clock.utc(), cause=cause, error=error)
            return
        # The worker makes the environment, then sets the first state, without waiting on the clock.
        deadline = _time.monotonic() + 10.0
        while run.env is None or run.env.program_state() is None:
            if str(execution.exec_status.value) != "RUNNING":
                return
            if _time.monotonic() > deadline:
                raise RuntimeError(f"execution {execution.exec_arn} never started its program")
            _time.sleep(0.001)
        with run.lock:
            if run.sealed:
                return
            stopped = self.clock.utc()
            details: dict[str, Any] = {}
            if error is not None:
                details["error"] = error
            if cause is not None:
                details["cause"] = cause
            if not run.closed:
                from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

                self._write(
                    run,
                    "ExecutionAborted",
                    {"executionAbortedEventDetails": details},
                    context=EventHistoryContext(previous_event_id=0),
                )
            self._seal(run, "ABORTED", error, cause)
            run.env.set_stop(stop_date=stopped, cause=cause, error=error)
        self.clock.notify()

    def _history_page(self, response: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.stepfunctions.exceptions import InvalidToken, ValidationException

        arn = response._get_param("executionArn")
        max_results = int(response._get_param("maxResults") or 0)
        if not 0 <= max_results <= HISTORY_PAGE_MAX:
            raise ValidationException(
                f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
                f"constraint: Member must have value less than or equal to {HISTORY_PAGE_MAX}"
            )
        reverse = bool(response._get_param("reverseOrder") or False)
        include_data = response._get_param("includeExecutionData")
        token = response._get_param("nextToken")
        events = list(response.stepfunction_backend.get_execution_history(arn)["events"])
        key = hashlib.sha256(f"{arn}|{reverse}".encode()).hexdigest()[:16]
        if token is not None:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                if decoded["k"] != key:
                    raise ValueError("token of another request")
                anchor: float = int(decoded["i"])
            except (ValueError, KeyError, TypeError) as err:
                raise InvalidToken("Invalid token") from err
        else:
            anchor = math.inf if reverse else 0
        if reverse:
            remaining = [e for e in reversed(events) if e["id"] <= anchor]
        else:
            remaining = [e for e in events if e["id"] >= anchor]
        size = max_results or HISTORY_PAGE_DEFAULT
        page = remaining[:size]
        if include_data is False:
            page = [self._without_data(event) for event in page]
        result: dict[str, Any] = {"events": page}
        if len(remaining) > size:
            following = page[-1]["id"] + (-1 if reverse else 1)
            result["nextToken"] = base64.urlsafe_b64encode(json.dumps({"k": key, "i": following}).encode()).decode()
        return ActionResult(result)

    @staticmethod
    def _without_data(event: dict[str, Any]) -> dict[str, Any]:
        stripped = dict(event)
        for name, value in event.items():
            if name.endswith("EventDetails") and isinstance(value, dict):
                stripped[name] = {k: v for k, v in value.items() if k not in _DATA_KEYS}
        return stripped

    # -- Lambda ---------------------------------------------------------------------------------------

    def _check_task_input(self, env: Any, parameters: dict[str, Any]) -> None:
        """States.DataLimitExceeded for a task whose input after Parameters is over the limit (the
        docs' third case; moto checks only results and outputs). The cause text is ours."""
        payload = parameters.get("Payload")
        size = len(payload) if isinstance(payload, bytes) else len(json.dumps(payload).encode("utf-8"))
        if size <= PAYLOAD_LIMIT_BYTES:
            return
        raise _failure(
            env,
            "StatesStatesDataLimitExceeded",
            "TaskFailed",
            {
                "taskFailedEventDetails": {
                    "error": DATA_LIMIT_ERROR,
                    "cause": "The state/task 'lambda' has an input with a size exceeding the maximum number "
                    "of bytes service limit.",
                    "resource": "invoke",
                    "resourceType": "lambda",
                }
            },
        )

    def _resolve(self, reference: str, qualifier: str | None, region: str) -> tuple[str, Any, str]:
        """(registered key, handler, invoked ARN) for a task's FunctionName (+ Qualifier)."""
        name, ref_qualifier = _parse_function(reference)
        qualifier = qualifier or ref_qualifier
        found = None
        for key in (reference, f"{reference}:{qualifier}" if qualifier else None):
            if key is not None and key in self.functions:
                found = key
                break
        if found is None:
            found = next((key for key in self.functions if _parse_function(key)[0] == name), None)
        if reference.startswith("arn:"):
            arn = reference
        elif found is not None and found.startswith("arn:"):
            arn = ":".join(found.split(":")[:7])
        else:
            arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        if qualifier and not ref_qualifier:
            arn = f"{arn}:{qualifier}"
        if found is None:
            raise _client_error("ResourceNotFoundException", f"Function not found: {arn}", 404, str(uuid.uuid4()))
        return found, self.functions[found], arn

    def _invoke(self, parameters: dict[str, Any], region: str) -> dict[str, Any]:
        key, handler, arn = self._resolve(str(parameters.get("FunctionName", "")), parameters.get("Qualifier"), region)
        raw = parameters.get("Payload")
        payload = json.loads(raw) if raw else {}
        start = self.clock.now()
        request_id = str(uuid.uuid4())
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            self._record(key, payload, start, fault)
            if fault.startswith("Lambda."):
                code = fault.removeprefix("Lambda.")
                status, message = _LAMBDA_SERVICE_ERRORS.get(code, (400, f"{code} (injected)"))
                raise _client_error(code, message, status, request_id)
            return self._function_error(fault, f"{fault} (injected)", request_id, [])
        context = LambdaContext(
            self.clock, _parse_function(arn)[0], arn, request_id, self.memory_limit_in_mb, start + self.lambda_timeout
        )
        box: dict[str, Any] = {}
        participant = self.clock.enlist(f"lambda:{key}:{request_id[:8]}")
        thread = threading.Thread(
            target=self._run_handler,
            args=(participant, handler, json.loads(json.dumps(payload)), context, box),
            name=f"lambda-{request_id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._threads.append(thread)
            if participant is not None:
                self._handler_participants.append(participant)
        thread.start()
        if participant is None:
            thread.join()
            finished = True
        else:
            finished = self.clock.wait_until(lambda: participant.done, self.lambda_timeout)
        if not finished:
            if participant is not None:
                self.clock.kill(participant, _LambdaKilled())
            self._record(key, payload, start, LAMBDA_TIMEOUT_ERROR)
            message = f"RequestId: {request_id} Error: Task timed out after {self.lambda_timeout:.2f} seconds"
            return self._function_error(LAMBDA_TIMEOUT_ERROR, message, request_id, None)
        thread.join()
        if "error" in box:
            error_type, message, stack = box["error"]
            self._record(key, payload, start, error_type)
            return self._function_error(error_type, message, request_id, stack)
        self._record(key, payload, start, "ok")
        return {"StatusCode": 200, "Payload": box["result"], "ExecutedVersion": "$LATEST"}

    def _run_handler(
        self, participant: Participant | None, handler: Any, event: Any, context: LambdaContext, box: dict[str, Any]
    ) -> None:
        self.clock.bind(participant)
        try:
            result = handler(event, context)
            try:
                box["result"] = json.loads(json.dumps(result))
            except (TypeError, ValueError) as err:
                box["error"] = ("Runtime.MarshalError", f"Unable to marshal response: {err}", [])
        except _LambdaKilled:
            box["killed"] = True
        except Exception as err:
            box["error"] = (type(err).__name__, str(err), traceback.format_tb(err.__traceback__))
        finally:
            self.clock.retire(participant)

    @staticmethod
    def _function_error(error_type: str, message: str, request_id: str, stack: list[str] | None) -> dict[str, Any]:
        """The Python runtime's answer for an unhandled error (Lambda's own for a timeout)."""
        payload: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
        if stack is not None:
            payload["requestId"] = request_id
            payload["stackTrace"] = stack
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload, "ExecutedVersion": "$LATEST"}

    def _record(self, key: str, payload: Any, start: float, outcome: str) -> None:
        with self._lock:
            self.invocations.append(Invocation(key, payload, start, self.clock.now(), outcome))


@contextlib.contextmanager
def executing_state_machines() -> Iterator[None]:
    """``mock_aws`` with moto's Step Functions interpreter on (a sim needs it active)."""
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


__all__ = [
    "CHOICE_PATH_ERROR",
    "DATA_LIMIT_ERROR",
    "HISTORY_EVENT_LIMIT",
    "HISTORY_LIMIT_ERROR",
    "INPUT_TOO_LARGE_ERROR",
    "LAMBDA_TIMEOUT_ERROR",
    "PAYLOAD_LIMIT_BYTES",
    "REQUIRED_SYMBOLS",
    "Invocation",
    "LambdaContext",
    "Participant",
    "SharedClock",
    "SimulationStalled",
    "StepFunctionsSim",
    "check_required_symbols",
    "executing_state_machines",
    "missing_symbols",
]
