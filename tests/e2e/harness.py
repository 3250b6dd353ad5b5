"""Drive a handler the way CloudFormation and EventBridge do, and capture its answers over HTTPS.

* :class:`ResponseServer` is a TLS server on 127.0.0.1 (certificates from ``trustme``) that records
  every PUT to a presigned-looking ResponseURL.
* :class:`LambdaContext` gives the handler a remaining time that follows the test's clock.
* :class:`CloudFormation` builds events in the exact shape CloudFormation sends, invokes the
  handler, and while no response has arrived, plays EventBridge: it reads the poll rule's target
  Input back from moto and invokes the handler with it a minute later (simulated time).
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import boto3

from tests.fakes.sessions import fresh_session


STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/dbscale-e2e/7a1c6a40-8f3e-11ef-9a46-0a8f2b3c4d5e"
FUNCTION_NAME = "dbscale-e2e-provider"
LAMBDA_TIMEOUT_SECONDS = 900
RULE_PERIOD_SECONDS = 60.0


class ResponseServer:
    """An HTTPS server on 127.0.0.1 that records CloudFormation responses by path."""

    def __init__(self, ca: Any) -> None:
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.fail_next = 0  # answer this many PUTs with HTTP 500 first
        self.requests_seen = 0
        self.clock: Any = None  # when set, the (simulated) time each response arrived is recorded
        self.received_at: dict[str, list[float]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                server.requests_seen += 1
                if server.fail_next > 0:
                    server.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                path = self.path.split("?")[0]
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

    def __init__(self, clock: Any, timeout_seconds: float = LAMBDA_TIMEOUT_SECONDS, started: float | None = None) -> None:
        self._clock = clock
        self._deadline = (clock.now() if started is None else started) + timeout_seconds
        self.function_name = FUNCTION_NAME
        self.aws_request_id = uuid.uuid4().hex
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"

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
    """Sends real-shaped custom resource events to ``handler`` and collects the answers."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any], server: ResponseServer, clock: Any) -> None:
        self.handler = handler
        self.server = server
        self.clock = clock
        self.events = boto3.client("events")
        self.last_event: dict[str, Any] = {}
        self.rule_created_at: dict[str, float] = {}
        self.lambda_timeout: float = LAMBDA_TIMEOUT_SECONDS
        # Record when each poll rule is made (simulated time): EventBridge counts its rate from then.
        # The handler's clients come from boto3's default session (the test's), so hook it there.
        session = boto3.DEFAULT_SESSION or boto3.Session()
        session.events.register("provide-client-params.events.PutRule", self._rule_made)

    def _rule_made(self, params: Any = None, **_: Any) -> None:
        if isinstance(params, dict) and params.get("Name"):
            self.rule_created_at.setdefault(str(params["Name"]), self.clock.now())


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
        props: dict[str, Any] = {"ServiceToken": f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"}
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

    def send(self, event: dict[str, Any], *, max_invocations: int = 200, firings_after_answer: int = 2) -> Result:
        """Invoke the handler, then play EventBridge until a response arrives.

        The poll rule fires every period counted from its creation. The handler may create the rule
        while its first invocation still runs, so a firing can fall inside an earlier invocation: it
        is invoked as soon as that invocation returns, with a Lambda deadline counted from the firing
        (this sequential replay stands in for EventBridge invoking a second container concurrently).
        After the answer, ``firings_after_answer`` more firings are played while any rule is left, so
        tests see a second answer or a leftover rule."""
        self.last_event = event
        path = event["ResponseURL"].split("?")[0].split(f":{self.server.port}", 1)[1]
        current = event
        self.server.clock = self.clock
        first_started = self.clock.now()
        rule: str | None = None
        rule_made = 0.0
        firing = 0
        fired_at = first_started
        for invocation in range(1, max_invocations + 1):
            context = LambdaContext(self.clock, self.lambda_timeout, started=fired_at)
            self.handler(json.loads(json.dumps(current)), context)
            answers = self.server.responses.get(path, [])
            if answers:
                sent = self.server.received_at.get(path, [None])[0]
                self._fire_leftovers(rule or self.find_rule(event["RequestId"]), rule_made, firing, firings_after_answer)
                answers = self.server.responses.get(path, [])
                return Result(answers[0], invocation, answers, sent, first_started)
            if rule is None:
                rule = self.find_rule(event["RequestId"])
                assert rule is not None, "no response and no poll rule: the stack would hang"
                rule_made = self.rule_created_at.get(rule, self.clock.now())
            targets = self.events.list_targets_by_rule(Rule=rule)["Targets"]
            assert targets, "the poll rule has no target: the stack would hang"
            current = json.loads(targets[0]["Input"])
            firing += 1
            # Firings that fell more than a period before now found the lease held past the next
            # firing and returned at once: only the latest of them matters.
            behind = int((self.clock.now() - rule_made - RULE_PERIOD_SECONDS) // RULE_PERIOD_SECONDS)
            firing = max(firing, behind)
            fired_at = rule_made + firing * RULE_PERIOD_SECONDS
            if fired_at > self.clock.now():
                self.clock.sleep(fired_at - self.clock.now())
        raise AssertionError(f"no response after {max_invocations} invocations")

    def _fire_leftovers(self, rule: str | None, rule_made: float, firing: int, count: int) -> None:
        for _ in range(count):
            if rule is None or rule not in self.poll_rules():
                return
            targets = self.events.list_targets_by_rule(Rule=rule)["Targets"]
            if not targets:
                return
            firing += 1
            fired_at = rule_made + firing * RULE_PERIOD_SECONDS
            if fired_at > self.clock.now():
                self.clock.sleep(fired_at - self.clock.now())
            context = LambdaContext(self.clock, self.lambda_timeout, started=fired_at)
            self.handler(json.loads(targets[0]["Input"]), context)

    def drive_polls(self, done: Callable[[], bool], *, max_invocations: int = 500) -> int:
        """Play EventBridge for the poll rules left after an answer (a completion signal's poll)
        until ``done()``; returns the invocations made. Fails when no rule is left before then."""
        fired: dict[str, int] = {}
        for invocation in range(1, max_invocations + 1):
            if done():
                return invocation - 1
            rules = self.poll_rules()
            assert rules, "no poll rule left and the condition is not met: nothing would ever signal"
            rule = rules[0]
            made = self.rule_created_at.get(rule, self.clock.now())
            behind = int((self.clock.now() - made - RULE_PERIOD_SECONDS) // RULE_PERIOD_SECONDS)
            fired[rule] = max(fired.get(rule, 0) + 1, behind)
            fired_at = made + fired[rule] * RULE_PERIOD_SECONDS
            if fired_at > self.clock.now():
                self.clock.sleep(fired_at - self.clock.now())
            targets = self.events.list_targets_by_rule(Rule=rule)["Targets"]
            if targets:
                context = LambdaContext(self.clock, self.lambda_timeout, started=fired_at)
                self.handler(json.loads(targets[0]["Input"]), context)
        raise AssertionError(f"condition not met after {max_invocations} poll invocations")

    def fire_once(self, rule: str) -> None:
        """One more firing of ``rule`` now (its current Input), as EventBridge would."""
        targets = self.events.list_targets_by_rule(Rule=rule)["Targets"]
        if targets:
            self.handler(json.loads(targets[0]["Input"]), LambdaContext(self.clock, self.lambda_timeout))

    def received(self, url: str) -> list[dict[str, Any]]:
        """Every body PUT to ``url`` (a ResponseURL or a wait condition handle URL)."""
        return list(self.server.responses.get(url.split("?")[0].split(f":{self.server.port}", 1)[1], []))

    def find_rule(self, request_id: str) -> str | None:
        """The poll rule whose target replays the request ``request_id``."""
        for found in self.events.list_rules()["Rules"]:
            for target in self.events.list_targets_by_rule(Rule=found["Name"])["Targets"]:
                if json.loads(target.get("Input", "{}")).get("RequestId") == request_id:
                    return str(found["Name"])
        return None

    def poll_rules(self) -> list[str]:
        return [r["Name"] for r in self.events.list_rules(NamePrefix="dbscale-poll-")["Rules"]]


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
