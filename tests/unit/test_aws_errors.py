"""AWS errors name the call that failed, and an answer that is no AWS error (an HTML page from a proxy,
or from an endpoint such as moto_server that does not implement the call) becomes its HTTP status,
never the page: ``dbscale.core.aws.aws_errors`` across protocols, bodies and statuses.

The answers are made where botocore sends a request (``before-send``), so botocore parses each one
exactly as it would a real endpoint's, in the protocol of the service (query/XML, JSON, REST-JSON)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse

from dbscale.core import aws
from dbscale.core.errors import AwsError, ClusterNotFound, DbscaleError, InvalidState
from tests.fakes import FakeClock
from tests.fakes.faults import FAULT_URL, BackoffOnClock, error_response
from tests.fakes.sessions import fresh_session

MOTO_500 = (
    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"
    b"<p>The server encountered an internal error and was unable to complete your request.</p>\n"
)
NGINX_502 = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
# (service, client method, parameters, the operation's API name): query/XML, JSON and REST-JSON protocols
CALLS = [
    ("redshift", "describe_resize", {"ClusterIdentifier": "sales"}, "DescribeResize"),
    ("rds", "describe_db_clusters", {}, "DescribeDBClusters"),
    ("redshift", "resize_cluster", {"ClusterIdentifier": "sales", "NumberOfNodes": 4}, "ResizeCluster"),
    ("stepfunctions", "list_state_machines", {}, "ListStateMachines"),
    ("redshift-data", "describe_statement", {"Id": "x"}, "DescribeStatement"),
    ("lambda", "get_function", {"FunctionName": "f"}, "GetFunction"),
]
BODIES = [
    (500, MOTO_500, "HTTP 500 from the endpoint (not implemented by this endpoint?)", False),
    (500, b"", "HTTP 500 from the endpoint (not implemented by this endpoint?)", False),
    (
        404,
        b"<html><body>Not Found</body></html>",
        "HTTP 404 from the endpoint (not implemented by this endpoint?)",
        False,
    ),
    (502, NGINX_502, "HTTP 502 from the endpoint (a proxy or gateway error; try again later)", True),
    (503, b"", "HTTP 503 from the endpoint (a proxy or gateway error; try again later)", True),
]


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


class Answers:
    """Answers every attempt of ``operation`` with ``status`` and ``body`` (counted in ``attempts``)."""

    def __init__(self, operation: str, status: int, body: bytes, content_type: str = "text/html") -> None:
        self.operation, self.status, self.body, self.content_type = operation, status, body, content_type
        self.attempts = 0

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        if event_name.rsplit(".", 1)[-1] != self.operation:
            return None
        self.attempts += 1
        request.url = FAULT_URL  # moto's stubber passes: nothing happens in AWS
        return AWSResponse(FAULT_URL, self.status, {"Content-Type": self.content_type}, _Body(self.body))


@pytest.fixture
def session(aws: None, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    """A fresh session under moto; botocore's retry backoff advances a fake clock instead of sleeping."""
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(FakeClock()))
    return fresh_session("us-east-1")


def _call(session: boto3.Session, service: str, method: str, params: dict[str, Any], answers: Any) -> AwsError:
    made = aws.client(service, session)
    made.meta.events.register_first("before-send", answers)
    with pytest.raises(AwsError) as raised, aws.aws_errors(f"do the {method}"):
        getattr(made, method)(**params)
    return raised.value


@pytest.mark.parametrize(("status", "body", "says", "transient"), BODIES, ids=lambda v: str(v)[:12])
@pytest.mark.parametrize(("service", "method", "params", "operation"), CALLS, ids=[c[3] for c in CALLS])
def test_a_body_that_is_no_aws_error_becomes_the_call_and_its_status(
    session, service, method, params, operation, status, body, says, transient
):
    err = _call(session, service, method, params, Answers(operation, status, body))
    assert str(err) == f"could not do the {method}: {operation}: {says}"
    assert "<" not in str(err) and "b'" not in str(err)
    assert (err.code, err.operation_name) == (f"HTTP{status}", operation)
    assert aws.is_transient(err) is transient


@pytest.mark.parametrize(("service", "method", "params", "operation"), CALLS, ids=[c[3] for c in CALLS])
@pytest.mark.parametrize(
    ("code", "kind"),
    [("AccessDenied", AwsError), ("ClusterNotFound", ClusterNotFound), ("InvalidClusterStateFault", InvalidState)],
)
def test_an_aws_error_keeps_its_code_and_message_after_the_call(
    session, service, method, params, operation, code, kind
):
    def refuse(request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        return error_response(request, code, "simulated refusal") if event_name.endswith(operation) else None

    made = aws.client(service, session)
    made.meta.events.register_first("before-send", refuse)
    with pytest.raises(kind) as raised, aws.aws_errors("look"):
        getattr(made, method)(**params)
    assert str(raised.value) == f"could not look: {operation}: {code}: simulated refusal"
    if isinstance(raised.value, AwsError):
        assert (raised.value.code, raised.value.operation_name) == (code, operation)


def test_the_failed_call_is_named_not_an_earlier_one(session):
    """Two calls in one block, the second fails without an AWS error document: the second is named."""
    made = aws.client("redshift", session)
    made.meta.events.register_first("before-send", Answers("DescribeResize", 500, MOTO_500))
    with pytest.raises(AwsError) as raised, aws.aws_errors("resize"):
        made.describe_clusters()
        made.describe_resize(ClusterIdentifier="sales")
    assert str(raised.value).startswith("could not resize: DescribeResize: HTTP 500")


def test_an_error_before_any_call_names_no_call(session, monkeypatch):
    """A call made in an earlier block is not blamed for a failure that happened before any call."""
    made = aws.client("redshift", session)
    with aws.aws_errors("list"):
        made.describe_clusters()
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(AwsError) as raised, aws.aws_errors("make a client"):
        aws.client("redshift", fresh_session(None))  # type: ignore[arg-type]
    assert raised.value.code == "NoRegionError"
    assert "DescribeClusters" not in str(raised.value) and raised.value.operation_name is None


def test_no_answer_names_the_call(session):
    """A connection that is refused (nothing listens) is an AwsError naming the call, after one attempt."""
    aws.limit_call_time(connect_timeout=1, read_timeout=1, total_max_attempts=1)
    dead = fresh_session("us-east-1")
    made = dead.client("redshift", endpoint_url="http://127.0.0.1:9")
    aws.watch_calls(made)
    with pytest.raises(AwsError) as raised, aws.aws_errors("list"):
        made.describe_clusters()
    assert raised.value.code == "EndpointConnectionError"
    assert str(raised.value).startswith("could not list: DescribeClusters: Could not connect to the endpoint URL")


@pytest.mark.parametrize(
    ("answers", "changed"),
    [
        ([], False),  # reads only
        ([(400, "InvalidClusterState")], False),  # AWS refused the change: nothing happened
        ([(200, None)], True),  # accepted
        ([(500, "InternalFailure")] * 10, True),  # no clear answer: it may have been applied
        ([(500, "InternalFailure"), (400, "InvalidClusterState")], True),  # refused after an attempt that may have
        ([(500, None)], True),  # an HTML page: fate unknown
    ],
)
def test_record_changes_says_whether_a_change_may_have_reached_aws(session, answers, changed):
    made = aws.client("redshift", session)
    replies = list(answers)

    def reply(request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        if not event_name.endswith("PauseCluster") or not replies:
            return None
        status, code = replies.pop(0)
        if code is None and status == 500:
            request.url = FAULT_URL
            return AWSResponse(FAULT_URL, 500, {"Content-Type": "text/html"}, _Body(MOTO_500))
        if code is None:
            return None  # moto answers (its own 4xx here: there is no such cluster), see below
        return error_response(request, code, "simulated", status=status)

    made.meta.events.register_first("before-send", reply)
    made.create_cluster(
        ClusterIdentifier="c", NodeType="ra3.xlplus", NumberOfNodes=2, MasterUsername="u", MasterUserPassword="Passw0rd"
    )
    with aws.record_changes() as outer, aws.record_changes() as record:
        made.describe_clusters()
        if answers:
            try:
                with aws.aws_errors("pause"):
                    made.pause_cluster(ClusterIdentifier="c")
            except DbscaleError:
                pass
    assert record.may_have_changed is changed
    assert outer.may_have_changed is changed  # an outer record sees the inner block's calls
    assert record.sent == (["redshift:PauseCluster"] if answers else [])


def test_the_command_line_names_a_call_that_failed_outside_any_block(session):
    """An error no ``aws_errors`` block translated still reaches the user as the call and its status."""
    from dbscale.cli import errors as cli_errors

    made = aws.client("redshift", session)
    made.meta.events.register_first("before-send", Answers("DescribeResize", 500, MOTO_500))
    with pytest.raises(Exception) as raised:
        made.describe_resize(ClusterIdentifier="sales")
    assert type(raised.value).__name__ == "ResponseParserError"  # botocore's, not a ClientError
    said = cli_errors.message(raised.value)
    assert said == "AWS error: DescribeResize: HTTP 500 from the endpoint (not implemented by this endpoint?)"
    assert cli_errors.exit_code(raised.value) == cli_errors.AWS
