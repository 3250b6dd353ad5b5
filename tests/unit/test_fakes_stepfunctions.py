"""The Step Functions simulation (tests/fakes/stepfunctions.py): dbscale's real state machine run by
moto on a shared simulated clock, Lambda tasks in process, and the limits AWS enforces and moto not."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from dbscale.cfn.workflow import Workflow, definition, execution_name, operation_document, state_machine_name
from tests.fakes import SharedClock, ShimObsolete, StepFunctionsSim
from tests.fakes import stepfunctions as sim_module
from tests.fakes.sessions import fresh_session
from tests.fakes.stepfunctions import (
    HISTORY_LIMIT_ERROR,
    INPUT_TOO_LARGE_ERROR,
    LAMBDA_TIMEOUT_ERROR,
    PAYLOAD_LIMIT_BYTES,
    Invocation,
    SimulationStalled,
    check_required_symbols,
    missing_symbols,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_NAME = "dbscale-provider"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/dbscale-operations"
EXECUTION_TIMEOUT = 46_800  # the definition's TimeoutSeconds
Handler = Callable[[dict[str, Any], Any], Any]


# --- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture
def sfn_aws() -> Iterator[None]:
    """moto with its Step Functions interpreter on (what a StepFunctionsSim runs in)."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


@pytest.fixture
def session(sfn_aws: None) -> boto3.Session:
    return fresh_session(REGION)


@pytest.fixture
def sfn(session: boto3.Session) -> Any:
    return session.client("stepfunctions")


@pytest.fixture
def machine(sfn: Any) -> str:
    """dbscale's long-operation state machine, as the provider deploys it."""
    created = sfn.create_state_machine(
        name=state_machine_name(FUNCTION_NAME), definition=json.dumps(definition(FUNCTION_ARN)), roleArn=ROLE_ARN
    )
    return str(created["stateMachineArn"])


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock()


def document(**state: Any) -> dict[str, Any]:
    """An operation document (the execution's input) with ``state``."""
    fields = {
        "RequestType": "Create",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/r",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "request-1",
        "LogicalResourceId": "Warehouse",
        "ResourceType": "Custom::DbscaleRedshift",
    }
    return operation_document(fields, None, {"ClusterIdentifier": "wh"}, dict(state))


def again(operation: dict[str, Any], phase: str, wait_seconds: int = 0, **state: Any) -> dict[str, Any]:
    """A check's answer for another round: ``phase`` "check" or "wait"."""
    return {**operation, "phase": phase, "wait_seconds": wait_seconds, "state": {**operation["state"], **state}}


def finished(operation: dict[str, Any], status: str = "SUCCESS") -> dict[str, Any]:
    """A check's answer when the operation ended (``phase`` "done", the CloudFormation answer)."""
    answer = {"Status": status, "PhysicalResourceId": "wh", "Reason": "", "Data": {}}
    return {
        **operation,
        "phase": "done",
        "wait_seconds": 0,
        "outcome": status,
        "answer": answer,
        "answer_text": json.dumps(answer),
    }


def start(sfn: Any, machine: str, name: str, payload: dict[str, Any] | None = None) -> str:
    started = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload or document()))
    return str(started["executionArn"])


def history(sfn: Any, arn: str, **kwargs: Any) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, **kwargs)
    return [event for page in pages for event in page["events"]]


def seconds(moment: datetime, clock: SharedClock) -> float:
    """Virtual seconds since the clock started."""
    return round(moment.timestamp() - clock.start, 3)


def failures(events: list[dict[str, Any]]) -> list[str]:
    """The error of every failed or timed-out task, in order."""
    found = []
    for event in events:
        for key in ("taskFailedEventDetails", "taskTimedOutEventDetails"):
            if key in event:
                found.append(str(event[key]["error"]))
    return found


def between(events: list[dict[str, Any]], first: str, then: str, clock: SharedClock) -> list[float]:
    """Virtual seconds from each ``first`` event to the next ``then`` event."""
    spans, opened = [], None
    for event in events:
        if event["type"] == first:
            opened = event["timestamp"]
        elif event["type"] == then and opened is not None:
            spans.append(round(event["timestamp"].timestamp() - opened.timestamp(), 3))
            opened = None
    return spans


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


# --- moto's internals ----------------------------------------------------------------------------------


def test_every_moto_symbol_the_fake_patches_is_there() -> None:
    assert missing_symbols() == []
    check_required_symbols()


def test_a_moved_moto_symbol_is_named_with_the_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sim_module,
        "REQUIRED_SYMBOLS",
        (
            (
                "moto.stepfunctions.responses",
                ("StepFunctionResponse.get_execution_history", "StepFunctionResponse.gone"),
            ),
            ("moto.stepfunctions.parser.no_such_module", ("anything",)),
        ),
    )
    with pytest.raises(ShimObsolete) as err:
        check_required_symbols()
    message = str(err.value)
    assert "moto 5.2." in message
    assert "moto.stepfunctions.responses:StepFunctionResponse.gone" in message
    assert "moto.stepfunctions.parser.no_such_module:anything" in message
    assert "get_execution_history" not in message


def test_the_sim_needs_the_interpreter_and_puts_moto_back(clock: SharedClock) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend import execution_worker

    with mock_aws(), pytest.raises(RuntimeError, match="execute_state_machine"):
        StepFunctionsSim(clock, {}).__enter__()
    before = (
        lambda_eval_utils._invoke_lambda_function,
        vars(EventManager)["add_event"],
        vars(execution_worker)["Thread"],
    )
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        with StepFunctionsSim(clock, {}):
            assert lambda_eval_utils._invoke_lambda_function is not before[0]
            assert vars(execution_worker)["Thread"] is not threading.Thread
        after = (
            lambda_eval_utils._invoke_lambda_function,
            vars(EventManager)["add_event"],
            vars(execution_worker)["Thread"],
        )
    assert after == before
    assert clock.participants == []


# --- the shared clock ----------------------------------------------------------------------------------


def participant_thread(clock: SharedClock, name: str, body: Callable[[], None]) -> threading.Thread:
    participant = clock.enlist(name)

    def run() -> None:
        clock.bind(participant)
        try:
            body()
        finally:
            clock.retire(participant)

    return threading.Thread(target=run, name=name, daemon=True)


def test_concurrent_sleepers_share_one_timeline() -> None:
    clock = SharedClock()
    main = clock.enlist("main")
    clock.bind(main)
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, naps: list[float]) -> Callable[[], None]:
        def body() -> None:
            for nap in naps:
                clock.sleep(nap)
                woke.append((name, clock.elapsed))

        return body

    threads = [
        participant_thread(clock, "a", sleeper("a", [3, 3])),
        participant_thread(clock, "b", sleeper("b", [4, 4])),
        participant_thread(clock, "c", sleeper("c", [3])),
    ]
    for thread in threads:
        thread.start()
    clock.sleep(10)
    woke.append(("main", clock.elapsed))
    clock.retire(main)
    for thread in threads:
        thread.join(2)
    # a and c are both due at 3 (whichever went to sleep first wakes first), then b at 4
    assert sorted(woke[:2]) == [("a", 3.0), ("c", 3.0)]
    assert woke[2:] == [("b", 4.0), ("a", 6.0), ("b", 8.0), ("main", 10.0)]
    assert clock.participants == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, 50), min_size=1, max_size=5), min_size=1, max_size=4))
def test_every_participant_wakes_at_the_sum_of_its_own_sleeps(naps: list[list[int]]) -> None:
    clock = SharedClock()
    main = clock.enlist("main")
    clock.bind(main)
    seen: dict[int, list[float]] = {i: [] for i in range(len(naps))}

    def body(i: int) -> Callable[[], None]:
        def run() -> None:
            for nap in naps[i]:
                clock.sleep(nap)
                seen[i].append(clock.elapsed)

        return run

    threads = [participant_thread(clock, f"t{i}", body(i)) for i in range(len(naps))]
    for thread in threads:
        thread.start()
    clock.sleep(1000)
    clock.retire(main)
    for thread in threads:
        thread.join(2)
    for i, own in enumerate(naps):
        assert seen[i] == [float(sum(own[: k + 1])) for k in range(len(own))]
    assert clock.elapsed == 1000


def test_a_thread_outside_the_simulation_sleeps_as_on_a_fake_clock() -> None:
    clock = SharedClock()
    clock.sleep(7)
    assert clock.elapsed == 7 and clock.sleeps == [7.0]
    assert clock.wait_until(lambda: False, 3) is False and clock.elapsed == 10


def test_time_waits_for_a_participant_blocked_outside_the_clock() -> None:
    clock = SharedClock()
    main = clock.enlist("main")
    clock.bind(main)
    gate = threading.Event()
    seen: list[float] = []

    def body() -> None:
        gate.wait(5)  # real I/O, say: virtual time must not move meanwhile
        seen.append(clock.elapsed)
        clock.sleep(10)

    worker = participant_thread(clock, "blocked", body)
    worker.start()
    threading.Timer(0.2, gate.set).start()
    began = time.perf_counter()
    clock.sleep(5)
    assert time.perf_counter() - began >= 0.15 and seen == [0.0] and clock.elapsed == 5
    clock.sleep(10)
    assert clock.elapsed == 15
    clock.retire(main)
    worker.join(2)


def test_a_stall_is_reported_not_hung() -> None:
    clock = SharedClock()
    main = clock.enlist("main")
    clock.bind(main)
    release = threading.Event()

    def stuck() -> None:
        release.wait(5)

    worker = participant_thread(clock, "stuck-in-io", stuck)
    worker.start()
    with pytest.raises(SimulationStalled, match="stuck-in-io"):
        clock.sleep_watching(clock.now() + 60, 1, stall_timeout=0.2)
    release.set()
    clock.sleep(1)  # usable again once the other thread finished
    assert clock.elapsed == 1
    clock.retire(main)
    worker.join(2)


# --- dbscale's state machine on the clock --------------------------------------------------------------


def test_a_twelve_hour_operation_runs_in_seconds_and_its_history_is_on_the_clock(
    clock: SharedClock, sfn: Any, machine: str
) -> None:
    contexts: list[tuple[str, int, int, str, str, int]] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        operation = event["operation"]
        began = operation["state"].get("began", clock.now())
        at_start = context.get_remaining_time_in_millis()
        for _ in range(120):  # a check window: checking every 5 s for 10 minutes
            clock.sleep(5)
        contexts.append(
            (
                context.aws_request_id,
                at_start,
                context.get_remaining_time_in_millis(),
                context.function_name,
                context.invoked_function_arn,
                context.memory_limit_in_mb,
            )
        )
        if clock.now() - began < 3600:
            return again(operation, "check", began=began)
        if clock.now() - began < 12 * 3600:
            return again(operation, "wait", 90, began=began)
        return finished(operation)

    wall = time.perf_counter()
    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arn = start(sfn, machine, "twelve-hours")
        assert sim.settle()
        described = sfn.describe_execution(executionArn=arn)
        events = history(sfn, arn)
    wall = time.perf_counter() - wall

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["Status"] == "SUCCESS"
    assert wall < 10, f"12 simulated hours took {wall:.1f} s"
    assert seconds(described["startDate"], clock) == 0
    assert 12 * 3600 <= seconds(described["stopDate"], clock) <= 12 * 3600 + 690
    stamps = [seconds(event["timestamp"], clock) for event in events]
    assert stamps == sorted(stamps)
    assert stamps[0] == 0 and stamps[-1] == seconds(described["stopDate"], clock)
    assert set(between(events, "TaskScheduled", "TaskSucceeded", clock)) == {600.0}
    assert set(between(events, "WaitStateEntered", "WaitStateExited", clock)) == {90.0}
    assert {(i.function, i.outcome, i.end - i.start) for i in sim.invocations} == {(FUNCTION_ARN, "ok", 600.0)}
    assert len({c[0] for c in contexts}) == len(contexts) == len(sim.invocations)
    assert {c[1:] for c in contexts} == {(900_000, 300_000, FUNCTION_NAME, FUNCTION_ARN, 1024)}


def test_wait_states_and_retry_backoff_take_virtual_time_not_real_time(
    clock: SharedClock, sfn: Any, machine: str
) -> None:
    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        operation = event["operation"]
        calls = len(sim.invocations)  # those before this one
        if calls < 2:
            raise RuntimeError("the check broke")
        if calls == 2:
            return again(operation, "wait", 7200)
        return finished(operation)

    wall = time.perf_counter()
    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arn = start(sfn, machine, "waits")
        assert sim.settle()
        events = history(sfn, arn)
    assert time.perf_counter() - wall < 5
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    # Retry of States.ALL: IntervalSeconds 5, BackoffRate 2; then the Wait state's 2 hours
    assert [i.start - clock.start for i in sim.invocations] == [0, 5, 15, 7215]
    assert [i.outcome for i in sim.invocations] == ["RuntimeError", "RuntimeError", "ok", "ok"]
    assert between(events, "WaitStateEntered", "WaitStateExited", clock) == [7200.0]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 20_000), max_size=5))
@example([3600, 0, 90])
@example([20_000, 20_000, 10_000])  # past the definition's 13 hours: TIMED_OUT
def test_an_execution_lasts_the_sum_of_its_waits_up_to_its_timeout(waits: list[int]) -> None:
    total = sum(waits)
    assume(total != EXECUTION_TIMEOUT)
    clock = SharedClock()

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        operation = event["operation"]
        done = operation["state"]["done"]
        if done < len(waits):
            return again(operation, "wait", waits[done], done=done + 1)
        return finished(operation)

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = fresh_session(REGION).client("stepfunctions")
        machine = sfn.create_state_machine(
            name="ops", definition=json.dumps(definition(FUNCTION_ARN)), roleArn=ROLE_ARN
        )["stateMachineArn"]
        with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
            arn = start(sfn, machine, "waits", document(done=0))
            assert sim.settle()
            described = sfn.describe_execution(executionArn=arn)
            events = history(sfn, arn)
    lasted = seconds(described["stopDate"], clock) - seconds(described["startDate"], clock)
    if total < EXECUTION_TIMEOUT:
        assert described["status"] == "SUCCEEDED" and lasted == total
        assert between(events, "WaitStateEntered", "WaitStateExited", clock) == [float(w) for w in waits]
    else:
        assert described["status"] == "TIMED_OUT" and lasted == EXECUTION_TIMEOUT
        assert events[-1]["type"] == "ExecutionTimedOut"
        assert seconds(events[-1]["timestamp"], clock) == EXECUTION_TIMEOUT


def test_a_raising_check_is_retried_then_give_up_answers(clock: SharedClock, sfn: Any, machine: str) -> None:
    given_up: list[dict[str, Any]] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["mode"] == "check":
            raise RuntimeError("the check broke")
        given_up.append(event["operation"])
        return finished(event["operation"], "FAILED")

    with StepFunctionsSim(clock, {FUNCTION_NAME: check}) as sim:  # found by name too
        arn = start(sfn, machine, "raising")
        assert sim.settle()
        events = history(sfn, arn)
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "dbscale.OperationFailed"
    assert json.loads(described["cause"])["Status"] == "FAILED"
    assert failures(events) == ["RuntimeError"] * 7  # the first attempt and six retries
    first_cause = json.loads(next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]["cause"])
    assert first_cause["errorType"] == "RuntimeError" and first_cause["errorMessage"] == "the check broke"
    assert [i.start - clock.start for i in sim.invocations] == [0, 5, 15, 35, 75, 155, 315, 315]
    assert [i.outcome for i in sim.invocations] == ["RuntimeError"] * 7 + ["ok"]
    assert given_up[0]["error"]["Error"] == "RuntimeError"


@pytest.mark.parametrize(
    ("lambda_timeout", "error", "after"),
    [(60.0, LAMBDA_TIMEOUT_ERROR, 60.0), (2000.0, "States.Timeout", 960.0)],
    ids=["function-timeout", "task-timeout"],
)
def test_a_check_that_runs_too_long_fails_as_aws_reports_it(
    clock: SharedClock, sfn: Any, machine: str, lambda_timeout: float, error: str, after: float
) -> None:
    seen: list[float] = []  # how long each check saw itself run

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["mode"] == "give-up":
            return finished(event["operation"], "FAILED")
        began = clock.now()
        for _ in range(240):  # 20 minutes: over Lambda's 15 and the task's 16
            clock.sleep(5)
            seen.append(clock.now() - began)
        return again(event["operation"], "check")

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}, lambda_timeout=lambda_timeout) as sim:
        arn = start(sfn, machine, "too-long")
        assert sim.settle()
        events = history(sfn, arn)
    # An error of the invocation, not of the operation: retried, then a Backoff Wait and a new check,
    # never GiveUp; a check that always overruns ends only with the execution's own timeout.
    assert sfn.describe_execution(executionArn=arn)["status"] == "TIMED_OUT"
    assert set(failures(events)) == {error}
    assert len(failures(events)) > 7
    assert not any(i.payload["mode"] == "give-up" for i in sim.invocations)
    assert set(
        between(events, "TaskStarted", "TaskFailed" if error == LAMBDA_TIMEOUT_ERROR else "TaskTimedOut", clock)
    ) == {after}
    checks = [i for i in sim.invocations if i.payload["mode"] == "check"]
    if error == LAMBDA_TIMEOUT_ERROR:
        # Every check was ended at its 60 s (the last one earlier, by the execution's own timeout).
        assert {(i.outcome, i.end - i.start) for i in checks[:-1]} == {(LAMBDA_TIMEOUT_ERROR, 60.0)}
        assert checks[-1].end - checks[-1].start <= 60.0
        assert max(seen) < 60  # the sandbox was stopped: the handler never ran past its timeout
        cause = json.loads(next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]["cause"])
        assert cause["errorType"] == LAMBDA_TIMEOUT_ERROR
        assert "Task timed out after 60.00 seconds" in cause["errorMessage"]


@pytest.mark.parametrize(
    ("fault", "count", "spacing"),
    [("Lambda.TooManyRequestsException", 3, None), (LAMBDA_TIMEOUT_ERROR, 2, [5, 10])],
    ids=["throttled", "timed-out"],
)
def test_injected_faults_fail_the_next_invocations_without_the_handler(
    clock: SharedClock, sfn: Any, machine: str, fault: str, count: int, spacing: list[int] | None
) -> None:
    ran: list[float] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ran.append(clock.now())
        return finished(event["operation"])

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        sim.fail_next(fault, count)
        arn = start(sfn, machine, "faults")
        assert sim.settle()
        events = history(sfn, arn)
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert failures(events) == [fault] * count
    assert [i.outcome for i in sim.invocations] == [fault] * count + ["ok"]
    assert len(ran) == 1
    starts = [i.start - clock.start for i in sim.invocations]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    if spacing is None:  # Lambda's transient errors: 2 s doubling, FULL jitter (at most the interval)
        assert all(0 <= gap <= 2 * 2**k for k, gap in enumerate(gaps))
        cause = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]["cause"]
        assert "Status Code: 429" in cause and "Error Code: TooManyRequestsException" in cause
    else:
        assert gaps == spacing


def test_a_choice_on_a_missing_field_fails_the_execution_as_on_aws(clock: SharedClock, sfn: Any, machine: str) -> None:
    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {**event["operation"], "phase": "done"}  # no "outcome": the Next state reads $.outcome

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arn = start(sfn, machine, "no-outcome")
        assert sim.settle()
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED" and described["error"] == "States.Runtime"
    assert "Invalid path '$.outcome'" in described["cause"]


def invoke_once(function_name: str) -> dict[str, Any]:
    """A one-task state machine invoking ``function_name`` with the execution's input."""
    task = {"FunctionName": function_name, "Payload.$": "$"}
    invoke = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": task, "End": True}
    return {"StartAt": "Invoke", "States": {"Invoke": invoke}}


@pytest.mark.parametrize(
    ("registered", "called", "outcome", "invoked_arn"),
    [
        (FUNCTION_ARN, f"{FUNCTION_ARN}:live", "ok", f"{FUNCTION_ARN}:live"),
        (f"{FUNCTION_ARN}:live", f"{FUNCTION_ARN}:live", "ok", f"{FUNCTION_ARN}:live"),
        (FUNCTION_NAME, FUNCTION_ARN, "ok", FUNCTION_ARN),
        (FUNCTION_ARN, FUNCTION_NAME, "ok", FUNCTION_ARN),
        ("arn:aws:lambda:us-east-1:123456789012:function:other", FUNCTION_ARN, "Lambda.ResourceNotFoundException", ""),
        (FUNCTION_ARN, FUNCTION_ARN, "Runtime.MarshalError", ""),
    ],
)
def test_functions_are_found_by_arn_qualified_arn_or_name(
    clock: SharedClock, sfn: Any, registered: str, called: str, outcome: str, invoked_arn: str
) -> None:
    seen: list[tuple[str, str]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        seen.append((context.function_name, context.invoked_function_arn))
        return {"unserializable": {1, 2}} if outcome == "Runtime.MarshalError" else {"echo": event}

    machine = sfn.create_state_machine(name="once", definition=json.dumps(invoke_once(called)), roleArn=ROLE_ARN)
    with StepFunctionsSim(clock, {registered: handler}) as sim:
        arn = start(sfn, machine["stateMachineArn"], "once", {"n": 1})
        assert sim.settle()
        described = sfn.describe_execution(executionArn=arn)
    if outcome == "ok":
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"])["Payload"] == {"echo": {"n": 1}}
        assert seen == [(FUNCTION_NAME, invoked_arn)]
        assert [(i.function, i.outcome) for i in sim.invocations] == [(registered, "ok")]
    else:
        assert described["status"] == "FAILED" and described["error"] == outcome
        assert len(seen) == (outcome == "Runtime.MarshalError")


# --- quotas ----------------------------------------------------------------------------------------------


def test_the_history_quota_fails_the_execution_at_its_last_event(clock: SharedClock, sfn: Any, machine: str) -> None:
    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        operation = event["operation"]
        rounds = operation["state"]["rounds"]
        return again(operation, "check", rounds=rounds + 1) if rounds < 5 else finished(operation)

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arn = start(sfn, machine, "count", document(rounds=0))
        assert sim.settle()
    needed = len(history(sfn, arn))
    assert history(sfn, arn)[-1]["type"] == "ExecutionSucceeded"

    outcomes = {}
    for limit in (needed, needed - 1, 20):
        with StepFunctionsSim(clock, {FUNCTION_ARN: check}, history_limit=limit) as sim:
            arn = start(sfn, machine, f"limit-{limit}", document(rounds=0))
            assert sim.settle()
            events = history(sfn, arn)
        described = sfn.describe_execution(executionArn=arn)
        outcomes[limit] = (described["status"], len(events), events[-1]["type"])
        if described["status"] == "FAILED":
            assert described["error"] == HISTORY_LIMIT_ERROR
            assert described["cause"] == f"The execution reached the maximum number of history events ({limit})."
            assert events[-1]["executionFailedEventDetails"]["error"] == HISTORY_LIMIT_ERROR
            assert events[-1]["timestamp"] == described["stopDate"]
    assert outcomes == {
        needed: ("SUCCEEDED", needed, "ExecutionSucceeded"),  # event number <limit> is ExecutionSucceeded: fine
        needed - 1: ("FAILED", needed - 1, "ExecutionFailed"),
        20: ("FAILED", 20, "ExecutionFailed"),
    }


def sized_input(size: int) -> str:
    """A JSON document of exactly ``size`` UTF-8 bytes, mostly two-byte characters."""
    wide = (size - 8) // 2 - 8
    text = '{"x":"' + "é" * wide + "a" * (size - 8 - 2 * wide) + '"}'
    assert len(text.encode("utf-8")) == size and len(text) < size
    return text


def test_start_execution_refuses_an_input_over_256_kib(clock: SharedClock, sfn: Any) -> None:
    machine = sfn.create_state_machine(
        name="pass",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    with StepFunctionsSim(clock, {}) as sim:
        with pytest.raises(ClientError) as err:
            sfn.start_execution(stateMachineArn=machine, name="over", input=sized_input(PAYLOAD_LIMIT_BYTES + 1))
        assert code(err) == INPUT_TOO_LARGE_ERROR and "262144" in str(err.value)
        arn = sfn.start_execution(stateMachineArn=machine, name="exact", input=sized_input(PAYLOAD_LIMIT_BYTES))[
            "executionArn"
        ]
        assert sim.settle()
    assert sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]] == ["exact"]


def test_task_data_over_256_kib_is_data_limit_exceeded(clock: SharedClock, sfn: Any, machine: str) -> None:
    given_up: list[dict[str, Any]] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["mode"] == "give-up":
            given_up.append(event["operation"]["error"])
            return finished({**event["operation"], "state": {}}, "FAILED")
        return again(event["operation"], "check", blob="x" * 300_000)  # the result is too big

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        big_result = start(sfn, machine, "big-result")
        # an input that fits, but not once the task's Parameters wrap it
        near = document(blob="y" * (PAYLOAD_LIMIT_BYTES - len(json.dumps(document(blob=""))) - 10))
        assert len(json.dumps(near).encode()) < PAYLOAD_LIMIT_BYTES
        big_input = start(sfn, machine, "big-input", near)
        assert sim.settle()
    # a connector's result over the limit: TaskFailed, which States.ALL catches (as AWS does)
    assert sfn.describe_execution(executionArn=big_result)["status"] == "FAILED"
    assert "States.DataLimitExceeded" in failures(history(sfn, big_result))
    assert given_up and given_up[0]["Error"] == "States.DataLimitExceeded"
    # the task's input after Parameters over the limit: the function is never called
    described = sfn.describe_execution(executionArn=big_input)
    assert described["status"] == "FAILED" and described["error"] == "States.DataLimitExceeded"
    assert not [i for i in sim.invocations if i.payload["execution"] == big_input]


# --- StopExecution -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("late", ["returns", "raises"])
def test_a_stop_during_a_task_aborts_at_once_and_ignores_the_late_result(
    clock: SharedClock, session: boto3.Session, sfn: Any, machine: str, late: str
) -> None:
    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for _ in range(120):
            clock.sleep(5)
        if late == "raises":
            raise RuntimeError("too late")
        return finished(event["operation"])

    workflow = Workflow(machine, session)
    name = execution_name("stack", "Warehouse", "request-1")
    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arn = workflow.start(name, document())
        assert arn is not None and workflow.start(name, document()) == arn  # a duplicate start finds it
        sim.run_for(100)
        assert workflow.is_running(arn)
        stopped = sfn.stop_execution(executionArn=arn, error="dbscale.Superseded", cause="a newer request")
        assert seconds(stopped["stopDate"], clock) == 100
        assert not workflow.is_running(arn)
        at_stop = history(sfn, arn)
        sim.run_for(1000)  # the task finishes meanwhile, 500 s after the stop
        after = history(sfn, arn)
        running = workflow.running(name[:24])
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED" and seconds(described["stopDate"], clock) == 100
    assert "output" not in described
    assert after == at_stop
    assert after[-1]["type"] == "ExecutionAborted"
    assert after[-1]["executionAbortedEventDetails"] == {"error": "dbscale.Superseded", "cause": "a newer request"}
    assert seconds(after[-1]["timestamp"], clock) == 100
    assert [(i.start - clock.start, i.end - clock.start) for i in sim.invocations] == [(0, 600)]
    assert running == []
    aborted = sfn.list_executions(stateMachineArn=machine, statusFilter="ABORTED")["executions"]
    assert [e["executionArn"] for e in aborted] == [arn]


# --- paging --------------------------------------------------------------------------------------------------


def test_history_and_executions_are_paged_as_aws_pages_them(clock: SharedClock, sfn: Any, machine: str) -> None:
    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        operation = event["operation"]
        rounds = operation["state"].get("rounds", 0)
        return again(operation, "wait", 60, rounds=rounds + 1) if rounds < 3 else finished(operation)

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arns = [start(sfn, machine, f"paged-{i}") for i in range(5)]
        assert sim.settle()
        arn = arns[0]
        everything = sfn.get_execution_history(executionArn=arn, maxResults=1000)
        events = everything["events"]
        assert "nextToken" not in everything and len(events) > 20
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert len(sfn.get_execution_history(executionArn=arn)["events"]) == min(100, len(events))

        first = sfn.get_execution_history(executionArn=arn, maxResults=7)
        assert first["events"] == events[:7] and "nextToken" in first
        assert history(sfn, arn, PaginationConfig={"PageSize": 7}) == events
        assert history(sfn, arn, reverseOrder=True, PaginationConfig={"PageSize": 4}) == events[::-1]
        second = sfn.get_execution_history(executionArn=arn, maxResults=7, nextToken=first["nextToken"])
        assert second["events"] == events[7:14]

        bare = sfn.get_execution_history(executionArn=arn, maxResults=1000, includeExecutionData=False)["events"]
        assert not any(
            k in d for e in bare for n, d in e.items() if n.endswith("EventDetails") for k in ("input", "output")
        )
        assert any("input" in e.get("stateEnteredEventDetails", {}) for e in events)

        with pytest.raises(ClientError) as err:
            sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
        assert code(err) == "InvalidToken"
        with pytest.raises(ClientError) as err:  # a token of the forward order, read backwards
            sfn.get_execution_history(executionArn=arn, reverseOrder=True, nextToken=first["nextToken"])
        assert code(err) == "InvalidToken"
        with pytest.raises(ClientError) as err:
            sfn.get_execution_history(executionArn=arn, maxResults=1001)
        assert code(err) == "ValidationException"

        listed = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine, statusFilter="SUCCEEDED", PaginationConfig={"PageSize": 2}
        )
        pages = [page["executions"] for page in listed]
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(e["executionArn"] for p in pages for e in p) == sorted(arns)


# --- concurrency and the end of a simulation -----------------------------------------------------------------


def test_concurrent_executions_see_one_timeline(clock: SharedClock, sfn: Any, machine: str) -> None:
    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        operation = event["operation"]
        for _ in range(120):
            clock.sleep(5)
        rounds = operation["state"].get("rounds", 0) + 1
        return again(operation, "check", rounds=rounds) if rounds < 3 else finished(operation)

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        first = start(sfn, machine, "first")
        sim.run_for(300)
        second = start(sfn, machine, "second")
        assert sim.settle()
    spans = {}
    for arn in (first, second):
        described = sfn.describe_execution(executionArn=arn)
        spans[arn] = (seconds(described["startDate"], clock), seconds(described["stopDate"], clock))
    assert spans == {first: (0, 1800), second: (300, 2100)}  # 3 checks of 10 minutes each, side by side
    assert len(sim.invocations) == 6 and {i.end - i.start for i in sim.invocations} == {600.0}


def test_leaving_the_sim_stops_executions_and_releases_every_thread(clock: SharedClock, sfn: Any, machine: str) -> None:
    seen: list[float] = []

    def check(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for _ in range(120):
            clock.sleep(5)
            seen.append(clock.elapsed)
        return finished(event["operation"])

    with StepFunctionsSim(clock, {FUNCTION_ARN: check}) as sim:
        arns = [start(sfn, machine, f"left-{i}") for i in range(2)]
        sim.run_for(30)
        threads = sim.threads
        assert sum(t.is_alive() for t in threads) >= 6  # worker, program, task and handler per execution
    assert not [t.name for t in threads if t.is_alive()]
    assert clock.participants == []
    assert clock.elapsed == 30  # nothing moved the clock after the end
    assert max(seen) <= 30
    for arn in arns:
        described = sfn.describe_execution(executionArn=arn)
        assert described["status"] == "ABORTED" and seconds(described["stopDate"], clock) == 30
    assert isinstance(sim.invocations, list) and all(isinstance(i, Invocation) for i in sim.invocations)
    clock.sleep(5)  # a plain fake clock again
    assert clock.elapsed == 35
