"""Completion signals (issue 13): operations longer than ServiceTimeout answer early and signal a
wait condition handle (served over HTTPS on 127.0.0.1) with the real outcome."""

from __future__ import annotations

import boto3
import pytest

from dbscale.cfn import workflow
from tests.e2e.harness import CloudFormation
from tests.fakes import FakeClock, SlowAws

TYPE = "Custom::RedshiftCluster"
PROPS = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": 2, "ResizeType": "classic"}
FIVE_HOURS = 5 * 3600
SPARSE_CHECK_SECONDS = workflow.SPARSE_CHECK_SECONDS


def nodes() -> int:
    return int(boto3.client("redshift").describe_clusters(ClusterIdentifier="warehouse")["Clusters"][0]["NumberOfNodes"])


@pytest.fixture
def created(redshift_cfn: CloudFormation, slow_aws: SlowAws) -> CloudFormation:
    assert redshift_cfn.send(redshift_cfn.event("Create", TYPE, PROPS)).status == "SUCCESS"
    slow_aws.set_duration("redshift", "classic_resize", FIVE_HOURS)
    return redshift_cfn


def resize_event(cfn: CloudFormation, handle: str, new: dict, old: dict) -> dict:
    props = {**new, "CompletionSignalUrl": handle, "CompletionSignalTimeout": 43200}
    return cfn.event("Update", TYPE, props, physical_id="warehouse", old_properties=old, service_timeout=3600)


def test_five_hour_classic_resize_signals_success_within_one_sparse_check(
    created: CloudFormation, slow_aws: SlowAws, fake_clock: FakeClock
) -> None:
    handle = created.server.url()
    bigger = {**PROPS, "NumberOfNodes": 3}
    started = fake_clock.now()
    answered = created.send(resize_event(created, handle, bigger, PROPS), after_answer_seconds=0)
    assert answered.status == "SUCCESS", answered.reason
    assert answered.data["InProgress"] == "true"
    assert answered.data["NumberOfNodes"] == "3"  # the declared end state, for GetAtt users
    assert answered.sent_at is not None and answered.sent_at - started < 120  # within ServiceTimeout, by far
    assert created.received(handle) == []

    created.run_until(lambda: bool(created.received(handle)))
    (signal,) = created.received(handle)
    assert signal["Status"] == "SUCCESS", signal
    assert signal["UniqueId"] == "warehouse"
    fields = signal["Data"].split("|")
    assert fields[2:6] == ["warehouse", "ra3.xlplus", "3", "false"]
    finished = next(t for t, state in reversed(slow_aws.history("warehouse")) if state == "available")
    assert finished - started >= FIVE_HOURS
    arrived = created.server.received_at[created.path(handle)][0]
    assert arrived - finished <= SPARSE_CHECK_SECONDS + 10  # a check every 90 s past the first hour
    assert nodes() == 3
    assert created.running() == []


def test_failing_resize_signals_failure_with_the_reason(created: CloudFormation, fake_clock: FakeClock) -> None:
    from moto.backends import get_backend

    from tests.fakes.moto_shims import RESIZE_ATTRIBUTE

    handle = created.server.url()
    answered = created.send(resize_event(created, handle, {**PROPS, "NumberOfNodes": 3}, PROPS), after_answer_seconds=0)
    assert answered.status == "SUCCESS"
    fake_clock.advance(1800)
    cluster = get_backend("redshift")["123456789012"]["us-east-1"].clusters["warehouse"]
    record = getattr(cluster, RESIZE_ATTRIBUTE)
    record.status, record.message = "FAILED", "insufficient capacity for ra3.xlplus in us-east-1a"
    created.run_until(lambda: bool(created.received(handle)))
    (signal,) = created.received(handle)
    assert signal["Status"] == "FAILURE"
    assert "insufficient capacity" in signal["Reason"]
    assert created.running() == []


def test_rollback_during_the_resize_takes_over_and_the_old_handle_is_never_signalled(
    created: CloudFormation,
) -> None:
    old_handle, rollback_handle = created.server.url(), created.server.url()
    bigger = {**PROPS, "NumberOfNodes": 3}
    assert created.send(resize_event(created, old_handle, bigger, PROPS), after_answer_seconds=0).status == "SUCCESS"
    # Another resource fails: CloudFormation rolls back, sending the old properties while the resize runs.
    rollback = created.send(resize_event(created, rollback_handle, PROPS, bigger), after_answer_seconds=0)
    assert rollback.status == "SUCCESS", rollback.reason
    created.run_until(lambda: bool(created.received(rollback_handle)))
    assert created.received(rollback_handle)[0]["Status"] == "SUCCESS"
    assert created.received(old_handle) == []
    assert nodes() == 2
    assert created.running() == []


def test_without_a_handle_behaviour_is_unchanged(created: CloudFormation, slow_aws: SlowAws) -> None:
    slow_aws.set_duration("redshift", "elastic_resize", 1200)
    elastic = {**PROPS, "NumberOfNodes": 4, "ResizeType": "elastic"}
    event = created.event("Update", TYPE, elastic, physical_id="warehouse", old_properties=PROPS)
    result = created.send(event)
    assert result.status == "SUCCESS"
    assert result.data["InProgress"] == "false"
    assert nodes() == 4


def test_malformed_signal_properties_are_refused(redshift_cfn: CloudFormation) -> None:
    bad = {**PROPS, "CompletionSignalUrl": "http://insecure", "ClusterIdentifier": "other"}
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, bad))
    assert result.status == "FAILED" and "CompletionSignalUrl" in result.reason
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, {**PROPS, "CompletionSignalTimeout": "60"}))
    assert result.status == "FAILED" and "CompletionSignalTimeout" in result.reason


def test_a_change_done_within_the_invocation_still_signals_its_handle(created: CloudFormation) -> None:
    handle = created.server.url()
    tagged = {**PROPS, "Tags": [{"Key": "team", "Value": "bi"}]}  # no operation at all
    result = created.send(resize_event(created, handle, tagged, PROPS), after_answer_seconds=0)
    assert result.status == "SUCCESS", result.reason
    (signal,) = created.received(handle)
    assert signal["Status"] == "SUCCESS" and signal["UniqueId"] == "warehouse"
    assert created.running() == []


def test_a_signal_without_waiting_is_refused(redshift_cfn: CloudFormation) -> None:
    props = {**PROPS, "WaitForCompletion": False, "CompletionSignalUrl": redshift_cfn.server.url()}
    result = redshift_cfn.send(redshift_cfn.event("Create", TYPE, props))
    assert result.status == "FAILED" and "WaitForCompletion" in result.reason
