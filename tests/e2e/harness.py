"""Drive a handler the way CloudFormation and Step Functions do, and capture its answers over HTTPS.

* :class:`ResponseServer` is a TLS server on 127.0.0.1 (certificates from ``trustme``) that records
  every PUT to a presigned-looking ResponseURL.
* :class:`LambdaContext` gives the handler a remaining time that follows the test's clock.
* :class:`CloudFormation` builds events in the exact shape CloudFormation sends, invokes the
  handler, and while no response has arrived, lets moto run the request's Step Functions execution
  (the provider's real state machine definition) with its check tasks calling the handler in process.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from tests.fakes.sessions import fresh_session

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/dbscale-e2e/7a1c6a40-8f3e-11ef-9a46-0a8f2b3c4d5e"
FUNCTION_NAME = "dbscale-e2e-provider"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
LAMBDA_TIMEOUT_SECONDS = 900
SFN_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}}
"""moto's ``mock_aws(config=...)`` that runs state machine definitions."""


class ResponseServer:
    """An HTTPS server on 127.0.0.1 that records CloudFormation responses by path."""

    def __init__(self, ca: Any) -> None:
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.fail_next = 0  # answer this many PUTs with HTTP 500 first
        self.failing_paths: dict[str, int] = {}  # path -> how many more PUTs to it get HTTP 500
        self.requests_seen = 0
        self.clock: Any = None  # when set, the (simulated) time each response arrived is recorded
        self.received_at: dict[str, list[float]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                server.requests_seen += 1
                path = self.path.split("?")[0]
                if server.failing_paths.get(path, 0) > 0:
                    server.failing_paths[path] -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                if server.fail_next > 0:
                    server.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                server.responses.setdefault(path, []).append(json.loads(body))
                if server.clock is not None:
                    server.received_at.setdefault(path, []).append(server.clock.now())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, url: str, times: int) -> None:
        """Answer the next ``times`` PUTs to ``url`` with HTTP 500."""
        self.failing_paths[url.split("?")[0].split(f":{self.port}", 1)[1]] = times

    def url(self) -> str:
        key = uuid.uuid4().hex
        return (
            f"https://127.0.0.1:{self.port}/cloudformation-custom-resource-response-useast1/{key}"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123456789abcdef"
        )

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class LambdaContext:
    """The slice of the Lambda context crhelper and dbscale use; time follows ``clock``."""

    def __init__(
        self, clock: Any, timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS, started: float | None = None
    ) -> None:
        self._clock = clock
        self._deadline = (clock.now() if started is None else started) + timeout_seconds
        self.function_name = FUNCTION_NAME
        self.aws_request_id = uuid.uuid4().hex
        self.invoked_function_arn = FUNCTION_ARN

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


@dataclass
class Result:
    """What CloudFormation received for one request, and how it got there."""

    response: dict[str, Any]
    invocations: int
    responses: list[dict[str, Any]] = field(default_factory=list)
    sent_at: float | None = None
    started_at: float | None = None

    @property
    def status(self) -> str:
        return str(self.response["Status"])

    @property
    def reason(self) -> str:
        return str(self.response.get("Reason", ""))

    @property
    def physical_id(self) -> str:
        return str(self.response["PhysicalResourceId"])

    @property
    def data(self) -> dict[str, str]:
        return dict(self.response.get("Data") or {})


def install_provider_function(session: Any = None) -> None:
    """Create the provider function in moto, so the poll set-up's lambda:AddPermission finds it."""
    session = session or boto3
    iam = session.client("iam")
    role = iam.create_role(RoleName="dbscale-e2e-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    session.client("lambda").create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )


def provider_function_on_first_use(session: boto3.Session) -> None:
    """Create the provider function the first time a client of ``session`` calls Lambda (most
    events are answered without one), through a session of its own: those calls are the test's
    set-up, not the handler's, and no recorder on ``session`` sees them."""
    made: list[bool] = []

    def ensure(**_: Any) -> None:
        if not made:
            made.append(True)
            install_provider_function(fresh_session())

    session.events.register("before-call.lambda", ensure)


class CloudFormation:
    """Sends real-shaped custom resource events to ``handler`` and collects the answers.

    A request not answered by its first invocation is carried by its Step Functions execution:
    moto runs the provider's real state machine definition, its check tasks call ``handler`` in
    process, and :attr:`sim` moves the shared simulated clock for the executions and the test alike.
    """

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any], server: ResponseServer, clock: Any) -> None:
        self.handler = handler
        self.server = server
        self.clock = clock
        self.last_event: dict[str, Any] = {}
        self.lambda_timeout: float = LAMBDA_TIMEOUT_SECONDS
        self.sim: Any = None
        self.state_machine_arn = ""

    def event(
        self,
        request_type: str,
        resource_type: str,
        properties: dict[str, Any],
        *,
        logical_id: str = "Cluster",
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
        request_id: str | None = None,
        service_timeout: int | None = None,
    ) -> dict[str, Any]:
        """A custom resource event exactly as CloudFormation shapes it (all values strings)."""
        props: dict[str, Any] = {"ServiceToken": FUNCTION_ARN}
        if service_timeout is not None:
            props["ServiceTimeout"] = str(service_timeout)
        props.update(stringify(properties))
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": props["ServiceToken"],
            "ResponseURL": self.server.url(),
            "StackId": STACK_ID,
            "RequestId": request_id or str(uuid.uuid4()),
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
            "ResourceProperties": props,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            old = {"ServiceToken": props["ServiceToken"]}
            old.update(stringify(old_properties))
            event["OldResourceProperties"] = old
        return event

    def invoke(self, event: dict[str, Any]) -> None:
        """One delivery of ``event`` to the handler, as CloudFormation's Lambda invoke does."""
        self.handler(json.loads(json.dumps(event)), LambdaContext(self.clock, self.lambda_timeout))

    def send(
        self, event: dict[str, Any], *, max_seconds: float = 4 * 3600.0, after_answer_seconds: float = 120.0
    ) -> Result:
        """Deliver ``event``, then let its execution (if any) run until the ResponseURL has an answer.

        After the answer, ``after_answer_seconds`` more simulated seconds pass with every execution
        running, so tests see a second answer if one were sent."""
        self.last_event = event
        path = self.path(event["ResponseURL"])
        self.server.clock = self.clock
        started = self.clock.now()
        checks_before = len(self.sim.invocations) if self.sim is not None else 0
        self.invoke(event)
        if not self.server.responses.get(path):
            assert self.sim is not None, "no answer and no Step Functions: the stack would hang"
            assert self.sim.run_until(lambda: bool(self.server.responses.get(path)), max_seconds=max_seconds), (
                f"no answer within {max_seconds:g} simulated seconds; executions: {self.executions()}"
            )
        if after_answer_seconds and self.sim is not None:
            self.sim.run_for(after_answer_seconds)
        answers = self.server.responses.get(path, [])
        sent = self.server.received_at.get(path, [None])[0]
        checks = (len(self.sim.invocations) - checks_before) if self.sim is not None else 0
        return Result(answers[0], 1 + checks, answers, sent, started)

    def run_until(self, done: Callable[[], bool], *, max_seconds: float = 13 * 3600.0) -> None:
        """Let the executions run until ``done()`` (fails after ``max_seconds`` simulated seconds)."""
        assert self.sim is not None
        assert self.sim.run_until(done, max_seconds=max_seconds), (
            f"condition not met within {max_seconds:g} simulated seconds; executions: {self.executions()}"
        )

    def settle(self, max_seconds: float = 13 * 3600.0) -> None:
        """Let every execution run to its end."""
        if self.sim is not None:
            self.sim.settle(max_seconds=max_seconds)

    def received(self, url: str) -> list[dict[str, Any]]:
        """Every body PUT to ``url`` (a ResponseURL or a wait condition handle URL)."""
        return list(self.server.responses.get(self.path(url), []))

    def path(self, url: str) -> str:
        return url.split("?")[0].split(f":{self.server.port}", 1)[1]

    def executions(self, status: str | None = None) -> list[dict[str, Any]]:
        """The executions of the provider's state machine (``status``: RUNNING, ABORTED, ...)."""
        if not self.state_machine_arn:
            return []
        sfn = fresh_session().client("stepfunctions")
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn}
        if status:
            kwargs["statusFilter"] = status
        found: list[dict[str, Any]] = []
        for page in sfn.get_paginator("list_executions").paginate(**kwargs):
            found.extend(page["executions"])
        return found

    def running(self) -> list[str]:
        """Names of the executions still running: nothing may be left once a stack is deleted."""
        return [e["name"] for e in self.executions("RUNNING")]


@contextlib.contextmanager
def wired(module: Any, server: ResponseServer, ca_file: str, session: Any, clock: Any) -> Iterator[CloudFormation]:
    """A :class:`CloudFormation` driving handler ``module`` on ``session``'s (moto) AWS and ``clock``,
    answering to ``server`` (trusting ``ca_file``), with the provider's state machine running in process.

    moto must run with ``mock_aws(config=SFN_CONFIG)``."""
    provider = module.provider
    saved = (provider.session, provider.clock, provider.ssl_verify, provider.state_machine_arn)
    server.fail_next = 0
    arn, sim = install_state_machine(session, clock, module.handler)
    provider.session, provider.clock, provider.ssl_verify, provider.state_machine_arn = session, clock, ca_file, arn
    cfn = CloudFormation(module.handler, server, clock)
    cfn.sim, cfn.state_machine_arn = sim, arn
    try:
        with sim:
            yield cfn
    finally:
        provider.session, provider.clock, provider.ssl_verify, provider.state_machine_arn = saved


def install_state_machine(session: Any, clock: Any, handler: Callable[[dict[str, Any], Any], Any]) -> tuple[str, Any]:
    """Create the provider's state machine (its real definition) in moto and run its executions
    in process: returns the machine's ARN and the started :class:`~tests.fakes.StepFunctionsSim`."""
    from dbscale.cfn.workflow import definition, state_machine_name
    from tests.fakes import StepFunctionsSim

    sfn = session.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=state_machine_name(FUNCTION_NAME),
        definition=json.dumps(definition(FUNCTION_ARN)),
        roleArn="arn:aws:iam::123456789012:role/dbscale-e2e-states",
    )["stateMachineArn"]
    sim = StepFunctionsSim(clock, {FUNCTION_ARN: handler}, lambda_timeout=LAMBDA_TIMEOUT_SECONDS)
    return str(arn), sim


def rate_seconds(expression: str) -> float:
    """``rate(2 minutes)`` -> 120.0."""
    amount, unit = expression.strip()[len("rate(") : -1].split()
    return float(amount) * {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}[unit]


def stringify(value: Any) -> Any:
    """CloudFormation sends every scalar as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return [stringify(v) for v in value]
    if isinstance(value, dict):
        return {k: stringify(v) for k, v in value.items()}
    return value
