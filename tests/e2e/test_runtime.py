"""The handler runtime's contract under faults (issue 11): the right id in every answer, one answer
per delivery on its own URL, no execution left running, bounded time, nothing secret in the logs.

Each test here failed on the crhelper-based runtime it replaced."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import boto3
import pytest

from dbscale.handlers import redshift_cluster
from tests.e2e.harness import CloudFormation, LambdaContext
from tests.fakes import FailingCalls, FakeClock, LostResponses

TYPE = "Custom::RedshiftCluster"
PROPS = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
SHORT_LAMBDA = 120.0  # seconds: the 10-minute create outlasts it, so polling carries the request


def clusters() -> list[str]:
    return [c["ClusterIdentifier"] for c in boto3.client("redshift").describe_clusters()["Clusters"]]


def live_clusters() -> list[str]:
    return [
        c["ClusterIdentifier"]
        for c in boto3.client("redshift").describe_clusters()["Clusters"]
        if c["ClusterStatus"] not in ("deleting",)
    ]


def rollback_delete(cfn: CloudFormation, failed_physical_id: str, props: dict[str, Any] = PROPS) -> None:
    """What CloudFormation does after a FAILED Create: a Delete with the id the Create answered."""
    deleted = cfn.send(cfn.event("Delete", TYPE, {**props, "SkipFinalSnapshot": True}, physical_id=failed_physical_id))
    assert deleted.status == "SUCCESS", deleted.reason


def answers(cfn: CloudFormation, *events: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every answer sent to each event's ResponseURL."""
    paths = [e["ResponseURL"].split("?")[0].split(f":{cfn.server.port}", 1)[1] for e in events]
    return [list(cfn.server.responses.get(path, [])) for path in paths]


# --- item 2: a create whose answer is lost ------------------------------------------------------


def test_create_whose_answer_is_lost_is_retried_and_finds_its_cluster(
    redshift_cfn: CloudFormation, lost_responses: LostResponses
) -> None:
    lost_responses.lose("CreateCluster", times=50)  # AWS creates it; every attempt's answer is lost
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    # A lost answer is a transient error: the next check finds the cluster this request made.
    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == "warehouse"
    assert len(result.responses) == 1
    assert clusters() == ["warehouse"]


def test_create_that_acted_then_failed_answers_with_the_cluster_id(
    redshift_cfn: CloudFormation, failing_calls: FailingCalls, boto_session: boto3.Session
) -> None:
    def lose_access(**_: Any) -> None:  # AWS made the cluster; then the provider may no longer read it
        failing_calls.fail("DescribeClusters", "AccessDeniedException")

    boto_session.events.register("after-call.redshift.CreateCluster", lose_access)
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert result.status == "FAILED"
    assert result.physical_id == "warehouse"  # not the DBSCALE-NOT-CREATED marker: the Delete finds it
    failing_calls.fail("DescribeClusters", "AccessDeniedException", times=0)
    assert clusters() == ["warehouse"]
    rollback_delete(redshift_cfn, result.physical_id)
    assert live_clusters() == []


def test_replacement_whose_create_answer_is_lost_answers_with_the_new_id(
    redshift_cfn: CloudFormation, lost_responses: LostResponses
) -> None:
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    lost_responses.lose("CreateCluster", times=50)
    new = {**PROPS, "ClusterIdentifier": "warehouse-2"}
    result = redshift_cfn.send(redshift_cfn.event("Update", TYPE, new, physical_id="warehouse", old_properties=PROPS))
    assert result.status == "SUCCESS", result.reason
    assert result.physical_id == "warehouse-2"
    assert sorted(clusters()) == ["warehouse", "warehouse-2"]


def test_create_refused_before_any_call_answers_the_marker(redshift_cfn: CloudFormation) -> None:
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, "NumberOfNodes": 999}))
    assert result.status == "FAILED"
    assert result.physical_id.startswith("DBSCALE-NOT-CREATED-")


# --- item 3: hand-over failures and the operation document's size --------------------------------


@pytest.mark.parametrize(
    ("operation", "code"),
    [("StartExecution", "AccessDeniedException"), ("StartExecution", "StateMachineDoesNotExist")],
)
def test_hand_over_failure_answers_with_the_cluster_id_and_leaves_no_execution(
    redshift_cfn: CloudFormation, failing_calls: FailingCalls, operation: str, code: str
) -> None:
    failing_calls.fail(operation, code)
    redshift_cfn.lambda_timeout = SHORT_LAMBDA
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert result.status == "FAILED"
    assert result.physical_id == "warehouse", result.physical_id
    assert code in result.reason
    assert redshift_cfn.executions() == []
    failing_calls.fail(operation, code, times=0)  # the fault passes; CloudFormation rolls back
    rollback_delete(redshift_cfn, result.physical_id)
    assert live_clusters() == []


def test_throttled_hand_over_is_retried_not_failed(redshift_cfn: CloudFormation, failing_calls: FailingCalls) -> None:
    failing_calls.fail("StartExecution", "ThrottlingException", times=6)  # more than botocore's own attempts
    redshift_cfn.lambda_timeout = SHORT_LAMBDA
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert result.status == "SUCCESS", result.reason
    assert len(result.responses) == 1
    assert failing_calls.failed["StartExecution"] == 6


def test_forty_long_tags_travel_through_the_execution(redshift_cfn: CloudFormation) -> None:
    tags = [{"Key": f"team-key-{i:02d}-" + "k" * 100, "Value": "v" * 200} for i in range(40)]
    event = redshift_cfn.event("Create", TYPE, {**PROPS, "Tags": tags})
    assert len(json.dumps(event)) > 8192  # EventBridge's Input limit, which the poll rules had
    redshift_cfn.lambda_timeout = SHORT_LAMBDA
    result = redshift_cfn.send(event)
    assert result.status == "SUCCESS", result.reason
    assert result.invocations >= 1  # carried by the execution's checks
    assert redshift_cfn.running() == []


def test_response_url_leaves_the_operation_document_with_the_answer(redshift_cfn: CloudFormation) -> None:
    redshift_cfn.lambda_timeout = SHORT_LAMBDA
    event = redshift_cfn.event("Create", TYPE, PROPS)
    result = redshift_cfn.send(event)
    assert result.status == "SUCCESS", result.reason
    (execution,) = redshift_cfn.executions()
    sfn = boto3.client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert event["ResponseURL"] not in str(described.get("output"))


# --- item 6: one answer, on its own URL ---------------------------------------------------------


def test_event_without_request_type_fails_on_its_own_url_in_a_warm_container(redshift_cfn: CloudFormation) -> None:
    good = redshift_cfn.event("Create", TYPE, PROPS)
    first = redshift_cfn.send(good)
    assert first.status == "SUCCESS"
    broken = redshift_cfn.event("Create", TYPE, PROPS)
    del broken["RequestType"]
    second = redshift_cfn.send(broken)
    assert second.status == "FAILED" and "RequestType" in second.reason
    assert [len(a) for a in answers(redshift_cfn, good, broken)] == [1, 1]


def test_lower_case_delete_is_refused_and_creates_nothing(redshift_cfn: CloudFormation) -> None:
    event = redshift_cfn.event("Create", TYPE, PROPS)
    event["RequestType"] = "delete"
    result = redshift_cfn.send(event)
    assert result.status == "FAILED"
    assert "RequestType 'delete' is not one of Create, Update, Delete" in result.reason
    assert clusters() == []


def test_event_without_response_url_is_not_answered_anywhere(redshift_cfn: CloudFormation, fake_clock: FakeClock) -> None:
    event = redshift_cfn.event("Create", TYPE, PROPS)
    before = redshift_cfn.server.requests_seen
    del event["ResponseURL"]
    redshift_cluster.handler(event, LambdaContext(fake_clock))
    assert redshift_cfn.server.requests_seen == before
    assert clusters() == []


# --- item 5: two deliveries of the same Create ----------------------------------------------------


def test_twin_delivery_that_creates_the_cluster_first_is_recognized(
    redshift_cfn: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = redshift_cfn.event("Create", TYPE, PROPS)
    twin = json.loads(json.dumps(event))
    twin["ResponseURL"] = redshift_cfn.server.url()
    first = redshift_cfn.send(event)
    assert first.status == "SUCCESS"
    resource = redshift_cluster.provider.resource
    real_open = resource.open
    calls = {"n": 0}

    def open_missing_once(provider: Any, cluster_id: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # the handler's check ran just before the twin's create
            from dbscale.core.errors import ClusterNotFound

            raise ClusterNotFound(cluster_id)
        return real_open(provider, cluster_id)

    monkeypatch.setattr(resource, "open", open_missing_once)
    second = redshift_cfn.send(twin)
    assert second.status == "SUCCESS", second.reason
    assert second.physical_id == "warehouse"


# --- item 4: bounded time -------------------------------------------------------------------------


def test_watchdog_answers_with_the_cluster_id_when_a_call_overruns(
    redshift_cfn: CloudFormation, boto_session: boto3.Session, fake_clock: FakeClock
) -> None:
    release = threading.Event()

    def slow_describe(request: Any, event_name: str = "", **_: Any) -> None:
        if event_name.endswith("DescribeClusters") and "warehouse" in clusters_seen:
            release.wait(10)  # a call that outlasts the invocation

    clusters_seen: list[str] = []

    def after_create(**_: Any) -> None:
        clusters_seen.append("warehouse")

    boto_session.events.register_first("before-send.redshift.DescribeClusters", slow_describe)
    boto_session.events.register("after-call.redshift.CreateCluster", after_create)
    event = redshift_cfn.event("Create", TYPE, PROPS)
    answered_while_hanging: list[bool] = []

    def release_once_answered() -> None:
        # Lambda freezes an invocation once it times out; here the hanging call ends once the
        # watchdog has answered and the invocation's 3 s are over (or after 10 s), so the test need
        # not sit out the whole hang.
        deadline, timed_out = time.monotonic() + 10, time.monotonic() + 3.5
        while time.monotonic() < deadline and (not answers(redshift_cfn, event)[0] or time.monotonic() < timed_out):
            time.sleep(0.05)
        answered_while_hanging.append(not release.is_set() and bool(answers(redshift_cfn, event)[0]))
        release.set()

    threading.Thread(target=release_once_answered, daemon=True).start()
    started = time.monotonic()
    try:
        redshift_cluster.handler(event, LambdaContext(fake_clock, timeout_seconds=3.0))
    finally:
        release.set()
    (sent,) = answers(redshift_cfn, event)
    assert len(sent) == 1
    answer = sent[0]
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == "warehouse"
    assert "timeout" in answer["Reason"]
    assert answered_while_hanging == [True]  # the answer came while the call still hung
    assert time.monotonic() - started < 12


def test_answer_over_a_hanging_endpoint_is_bounded_in_time() -> None:
    import socket

    from dbscale.cfn.answer import send_cfn_response

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    port = listener.getsockname()[1]
    started = time.monotonic()
    try:
        sent = send_cfn_response(
            f"https://127.0.0.1:{port}/x?sig=1", {"Status": "SUCCESS"}, False, budget_seconds=3.0, sleep=time.sleep
        )
    finally:
        listener.close()
    assert sent is False
    assert time.monotonic() - started < 4.0


# --- also: secrets stay out of the logs, even at DEBUG --------------------------------------------


def test_debug_logging_prints_neither_the_response_url_nor_credentials(
    redshift_cfn: CloudFormation, caplog: pytest.LogCaptureFixture
) -> None:
    root = logging.getLogger()
    saved = root.level
    for name in ("botocore", "boto3", "urllib3", "crhelper"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        event = redshift_cfn.event("Create", TYPE, PROPS)
        redshift_cfn.lambda_timeout = SHORT_LAMBDA
        assert redshift_cfn.send(event).status == "SUCCESS"
    finally:
        root.setLevel(saved)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # dbscale's own INFO lines are there
    assert "X-Amz-Signature" not in text and event["ResponseURL"] not in text
    assert "testing" not in text.lower().split("aws_secret")[0] or "aws_secret_access_key" not in text.lower()
    assert all(r.levelno >= logging.WARNING for r in caplog.records if r.name.split(".")[0] in ("botocore", "boto3"))


def test_a_check_whose_status_read_is_throttled_is_retried_not_failed(
    redshift_cfn: CloudFormation, failing_calls: FailingCalls
) -> None:
    failing_calls.fail("DescribeExecution", "ThrottlingException", times=12)
    redshift_cfn.lambda_timeout = SHORT_LAMBDA
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS))
    assert result.status == "SUCCESS", result.reason
    assert len(result.responses) == 1
    assert failing_calls.failed["DescribeExecution"] == 12
    assert redshift_cfn.running() == []


@pytest.mark.parametrize(
    "bad",
    [{"NumberOfNodes": 999}, {"NodeType": "ra3.huge"}, {"ClusterIdentifier": "Not_Valid"}, {"Port": "eighty"}],
)
def test_an_invalid_request_is_refused_before_any_aws_call(
    redshift_cfn: CloudFormation, aws_calls: Any, bad: dict[str, Any]
) -> None:
    before = len(aws_calls.calls)
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, **bad}))
    assert result.status == "FAILED"
    assert result.reason.startswith(f"Invalid property {next(iter(bad))}"), result.reason
    assert aws_calls.calls[before:] == []  # not even the execution lookup: a bad template costs nothing
