"""Long operations as resumable, serializable plans.

An :class:`Operation` is a list of steps on one cluster ("resume", "wait_available", "resize", ...).
``poll()`` runs as many steps as can run now and returns at the first one that must wait, so one
Lambda invocation can start an operation and a later one can finish it from ``to_dict()`` output.
Each step is idempotent: re-running a step that already took effect (a retried invocation, a
duplicate event) observes the cluster and moves on instead of repeating the change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from .aws import is_transient, record_changes
from .clock import SYSTEM_CLOCK, Clock
from .errors import AwsError, ClusterNotFound, InvalidRequest, InvalidState, OperationFailed, OperationTimeout

if TYPE_CHECKING:
    import boto3

# Where each service's step runner lives; imported only when an operation of that service runs.
def _redshift_steps() -> type:
    from .redshift.steps import RedshiftSteps

    return RedshiftSteps


def _aurora_steps() -> type:
    from .aurora.steps import AuroraSteps

    return AuroraSteps


def _clone_steps() -> type:
    from .clones.steps import CloneSteps

    return CloneSteps


# Saved operations name their service; its runner is imported on first use (the runners import this
# module). The table is the one place a service is tied to its runner class.
RUNNERS: Mapping[str, Callable[[], type]] = {
    "redshift": _redshift_steps,
    "aurora": _aurora_steps,
    "clones": _clone_steps,
}
_FORMAT_VERSION = 1


class OperationStatus(str, Enum):
    """Where an operation stands."""

    DONE = "done"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"


@dataclass(frozen=True)
class PollResult:
    """The outcome of one ``poll()``: the status, a sentence saying why, and the current step."""

    status: OperationStatus
    reason: str
    step: str | None = None

    @property
    def done(self) -> bool:
        return self.status is OperationStatus.DONE

    @property
    def failed(self) -> bool:
        return self.status is OperationStatus.FAILED

    @property
    def in_progress(self) -> bool:
        return self.status is OperationStatus.IN_PROGRESS


@dataclass(frozen=True)
class StepOutcome:
    """What a step runner says about one step: move on, wait and poll again, or give up."""

    kind: str  # "next" | "wait" | "fail"
    detail: str = ""

    @classmethod
    def next(cls, detail: str = "") -> StepOutcome:
        return cls("next", detail)

    @classmethod
    def wait(cls, detail: str) -> StepOutcome:
        return cls("wait", detail)

    @classmethod
    def fail(cls, detail: str) -> StepOutcome:
        return cls("fail", detail)


class StepRunner(Protocol):
    """Runs one step of a service's plan against AWS."""

    def run(self, cluster_name: str, step: dict[str, Any]) -> StepOutcome: ...


StepMethod = TypeVar("StepMethod", bound=Callable[..., "StepOutcome"])


def step(action: str) -> Callable[[StepMethod], StepMethod]:
    """Mark a runner method as the one that runs steps ``{"action": action, ...}``: a search for the
    action's name finds the method, and :class:`StepTable` lists it."""

    def mark(method: StepMethod) -> StepMethod:
        method.step_action = action  # type: ignore[attr-defined]
        return method

    return mark


class StepTable:
    """A step runner's table: ``STEPS[action]`` is the method marked ``@step(action)`` in the class
    or a base class (a subclass's own wins). Built once per class, when it is defined."""

    STEPS: ClassVar[Mapping[str, Callable[..., StepOutcome]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[str, Callable[..., StepOutcome]] = {}
        for base in reversed(cls.__mro__):
            for value in vars(base).values():
                action = getattr(value, "step_action", None)
                if isinstance(action, str):
                    table[action] = value
        cls.STEPS = table


def _runner(service: str, session: boto3.Session | None, clock: Clock) -> StepRunner:
    try:
        runner_class = RUNNERS[service]()
    except KeyError:
        raise ValueError(f"unknown operation service {service!r}") from None
    runner: StepRunner = runner_class(session=session, clock=clock)
    return runner


class Operation:
    """A resumable plan of steps on one cluster.

    ``steps`` are JSON-safe dicts with an ``action`` key. ``started_at`` is epoch seconds.
    """

    def __init__(
        self,
        service: str,
        cluster_name: str,
        steps: list[dict[str, Any]],
        *,
        description: str = "",
        index: int = 0,
        started_at: float | None = None,
        failure: str | None = None,
        last_detail: str = "",
        session: boto3.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        if service not in RUNNERS:
            raise ValueError(f"unknown operation service {service!r}")
        self.service = service
        self.cluster_name = cluster_name
        self.steps = [dict(step) for step in steps]
        self.description = description or f"{len(self.steps)} steps on {cluster_name}"
        self.index = index
        self._clock = clock or SYSTEM_CLOCK
        self.started_at = self._clock.now() if started_at is None else started_at
        self.failure = failure
        self.last_detail = last_detail
        self._session = session
        self._runner_cache: StepRunner | None = None
        self._changed = index > 0

    def __repr__(self) -> str:
        return (
            f"Operation({self.service} {self.cluster_name!r}: {self.description}; "
            f"step {min(self.index + 1, len(self.steps))}/{len(self.steps)} {self.current_step or 'done'})"
        )

    @property
    def current_step(self) -> str | None:
        """The action of the step being run or waited on; None when done."""
        return self.steps[self.index]["action"] if self.index < len(self.steps) else None

    @property
    def done(self) -> bool:
        return self.index >= len(self.steps) and self.failure is None

    @property
    def may_have_changed_aws(self) -> bool:
        """False while this operation is known to have changed nothing in AWS: it was made here (not
        resumed with :meth:`from_dict`, not past its first step) and no poll sent a change that AWS
        may have applied (see :class:`~dbscale.core.aws.ChangeRecord`; only calls on clients from
        :func:`dbscale.core.aws.client` are seen). True otherwise."""
        return self._changed

    def elapsed_seconds(self) -> float:
        """Seconds since the operation started."""
        return self._clock.now() - self.started_at

    def poll(self) -> PollResult:
        """Advance as far as possible without waiting; report where the operation stands."""
        if self.failure is not None:
            return PollResult(OperationStatus.FAILED, self.failure, self.current_step)
        with record_changes() as changes:
            try:
                return self._advance()
            finally:
                self._changed = self._changed or changes.may_have_changed

    def _advance(self) -> PollResult:
        runner = self._runner()
        while self.index < len(self.steps):
            step = self.steps[self.index]
            try:
                outcome = runner.run(self.cluster_name, step)
            except InvalidState as err:
                # AWS refused because the cluster is busy: the step is retried on the next poll.
                outcome = StepOutcome.wait(f"AWS reports the cluster busy ({err})")
            except AwsError as err:
                # Throttling, 5xx or a timeout after bounded retries: steps are idempotent, so the
                # step is retried on the next poll; the caller's deadline bounds how long.
                outcome = (
                    StepOutcome.wait(f"AWS did not answer ({err})") if is_transient(err) else StepOutcome.fail(str(err))
                )
            except (ClusterNotFound, InvalidRequest, OperationFailed) as err:
                outcome = StepOutcome.fail(str(err))
            if outcome.kind == "next":
                self.index += 1
                continue
            if outcome.kind == "wait":
                self.last_detail = outcome.detail
                return PollResult(OperationStatus.IN_PROGRESS, outcome.detail, step["action"])
            self.failure = f"{self.description} failed at step '{step['action']}': {outcome.detail}"
            return PollResult(OperationStatus.FAILED, self.failure, step["action"])
        self.last_detail = "done"
        return PollResult(OperationStatus.DONE, f"{self.description}: done")

    def wait(
        self,
        *,
        timeout_minutes: float,
        poll_seconds: float = 15.0,
        on_progress: Callable[[PollResult], None] | None = None,
    ) -> PollResult:
        """Poll every ``poll_seconds`` (default 15 s) until done.

        ``on_progress`` is called with each poll result whose reason differs from the previous one
        (each state change, as it happens).

        Raises :class:`OperationFailed` when the operation fails and :class:`OperationTimeout` at
        the deadline, ``timeout_minutes`` after this call (the operation may go on in AWS; the
        exception carries it so a caller can resume).
        """
        deadline = self._clock.now() + timeout_minutes * 60
        last_reason = None
        while True:
            result = self.poll()
            if on_progress is not None and result.reason != last_reason:
                on_progress(result)
                last_reason = result.reason
            if result.done:
                return result
            if result.failed:
                raise OperationFailed(result.reason)
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                raise OperationTimeout(
                    f"{self.description} did not finish within {timeout_minutes:g} minutes; "
                    f"last state: {result.reason}. The operation may still be running in AWS.",
                    operation=self,
                )
            self._clock.sleep(min(poll_seconds, remaining))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot from which :meth:`from_dict` resumes."""
        return {
            "version": _FORMAT_VERSION,
            "service": self.service,
            "cluster_name": self.cluster_name,
            "description": self.description,
            "steps": [dict(step) for step in self.steps],
            "index": self.index,
            "started_at": self.started_at,
            "failure": self.failure,
            "last_detail": self.last_detail,
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], *, session: boto3.Session | None = None, clock: Clock | None = None
    ) -> Operation:
        """Rebuild an operation saved by :meth:`to_dict`, e.g. in a later Lambda invocation."""
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported operation format {data.get('version')!r}")
        op = cls(
            data["service"],
            data["cluster_name"],
            data["steps"],
            description=data.get("description", ""),
            index=int(data.get("index", 0)),
            started_at=float(data["started_at"]),
            failure=data.get("failure"),
            last_detail=data.get("last_detail", ""),
            session=session,
            clock=clock,
        )
        op._changed = True  # an earlier process polled it: what it sent is not known here
        return op

    def _runner(self) -> StepRunner:
        if self._runner_cache is None:
            self._runner_cache = _runner(self.service, self._session, self._clock)
        return self._runner_cache
