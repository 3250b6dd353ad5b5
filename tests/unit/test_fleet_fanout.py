"""The fan-out over (account, region) targets: every target once, either read or failed with its
kind, in the order given, at most ``max_workers`` at once; a failure never stops the others."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from dbscale.core.errors import InvalidRequest
from dbscale.core.fleet import AccountSessions, CallCounter, RoleNotAssumed, Target, classify, fan_out, targets
from tests.fakes.accounts import HOME

ACCOUNTS = [HOME, "111111111111", "222222222222", "333333333333"]
REGIONS = ["us-east-1", "eu-west-1", "ap-east-1"]
# What a failing target raises -> the kind it is reported as.
FAULTS: dict[str, tuple[Any, str]] = {
    "role refused": (RoleNotAssumed("could not assume role: AssumeRole: AccessDenied", code="AccessDenied"), "denied"),
    "role throttled": (RoleNotAssumed("AssumeRole: Throttling", code="Throttling"), "throttled"),
    "call denied": (ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeClusters"), "denied"),
    "opt-in region": (
        ClientError({"Error": {"Code": "UnrecognizedClientException"}}, "DescribeClusters"),
        "region disabled",
    ),
    "ec2-style opt-in": (ClientError({"Error": {"Code": "AuthFailure"}}, "DescribeRegions"), "region disabled"),
    "token": (ClientError({"Error": {"Code": "InvalidClientTokenId"}}, "GetCallerIdentity"), "region disabled"),
    "throttled": (ClientError({"Error": {"Code": "ThrottlingException"}}, "GetMetricData"), "throttled"),
    "limit": (ClientError({"Error": {"Code": "RequestLimitExceeded"}}, "DescribeDBClusters"), "throttled"),
    "unreachable": (EndpointConnectionError(endpoint_url="https://redshift.ap-east-1.amazonaws.com"), "error"),
    "bug": (KeyError("Clusters"), "error"),
}


class Offline(AccountSessions):
    """Sessions that are never used: the work below makes no AWS call."""

    def __init__(self) -> None:
        super().__init__(lambda region: boto3.Session(region_name=region))

    def start(self) -> str:
        return HOME

    def session(self, account: str, region: str) -> Any:
        return (account, region)


@settings(max_examples=40, deadline=None)
@given(
    failing=st.dictionaries(
        st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(REGIONS)), st.sampled_from(sorted(FAULTS))
    ),
    workers=st.integers(1, 5),
)
def test_every_target_appears_once_read_or_failed_with_its_kind(failing, workers):
    running = [0, 0]
    lock = threading.Lock()

    def work(target: Target, made: Any) -> str:
        assert made == (target.account, target.region)
        with lock:
            running[0] += 1
            running[1] = max(running)
        try:
            time.sleep(0.001)
            fault = failing.get((target.account, target.region))
            if fault is not None:
                raise FAULTS[fault][0]
            return f"{target.account}/{target.region}"
        finally:
            with lock:
                running[0] -= 1

    wanted = targets(ACCOUNTS, REGIONS)
    run = fan_out(work, wanted, sessions=Offline(), max_workers=workers)
    assert run.targets == wanted and run.home == HOME
    read = {t for t, _ in run.results}
    failed = {f.target for f in run.failures}
    assert read | failed == set(wanted) and not read & failed
    assert all(value == f"{t.account}/{t.region}" for t, value in run.results)
    assert {(f.target.account, f.target.region): f.kind for f in run.failures} == {
        where: FAULTS[fault][1] for where, fault in failing.items()
    }
    assert running[1] <= workers


def test_failures_keep_the_aws_code_and_message():
    failure = classify(Target(HOME, "ap-east-1"), FAULTS["opt-in region"][0])
    assert (failure.kind, failure.code) == ("region disabled", "UnrecognizedClientException")
    assert failure.message.startswith("DescribeClusters: UnrecognizedClientException")
    assert failure.to_dict() == {
        "account": HOME,
        "region": "ap-east-1",
        "kind": "region disabled",
        "code": "UnrecognizedClientException",
        "message": failure.message,
    }
    assert classify(Target(HOME, "x"), KeyError("Clusters")).code == "KeyError"


@pytest.mark.parametrize("workers", [0, 65, True])
def test_the_pool_is_bounded(workers):
    with pytest.raises(InvalidRequest, match="max_workers must be 1 to 64"):
        fan_out(lambda t, s: None, targets([HOME], REGIONS), sessions=Offline(), max_workers=workers)


def test_calls_are_counted_by_api_and_by_account(boto_session):
    counter = CallCounter()
    sessions = AccountSessions(lambda region: boto3.Session(region_name=region), prepare=counter.attach)

    def work(target: Target, made: boto3.Session) -> int:
        return len(made.client("redshift").describe_clusters()["Clusters"])

    run = fan_out(work, targets([HOME, "111111111111"], ["us-east-1", "eu-west-1"]), sessions=sessions)
    assert [v for _, v in run.results] == [0, 0, 0, 0]
    assert counter.by_api == {"redshift:DescribeClusters": 4}
    assert counter.by_account == {HOME: 2, "111111111111": 2} and counter.total == 4
