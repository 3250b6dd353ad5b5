"""Completion lag and orchestration cost of long operations on Step Functions.

Lag: simulated seconds between an operation finishing in AWS (the fake) and the answer reaching
CloudFormation, over a sweep of operation lengths. Each run creates a Redshift cluster whose
'creating' phase lasts a length drawn at random (seeded) between 1 and 58 minutes (58: the
ServiceTimeout of 3600 s less dbscale's answer margin), plus dense grids around the two places
where the work changes hands: the first invocation's hand-over to the execution (540-660 s) and
the end of the first check task (1140-1260 s). The handlers run for real against moto; moto's Step
Functions interpreter runs the provider's real state machine definition with its check tasks
calling the handler in process on the simulated clock; answers are PUT over HTTPS to a TLS server
on 127.0.0.1.

Baseline in the same run, on the same lengths and the same interpreter: the AWS CDK provider
framework's waiter (its state machine: an isComplete task retried every 5 s, the framework's
default query interval), with an isComplete that checks the cluster and answers.

Cost: the AWS list price (us-east-1) of orchestrating one operation of 10 minutes, 1 hour and
12 hours (the last two carried by a completion signal), counted from what the simulation did:
state transitions from the execution's history (every state entered, every retry) at $0.025 per
1,000, and Lambda GB-seconds of every invocation (the first included, each billed at least
100 ms more than its simulated duration for the calls themselves) at the arm64 price for the
providers' 256 MB, plus requests. Target: <= $0.05 for 12 hours; lag max <= 10 s and p95 <= 6 s.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
)

import boto3  # noqa: E402
import trustme  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.e2e.harness import (  # noqa: E402
    FUNCTION_ARN,
    SFN_CONFIG,
    STACK_ID,
    ResponseServer,
    wired,
)
from tests.fakes import SharedClock, SlowAws, StepFunctionsSim, fresh_session, install_moto_shims  # noqa: E402

SEED = 20261207
SWEEP = int(os.environ.get("LAG_SWEEP", "150"))
TARGET_MAX_SECONDS = 10.0
TARGET_P95_SECONDS = 6.0
TARGET_COST_12H = 0.05
CDK_QUERY_INTERVAL = 5
PROPS = {"ClusterIdentifier": "lag", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
# AWS list prices, us-east-1.
PRICE_TRANSITION = 0.025 / 1000  # Step Functions Standard, per state transition
PRICE_GB_SECOND_ARM = 0.0000133334  # Lambda arm64, per GB-second
PRICE_REQUEST = 0.20 / 1_000_000  # Lambda, per request
MEMORY_GB = 256 / 1024
CALL_OVERHEAD_SECONDS = 0.1


def lengths() -> list[float]:
    rng = random.Random(SEED)
    swept = [round(rng.uniform(60, 58 * 60), 1) for _ in range(SWEEP)]
    handover = [540.0 + 5 * i for i in range(25)]  # the first invocation hands over at 600 s
    task_end = [1140.0 + 5 * i for i in range(25)]  # the first check task returns at ~1200 s
    return sorted(swept + handover + task_end)


def stats(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.mean(values), p95, max(values)


def finished_at(slow: SlowAws, name: str) -> float:
    return next(t for t, state in slow.history(name) if state == "available")


class Run:
    """One operation under moto: the answer's lag, and what orchestrating it cost."""

    def __init__(self) -> None:
        self.lag = 0.0
        self.transitions = 0
        self.gb_seconds = 0.0
        self.requests = 0

    @property
    def dollars(self) -> float:
        return (
            self.transitions * PRICE_TRANSITION
            + self.gb_seconds * PRICE_GB_SECOND_ARM
            + self.requests * PRICE_REQUEST
        )

    def count(self, sim: StepFunctionsSim, first_invocation_seconds: float) -> None:
        sfn = fresh_session().client("stepfunctions")
        for arn in sim.execution_arns:
            pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
            events = [e["type"] for page in pages for e in page["events"]]
            entered = sum(1 for t in events if t.endswith("StateEntered"))
            retries = sum(1 for t in events if t in ("TaskScheduled", "LambdaFunctionScheduled")) - sum(
                1 for t in events if t == "TaskStateEntered"
            )
            self.transitions += entered + max(0, retries)
        durations = [first_invocation_seconds] + [i.end - i.start for i in sim.invocations]
        self.requests = len(durations)
        self.gb_seconds = sum(d + CALL_OVERHEAD_SECONDS for d in durations) * MEMORY_GB


@contextlib.contextmanager
def simulated_create(duration: float) -> Iterator[tuple[boto3.Session, SharedClock, SlowAws]]:
    """moto running state machines, a fresh default session, the shared simulated clock, and a
    Redshift create that takes ``duration`` simulated seconds."""
    with mock_aws(config=SFN_CONFIG):
        session = fresh_session()
        boto3.DEFAULT_SESSION = session
        clock = SharedClock()
        with SlowAws(clock) as slow:
            slow.set_duration("redshift", "create", duration)
            yield session, clock, slow


def dbscale_run(duration: float, server: ResponseServer, ca_file: str, *, signal: bool = False) -> Run:
    run = Run()
    with simulated_create(duration) as (session, clock, slow):
        from dbscale.handlers import redshift_cluster

        with wired(redshift_cluster, server, ca_file, session, clock) as cfn:
            server.clock = clock
            props: dict[str, Any] = dict(PROPS)
            handle = ""
            if signal:
                handle = server.url()
                props.update(CompletionSignalUrl=handle, CompletionSignalTimeout=43200)
            event = cfn.event("Create", "Custom::RedshiftCluster", props, service_timeout=3600)
            started = clock.now()
            cfn.invoke(event)
            first = clock.now() - started
            done_url = handle or event["ResponseURL"]
            cfn.run_until(lambda: bool(cfn.received(done_url)), max_seconds=duration + 4 * 3600)
            cfn.settle()
            arrived = server.received_at[cfn.path(done_url)][0]
            run.lag = arrived - finished_at(slow, "lag")
            run.count(cfn.sim, first)
    return run


def cdk_waiter_definition(is_complete_arn: str, on_timeout_arn: str, max_attempts: int) -> dict[str, Any]:
    """The CDK provider framework's waiter state machine (aws-cdk-lib custom-resources,
    provider-framework/waiter-state-machine.ts): isComplete, retried on every error at a fixed
    interval, then onTimeout."""
    return {
        "StartAt": "framework-isComplete-task",
        "States": {
            "framework-isComplete-task": {
                "End": True,
                "Retry": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "IntervalSeconds": CDK_QUERY_INTERVAL,
                        "MaxAttempts": max_attempts,
                        "BackoffRate": 1,
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "framework-onTimeout-task"}],
                "Type": "Task",
                "Resource": is_complete_arn,
            },
            "framework-onTimeout-task": {"End": True, "Type": "Task", "Resource": on_timeout_arn},
        },
    }


def cdk_run(duration: float, server: ResponseServer, ca_file: str) -> Run:
    """The same Create through the CDK provider framework's waiter: onEvent creates the cluster and
    starts the waiter; isComplete answers once the cluster is available."""
    from dbscale.cfn.answer import send_cfn_response

    run = Run()
    with simulated_create(duration) as (session, clock, slow):
        redshift = session.client("redshift")
        complete_arn = FUNCTION_ARN + "-isComplete"
        timeout_arn = FUNCTION_ARN + "-onTimeout"

        def is_complete(event: dict[str, Any], _: Any) -> dict[str, Any]:
            found = redshift.describe_clusters(ClusterIdentifier="lag")["Clusters"][0]
            if found["ClusterStatus"] != "available":
                raise RuntimeError("operation not complete yet")
            body = {
                "Status": "SUCCESS",
                "PhysicalResourceId": "lag",
                "StackId": event["StackId"],
                "RequestId": event["RequestId"],
                "LogicalResourceId": event["LogicalResourceId"],
                "Data": {},
            }
            send_cfn_response(event["ResponseURL"], body, ca_file)
            return event

        def on_timeout(event: dict[str, Any], _: Any) -> None:
            raise RuntimeError("timed out")

        functions: dict[str, Callable[[dict[str, Any], Any], Any]] = {
            complete_arn: is_complete,
            timeout_arn: on_timeout,
        }
        with StepFunctionsSim(clock, functions) as sim:
            sfn = session.client("stepfunctions")
            machine = sfn.create_state_machine(
                name="cdk-waiter",
                definition=json.dumps(cdk_waiter_definition(complete_arn, timeout_arn, 3600 // 5)),
                roleArn="arn:aws:iam::123456789012:role/waiter",
            )["stateMachineArn"]
            server.clock = clock
            url = server.url()
            event = {
                "RequestType": "Create",
                "ResponseURL": url,
                "StackId": STACK_ID,
                "RequestId": "r-" + str(duration),
                "LogicalResourceId": "Cluster",
                "ResourceProperties": PROPS,
            }
            started = clock.now()
            redshift.create_cluster(
                ClusterIdentifier="lag",
                NodeType="ra3.xlplus",
                NumberOfNodes=2,
                MasterUsername="admin",
                MasterUserPassword="Secret-12345",
            )
            sfn.start_execution(stateMachineArn=machine, input=json.dumps(event))
            first = clock.now() - started
            path = url.split("?")[0].split(f":{server.port}", 1)[1]
            sim.run_until(lambda: bool(server.responses.get(path)), max_seconds=duration + 3600)
            sim.settle(max_seconds=600)
            run.lag = server.received_at[path][0] - finished_at(slow, "lag")
            run.count(sim, first)
    return run


def cost_line(label: str, runs: dict[str, Run]) -> str:
    cells = "  ".join(
        f"{name}: ${run.dollars:.4f} ({run.transitions} transitions, {run.gb_seconds:,.0f} GB-s)"
        for name, run in runs.items()
    )
    return f"  {label:10} {cells}"


def main() -> int:
    install_moto_shims()
    ca = trustme.CA()
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    ca.cert_pem.write_to_path(ca_file)
    server = ResponseServer(ca)
    ours: list[float] = []
    cdk: list[float] = []
    worst = (0.0, 0.0)
    try:
        for duration in lengths():
            lag = dbscale_run(duration, server, ca_file).lag
            ours.append(lag)
            if lag > worst[1]:
                worst = (duration, lag)
            cdk.append(cdk_run(duration, server, ca_file).lag)
        n = len(ours)
        print(f"completion lag over {n} operation lengths (1-58 min, seed {SEED}, plus hand-over grids):")
        print(f"{'':34} {'mean':>7} {'p95':>7} {'max':>7}  (simulated seconds)")
        for label, values in (("dbscale (Step Functions)", ours), ("CDK provider framework waiter", cdk)):
            mean, p95, top = stats(values)
            print(f"  {label:32} {mean:7.2f} {p95:7.2f} {top:7.2f}")
        mean, p95, top = stats(ours)
        b_mean, b_p95, b_top = stats(cdk)
        print(f"ratio to the CDK waiter: mean {mean / b_mean:.2f}x, p95 {p95 / b_p95:.2f}x, max {top / b_top:.2f}x")
        print(f"dbscale worst lag {top:.1f} s at a {worst[0]:.0f} s operation", flush=True)
        # 12 hours less what the answer margin keeps: the longest an operation with a signal may take.
        longest = 12 * 3600 - 300
        costs = {
            "10 min": {"dbscale": dbscale_run(600, server, ca_file), "CDK waiter": cdk_run(600, server, ca_file)},
            "1 h": {
                "dbscale": dbscale_run(3600, server, ca_file, signal=True),
                "CDK waiter": cdk_run(3500, server, ca_file),
            },
            "12 h": {"dbscale": dbscale_run(longest, server, ca_file, signal=True)},
        }
    finally:
        server.close()
    print("orchestration cost of one operation (list prices, us-east-1, arm64 256 MB):")
    for label, runs in costs.items():
        print(cost_line(label, runs))
    twelve = costs["12 h"]["dbscale"]
    print(f"  12 h with a completion signal: signal {twelve.lag:.1f} s after the end (a check every 90 s past 1 h)")
    ok = top <= TARGET_MAX_SECONDS and p95 <= TARGET_P95_SECONDS and twelve.dollars <= TARGET_COST_12H
    print(
        f"{'meets' if ok else 'MISSES'} the targets (max <= {TARGET_MAX_SECONDS:g} s, p95 <= {TARGET_P95_SECONDS:g} s, "
        f"12 h <= ${TARGET_COST_12H:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
