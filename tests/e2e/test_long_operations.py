"""Long operations on Step Functions (issue 22): the nine ways the EventBridge poll rules broke,
and the operations around them, run on moto's interpreter of the provider's real state machine
definition, with the check tasks calling the real handler in process on the shared simulated clock.

Every test ends with the same audit: each ResponseURL answered exactly once, each handle signalled
at most once, no execution left running once the resource's requests are done, no EventBridge rule.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbscale.cfn.request import failed_create_id
from dbscale.handlers import redshift_cluster
from tests.e2e.harness import CloudFormation, LambdaContext
from tests.fakes import AwsCallRecorder, FailingCalls, FakeClock, SlowAws, ThrottleInjector

TYPE = "Custom::RedshiftCluster"
PROPS = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2, "ResizeType": "classic"}
HOURS = 3600.0
_NAMES = itertools.count()


def cluster() -> dict[str, Any]:
    return dict(boto3.client("redshift").describe_clusters(ClusterIdentifier="warehouse")["Clusters"][0])


def nodes() -> int:
    return int(cluster()["NumberOfNodes"])


def live_clusters() -> list[str]:
    found = boto3.client("redshift").describe_clusters()["Clusters"]
    return [c["ClusterIdentifier"] for c in found if c["ClusterStatus"] != "deleting"]


def signalled(cfn: CloudFormation, url: str) -> list[dict[str, Any]]:
    return cfn.received(url)


def with_signal(
    cfn: CloudFormation, handle: str, new: dict[str, Any], old: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    props = {**new, "CompletionSignalUrl": handle, "CompletionSignalTimeout": kw.pop("timeout", 43200)}
    return cfn.event("Update", TYPE, props, physical_id="warehouse", old_properties=old, service_timeout=3600, **kw)


def audit(cfn: CloudFormation, *events: dict[str, Any]) -> None:
    """Each request answered exactly once; nothing left running; no EventBridge rule anywhere."""
    for event in events:
        got = cfn.received(event["ResponseURL"])
        assert len(got) == 1, (event["RequestType"], [a["Status"] for a in got])
    assert cfn.running() == [], cfn.running()
    assert boto3.client("events").list_rules()["Rules"] == []


@pytest.fixture(autouse=True)
def _checks_every_15_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about who acts, answers and signals, not about lag (bench/completion_lag.py
    measures that at the default 5 s): checking every 15 s makes a third of the AWS calls."""
    monkeypatch.setattr(redshift_cluster.provider, "poll_seconds", 15.0)


@pytest.fixture
def created(redshift_cfn: CloudFormation, slow_aws: SlowAws) -> CloudFormation:
    event = redshift_cfn.event("Create", TYPE, PROPS)
    assert redshift_cfn.send(event).status == "SUCCESS"
    slow_aws.set_duration("redshift", "classic_resize", 5 * HOURS)
    return redshift_cfn


# --- 1. a signal the handle refuses for a while is retried until it lands --------------------------


@pytest.mark.parametrize("refusals", [40])  # 5 in a row was all the poll rules' runtime tried
def test_a_signal_refused_by_the_handle_is_retried_until_it_lands(
    created: CloudFormation, fake_clock: FakeClock, slow_aws: SlowAws, refusals: int
) -> None:
    handle = created.server.url()
    event = with_signal(created, handle, {**PROPS, "NumberOfNodes": 3}, PROPS)
    started = fake_clock.now()
    assert created.send(event, after_answer_seconds=0).status == "SUCCESS"
    created.server.fail(handle, refusals)  # 5 was all the poll rules' runtime ever tried
    created.run_until(lambda: bool(signalled(created, handle)))
    (signal,) = signalled(created, handle)
    assert signal["Status"] == "SUCCESS", signal
    assert created.server.failing_paths[created.path(handle)] == 0
    finished = next(t for t, state in reversed(slow_aws.history("warehouse")) if state == "available")
    arrived = created.server.received_at[created.path(handle)][0]
    assert finished < arrived < started + 43200
    created.settle()
    assert nodes() == 3
    audit(created, event)


# --- 2. a rollback without a signal stops the operation it rolls back ------------------------------


def test_a_rollback_without_a_signal_stops_the_operation_it_rolls_back(
    redshift_cfn: CloudFormation, slow_aws: SlowAws, aws_calls: AwsCallRecorder
) -> None:
    cfn = redshift_cfn
    before = {**PROPS, "ResizeType": "elastic"}
    assert cfn.send(cfn.event("Create", TYPE, before)).status == "SUCCESS"
    slow_aws.set_duration("redshift", "classic_resize", HOURS)
    handle = cfn.server.url()
    bigger = {**PROPS, "NumberOfNodes": 3}
    update = with_signal(cfn, handle, bigger, before)
    assert cfn.send(update, after_answer_seconds=0).status == "SUCCESS"
    cfn.sim.run_for(1800)
    # The update that failed was the one that added the signal: the rollback's properties have none.
    rollback = cfn.event("Update", TYPE, before, physical_id="warehouse", old_properties=bigger)
    pauses_before = aws_calls.count("PauseCluster")
    result = cfn.send(rollback)
    assert result.status == "SUCCESS", result.reason
    cfn.settle()
    assert signalled(cfn, handle) == []  # the rolled-back change never reports success
    assert aws_calls.count("PauseCluster") == pauses_before
    assert cluster()["ClusterStatus"] == "available" and nodes() == 2
    assert len(cfn.executions("ABORTED")) == 1
    audit(cfn, update, rollback)


# --- 3. a transient error anywhere is retried, never a failure --------------------------------------


def test_throttling_through_a_long_resize_never_becomes_a_failure(
    created: CloudFormation, throttle: ThrottleInjector, failing_calls: FailingCalls
) -> None:
    handle = created.server.url()
    failing_calls.fail("StartExecution", "ThrottlingException", times=6)  # right after the early answer
    event = with_signal(created, handle, {**PROPS, "NumberOfNodes": 3}, PROPS)
    assert created.send(event, after_answer_seconds=0).status == "SUCCESS"
    created.run_until(lambda: bool(signalled(created, handle)))
    (signal,) = signalled(created, handle)
    assert signal["Status"] == "SUCCESS", signal
    assert throttle.injected > 10
    assert failing_calls.failed["StartExecution"] == 6
    audit(created, event)


# --- 4. the plan check covers the signal's timeout --------------------------------------------------


@pytest.mark.parametrize("timeout", [60, 3600, 7199])
def test_a_change_longer_than_the_signal_timeout_is_refused_before_it_starts(
    created: CloudFormation, aws_calls: AwsCallRecorder, timeout: int
) -> None:
    handle = created.server.url()
    event = with_signal(created, handle, {**PROPS, "NumberOfNodes": 3}, PROPS, timeout=timeout)
    result = created.send(event)
    assert result.status == "FAILED"
    assert result.reason.startswith("Invalid property CompletionSignalTimeout"), result.reason
    assert "120 to 2880 minutes" in result.reason or "minutes by AWS's figures" in result.reason
    assert aws_calls.count("ResizeCluster") == 0
    assert created.executions() == []
    assert nodes() == 2
    audit(created, event)


# --- 5. an older request never takes over from a newer one -----------------------------------------


def test_a_late_redelivery_of_a_superseded_update_does_not_act(
    created: CloudFormation, aws_calls: AwsCallRecorder
) -> None:
    old_handle, rollback_handle = created.server.url(), created.server.url()
    bigger = {**PROPS, "NumberOfNodes": 3}
    update = with_signal(created, old_handle, bigger, PROPS)
    assert created.send(update, after_answer_seconds=0).status == "SUCCESS"
    created.sim.run_for(600)
    rollback = with_signal(created, rollback_handle, PROPS, bigger)
    assert created.send(rollback, after_answer_seconds=0).status == "SUCCESS"
    resizes = aws_calls.count("ResizeCluster")
    created.invoke(update)  # CloudFormation's late re-delivery of the superseded request
    created.run_until(lambda: bool(signalled(created, rollback_handle)), max_seconds=12 * HOURS)
    created.settle()
    assert signalled(created, rollback_handle)[0]["Status"] == "SUCCESS"
    assert signalled(created, old_handle) == []
    assert nodes() == 2  # the size the stack declares
    assert aws_calls.count("ResizeCluster") <= resizes + 1  # only the rollback's own resize, if any
    replies = created.received(update["ResponseURL"])
    assert [r["Status"] for r in replies] == ["SUCCESS", "FAILED"]  # the re-delivery gets the recorded end
    assert created.running() == []


# --- 6. one request, one operation: duplicates never act twice ---------------------------------------


def test_a_duplicate_delivery_while_the_execution_runs_acts_and_answers_once(
    redshift_cfn: CloudFormation, aws_calls: AwsCallRecorder
) -> None:
    redshift_cfn.lambda_timeout = 120.0
    event = redshift_cfn.event("Create", TYPE, PROPS)
    redshift_cfn.invoke(event)
    assert len(redshift_cfn.running()) == 1
    redshift_cfn.sim.run_for(60)
    redshift_cfn.invoke(event)  # Lambda's async retry of the same event
    redshift_cfn.run_until(lambda: bool(redshift_cfn.received(event["ResponseURL"])))
    redshift_cfn.settle()
    assert aws_calls.count("CreateCluster") == 1
    assert len(redshift_cfn.executions()) == 1
    audit(redshift_cfn, event)


# --- 7. the watchdog and the work agree ----------------------------------------------------------------


def test_after_the_watchdog_answers_no_create_is_sent(
    redshift_cfn: CloudFormation, boto_session: boto3.Session, fake_clock: FakeClock, aws_calls: AwsCallRecorder
) -> None:
    release = threading.Event()

    def hanging_lookup(**_: Any) -> None:
        release.wait(10)  # the lookup before the create outlasts the invocation

    boto_session.events.register_first("before-send.redshift.DescribeClusters", hanging_lookup)
    event = redshift_cfn.event("Create", TYPE, PROPS)

    def release_once_answered() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not redshift_cfn.received(event["ResponseURL"]):
            time.sleep(0.05)
        release.set()

    threading.Thread(target=release_once_answered, daemon=True).start()
    try:
        redshift_cluster.handler(event, LambdaContext(fake_clock, timeout_seconds=3.0))
    finally:
        release.set()
    boto_session.events.unregister("before-send.redshift.DescribeClusters", hanging_lookup)
    (answer,) = redshift_cfn.received(event["ResponseURL"])
    assert answer["Status"] == "FAILED" and "timeout" in answer["Reason"]
    assert aws_calls.count("CreateCluster") == 0, "a create was sent after the answer"
    assert live_clusters() == []
    assert answer["PhysicalResourceId"] in ("warehouse", failed_create_id(event["RequestId"]))
    assert redshift_cfn.executions() == []


def test_a_check_that_times_out_is_retried_and_answers_with_the_cluster_id(
    redshift_cfn: CloudFormation, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    redshift_cfn.lambda_timeout = 120.0
    hangs = {"left": 1}

    def one_check_hangs(**_: Any) -> None:
        if threading.current_thread() is not threading.main_thread() and hangs["left"]:
            hangs["left"] -= 1
            fake_clock.sleep(1000)  # past the function's timeout: Lambda ends the check

    event = redshift_cfn.event("Create", TYPE, PROPS)
    boto_session.events.register_first("before-send.redshift.DescribeClusters", one_check_hangs)
    result = redshift_cfn.send(event)
    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == "warehouse"
    assert hangs["left"] == 0
    outcomes = [i.outcome for i in redshift_cfn.sim.invocations]
    assert any("Timedout" in str(o) or "Timeout" in str(o) for o in outcomes), outcomes
    audit(redshift_cfn, event)


# --- 8. no size cliff ----------------------------------------------------------------------------------


REDSHIFT_TRUST = json.dumps(
    {"Statement": [{"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
)  # the preflight checks that Redshift may assume each role


def test_fifty_roles_of_the_longest_names_on_a_busy_cluster(created: CloudFormation, slow_aws: SlowAws) -> None:
    path = "/" + "/".join(["p" * 60] * 8) + "/"
    roles = [f"arn:aws:iam::123456789012:role{path}{i:02d}" + "r" * 62 for i in range(50)]
    iam = boto3.client("iam")
    for arn in roles:
        name = arn.rsplit("/", 1)[1]
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=REDSHIFT_TRUST)
    slow_aws.set_duration("redshift", "elastic_resize", 1800)
    busy = created.event(
        "Update",
        TYPE,
        {**PROPS, "ResizeType": "elastic", "NumberOfNodes": 4},
        physical_id="warehouse",
        old_properties=PROPS,
    )
    created.invoke(busy)  # the cluster is resizing when the roles arrive
    with_roles = {**PROPS, "ResizeType": "elastic", "NumberOfNodes": 4, "IamRoles": roles}
    update = created.event(
        "Update", TYPE, with_roles, physical_id="warehouse", old_properties={**PROPS, "NumberOfNodes": 4}
    )
    result = created.send(update)
    assert result.status == "SUCCESS", result.reason
    assert sorted(r["IamRoleArn"] for r in cluster()["IamRoles"]) == sorted(roles)
    created.settle()
    assert created.running() == []


def test_a_request_that_cannot_travel_is_refused_before_a_cluster_exists(
    redshift_cfn: CloudFormation, aws_calls: AwsCallRecorder
) -> None:
    event = redshift_cfn.event("Create", TYPE, {**PROPS, "Comment": "x" * 200_000})
    result = redshift_cfn.send(event)
    assert result.status == "FAILED"
    assert "ResourceProperties" in result.reason and "256 KiB" in result.reason, result.reason
    assert result.physical_id == failed_create_id(event["RequestId"])
    assert aws_calls.count("CreateCluster") == 0 and live_clusters() == []
    audit(redshift_cfn, event)


# --- 9. nothing left behind, and the operations around it ------------------------------------------------


def test_a_twelve_hour_classic_resize_signals_once_and_leaves_nothing(
    created: CloudFormation, slow_aws: SlowAws, fake_clock: FakeClock
) -> None:
    slow_aws.set_duration("redshift", "classic_resize", 11.5 * HOURS)
    handle = created.server.url()
    event = with_signal(created, handle, {**PROPS, "NumberOfNodes": 3}, PROPS)
    started = fake_clock.now()
    assert created.send(event, after_answer_seconds=0).status == "SUCCESS"
    created.run_until(lambda: bool(signalled(created, handle)))
    created.settle()
    (signal,) = signalled(created, handle)
    assert signal["Status"] == "SUCCESS"
    finished = next(t for t, state in reversed(slow_aws.history("warehouse")) if state == "available")
    arrived = created.server.received_at[created.path(handle)][0]
    assert arrived - finished <= 100  # one sparse check (90 s) after the first hour, and the signal
    assert arrived < started + 43200
    sfn = boto3.client("stepfunctions")
    (execution,) = created.executions()
    events = sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"])
    count = sum(len(page["events"]) for page in events)
    assert count < 5000, count  # far below the 25,000-event history quota
    delete = created.event("Delete", TYPE, {**PROPS, "SkipFinalSnapshot": True}, physical_id="warehouse")
    assert created.send(delete).status == "SUCCESS"
    created.settle()
    assert live_clusters() == []
    audit(created, event, delete)


def test_a_five_second_operation_needs_no_execution(created: CloudFormation) -> None:
    tagged = {**PROPS, "Tags": [{"Key": "team", "Value": "bi"}]}
    event = created.event("Update", TYPE, tagged, physical_id="warehouse", old_properties=PROPS)
    assert created.send(event).status == "SUCCESS"
    assert created.executions() == []
    audit(created, event)


def test_a_rollback_delete_during_a_running_create_stops_it_and_deletes_the_cluster(
    redshift_cfn: CloudFormation, slow_aws: SlowAws, aws_calls: AwsCallRecorder
) -> None:
    slow_aws.set_duration("redshift", "create", 45 * 60)  # AWS refuses to delete a cluster being created
    handle = redshift_cfn.server.url()
    props = {**PROPS, "CompletionSignalUrl": handle}
    create = redshift_cfn.event("Create", TYPE, props)
    answered = redshift_cfn.send(create, after_answer_seconds=0)
    assert answered.status == "SUCCESS" and answered.physical_id == "warehouse"
    redshift_cfn.sim.run_for(1200)
    delete = redshift_cfn.event("Delete", TYPE, {**props, "SkipFinalSnapshot": True}, physical_id="warehouse")
    deleted = redshift_cfn.send(delete)
    assert deleted.status == "SUCCESS", deleted.reason
    redshift_cfn.settle()
    assert live_clusters() == []
    assert signalled(redshift_cfn, handle) == []
    assert len(redshift_cfn.executions("ABORTED")) == 1
    audit(redshift_cfn, create, delete)


def test_the_state_machine_in_moto_is_the_definition_the_constructs_deploy(redshift_cfn: CloudFormation) -> None:
    from dbscale.cfn.workflow import definition
    from tests.e2e.harness import FUNCTION_ARN

    described = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=redshift_cfn.state_machine_arn)
    assert json.loads(described["definition"]) == definition(FUNCTION_ARN)


# --- invocation failures of the checks themselves ------------------------------------------------------


def test_minutes_of_lambda_throttling_are_waited_out_not_failed(
    redshift_cfn: CloudFormation, slow_aws: SlowAws
) -> None:
    slow_aws.set_duration("redshift", "create", 45 * 60)
    event = redshift_cfn.event("Create", TYPE, PROPS)
    redshift_cfn.invoke(event)  # checks in-process for 600 s, then hands over
    assert len(redshift_cfn.running()) == 1
    redshift_cfn.sim.fail_next("Lambda.TooManyRequestsException", 13)  # more than the task's 12 retries
    result = redshift_cfn.send(event)
    assert result.status == "SUCCESS", result.reason
    audit(redshift_cfn, event)


def _answer_refused_then_hang_after_the_check_answers(
    cfn: CloudFormation, boto_session: boto3.Session, fake_clock: FakeClock, url: str, *, throttle_after: bool
) -> dict[str, int]:
    from dbscale.core.aws import client

    hang = {"left": 1}

    def hang_after_answer(**_: Any) -> None:
        if threading.current_thread() is not threading.main_thread() and cfn.received(url) and hang["left"]:
            hang["left"] -= 1
            if throttle_after:
                cfn.sim.fail_next("Lambda.TooManyRequestsException", 13)
            fake_clock.sleep(1000)  # past the function's timeout: Lambda ends the check

    client("redshift", boto_session).meta.events.register_first(
        "before-send.redshift.DescribeClusters", hang_after_answer
    )
    return hang


@pytest.mark.parametrize("throttle_after", [False, True])
def test_a_check_that_dies_after_its_early_answer_never_answers_again_and_still_signals(
    created: CloudFormation, boto_session: boto3.Session, fake_clock: FakeClock, throttle_after: bool
) -> None:
    handle = created.server.url()
    event = with_signal(created, handle, {**PROPS, "NumberOfNodes": 4}, PROPS)
    url = event["ResponseURL"]
    created.server.fail(url, 10**6)  # the delivery's early answer is refused: a check answers early
    created.invoke(event)
    assert len(created.running()) == 1
    created.server.failing_paths.clear()
    hang = _answer_refused_then_hang_after_the_check_answers(
        created, boto_session, fake_clock, url, throttle_after=throttle_after
    )
    created.run_until(lambda: bool(signalled(created, handle)))
    created.settle()
    assert hang["left"] == 0
    assert [a["Status"] for a in created.received(url)] == ["SUCCESS"]
    assert [s["Status"] for s in signalled(created, handle)] == ["SUCCESS"]
    assert created.running() == []


# --- the rule over a family of operations and faults ------------------------------------------------


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    minutes=st.integers(min_value=1, max_value=50),
    signal=st.booleans(),
    lambda_fault=st.tuples(
        st.sampled_from(["Lambda.TooManyRequestsException", "Lambda.ServiceException", "Sandbox.Timedout"]),
        st.integers(min_value=0, max_value=15),
    ),
    api_fault=st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(["StartExecution", "DescribeExecution", "ListExecutions", "DescribeClusters"]),
            st.sampled_from(["ThrottlingException", "InternalFailure", "ServiceUnavailable"]),
            st.integers(min_value=1, max_value=8),
        ),
    ),
)
def test_any_operation_under_transient_faults_is_answered_once_and_leaves_nothing(
    redshift_cfn: CloudFormation,
    slow_aws: SlowAws,
    failing_calls: FailingCalls,
    minutes: int,
    signal: bool,
    lambda_fault: tuple[str, int],
    api_fault: tuple[str, str, int] | None,
) -> None:
    cfn = redshift_cfn
    name = f"prop-{next(_NAMES)}"
    slow_aws.set_duration("redshift", "create", minutes * 60)
    props: dict[str, Any] = {**PROPS, "ClusterIdentifier": name}
    handle = cfn.server.url()
    if signal:
        props.update(CompletionSignalUrl=handle, CompletionSignalTimeout=43200)
    if api_fault:
        failing_calls.fail(api_fault[0], api_fault[1], times=api_fault[2])
    cfn.sim.fail_next(*lambda_fault)
    create = cfn.event("Create", TYPE, props)
    result = cfn.send(create, after_answer_seconds=0)
    assert result.status == "SUCCESS", result.reason  # every fault here is transient
    assert result.physical_id == name
    if signal:
        cfn.run_until(lambda: bool(cfn.received(handle)))
    cfn.settle()
    assert [a["Status"] for a in cfn.received(create["ResponseURL"])] == ["SUCCESS"]
    assert [s["Status"] for s in cfn.received(handle)] == (["SUCCESS"] if signal else [])
    assert cfn.running() == []
    failing_calls.fail("DescribeClusters", "x", times=0)
    delete = cfn.event("Delete", TYPE, {**props, "SkipFinalSnapshot": True}, physical_id=name)
    assert cfn.send(delete).status == "SUCCESS"
    cfn.settle()
    assert name not in live_clusters()
    assert cfn.running() == []
