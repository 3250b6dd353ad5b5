"""dbscale.core.operation with a scripted step runner: polling, waiting, failing, resuming."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dbscale.core import operation as operation_module
from dbscale.core.errors import AwsError, InvalidState, OperationFailed, OperationTimeout
from dbscale.core.operation import Operation, OperationStatus, PollResult, StepOutcome
from tests.fakes import FakeClock

# What each scripted step does on successive runs; the last entry repeats.
SCRIPT: dict[str, list[Any]] = {}
RUNS: list[str] = []


class ScriptedSteps:
    """A step runner that plays SCRIPT: StepOutcome values are returned, exceptions raised."""

    def __init__(self, *, session: Any = None, clock: Any = None) -> None:
        self.clock = clock

    def run(self, cluster_name: str, step: dict[str, Any]) -> StepOutcome:
        action = step["action"]
        RUNS.append(action)
        plays = SCRIPT[action]
        outcome = plays.pop(0) if len(plays) > 1 else plays[0]
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, StepOutcome)
        return outcome


@pytest.fixture(autouse=True)
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(operation_module.RUNNERS, "redshift", lambda: ScriptedSteps)  # type: ignore[index]
    SCRIPT.clear()
    RUNS.clear()


def make(clock: FakeClock, *actions: str) -> Operation:
    return Operation("redshift", "c", [{"action": a} for a in actions], description="test op", clock=clock)


def test_poll_runs_steps_until_one_must_wait() -> None:
    SCRIPT.update(a=[StepOutcome.next()], b=[StepOutcome.wait("b is busy"), StepOutcome.next()], c=[StepOutcome.next()])
    op = make(FakeClock(), "a", "b", "c")

    first = op.poll()
    assert first == PollResult(OperationStatus.IN_PROGRESS, "b is busy", "b")
    assert (op.current_step, op.done, op.last_detail) == ("b", False, "b is busy")
    second = op.poll()
    assert second.done and second.step is None and op.done
    assert RUNS == ["a", "b", "b", "c"]  # a step that went through is never run again


def test_an_operation_without_steps_is_done_at_once() -> None:
    op = make(FakeClock())
    assert op.poll().done and op.done and op.current_step is None


def test_aws_refusing_a_busy_cluster_is_waited_out_not_failed() -> None:
    SCRIPT.update(a=[InvalidState("InvalidClusterState: busy"), StepOutcome.next()])
    op = make(FakeClock(), "a")
    result = op.poll()
    assert result.in_progress and "busy" in result.reason
    assert op.poll().done


@pytest.mark.parametrize(
    "error", [AwsError("could not x: AccessDenied", code="AccessDenied"), StepOutcome.fail("the cluster is on fire")]
)
def test_a_failure_is_final_and_wait_raises_it(error: Any) -> None:
    SCRIPT.update(a=[error], b=[StepOutcome.next()])
    op = make(FakeClock(), "a", "b")
    result = op.poll()
    assert result.failed and result.step == "a" and "test op failed at step 'a'" in result.reason
    assert op.poll() == result and RUNS == ["a"]  # sticky: nothing runs again
    with pytest.raises(OperationFailed, match="failed at step 'a'"):
        op.wait(timeout_minutes=1)
    restored = Operation.from_dict(json.loads(json.dumps(op.to_dict())))
    assert restored.poll().failed


def test_wait_polls_on_the_clock_and_times_out_exactly_at_its_deadline() -> None:
    SCRIPT.update(a=[StepOutcome.wait("still going")])
    clock = FakeClock()
    op = make(clock, "a")
    with pytest.raises(OperationTimeout) as err:
        op.wait(timeout_minutes=1, poll_seconds=25)
    assert clock.sleeps == [25, 25, 10]
    assert clock.elapsed == 60
    assert err.value.operation is op and "within 1 minutes" in str(err.value) and "still going" in str(err.value)


def test_wait_reports_each_change_of_state_once() -> None:
    SCRIPT.update(
        a=[
            StepOutcome.wait("creating"),
            StepOutcome.wait("creating"),
            StepOutcome.wait("modifying"),
            StepOutcome.next(),
        ]
    )
    seen: list[str] = []
    make(FakeClock(), "a").wait(timeout_minutes=10, on_progress=lambda r: seen.append(r.reason))
    assert seen == ["creating", "modifying", "test op: done"]


def test_to_dict_is_json_safe_and_round_trips() -> None:
    SCRIPT.update(a=[StepOutcome.next()], b=[StepOutcome.wait("waiting")])
    clock = FakeClock()
    op = Operation("redshift", "c", [{"action": "a"}, {"action": "b", "n": 3}], description="d", clock=clock)
    op.poll()
    data = json.loads(json.dumps(op.to_dict()))
    assert data == {
        "version": 1,
        "service": "redshift",
        "cluster_name": "c",
        "description": "d",
        "steps": [{"action": "a"}, {"action": "b", "n": 3}],
        "index": 1,
        "started_at": clock.start,
        "failure": None,
        "last_detail": "waiting",
    }
    clock.advance(100)
    again = Operation.from_dict(data, clock=clock)
    assert again.to_dict() == data
    assert again.elapsed_seconds() == 100
    assert repr(again) == "Operation(redshift 'c': d; step 2/2 b)"


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operation service"):
        Operation("dynamodb", "c", [])
