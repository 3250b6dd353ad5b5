"""Adversarial campaign against the cluster handlers: how many CloudFormation deliveries are
answered exactly once, and how many leave a billable cluster or a running execution behind.

Seeded random events go to Custom::RedshiftCluster and Custom::AuroraCluster on moto (with the
test fakes' slow transitions and strict EventBridge limits): hostile property values, broken
event shapes, AWS faults (errors before AWS acts, answers lost after it acted, throttling) on
creates, describes and the poll set-up, and short Lambda timeouts. Every FAILED Create is followed
by CloudFormation's rollback Delete with the id the Create answered; every SUCCESS by a Delete.

    python bench/contract_campaign.py [EVENTS] [SEED]

Prints one row: events sent, answered exactly once, not answered, answered more than once,
leaked clusters (alive after the Delete), executions still running after the Delete. Run it on two checkouts to compare.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
)

import boto3  # noqa: E402
import botocore.endpoint  # noqa: E402
import trustme  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.e2e.harness import SFN_CONFIG, CloudFormation, ResponseServer, wired  # noqa: E402
from tests.fakes import SharedClock, SlowAws, install_moto_shims  # noqa: E402
from tests.fakes.faults import BackoffOnClock, FailingCalls, LostResponses  # noqa: E402

try:
    from tests.fakes.faults import StrictEventBridge  # noqa: E402
except ImportError:  # an older checkout: moto's lenient EventBridge
    StrictEventBridge = None  # type: ignore[assignment,misc]

HOSTILE = ["", "1_6", "٣", "1e300", "-1", "nan", "\x00", "a\x1bb", "x" * 300, " 2 ", "true"]
SHAPES = ["lower-case type", "no RequestType", "no ResponseURL", "properties not an object"]
FAULT_CALLS = {
    "redshift": ["CreateCluster", "DescribeClusters", "StartExecution", "DescribeExecution", "ListExecutions"],
    "aurora": ["CreateDBCluster", "CreateDBInstance", "DescribeDBClusters", "StartExecution", "DescribeExecution"],
}
CODES = ["AccessDeniedException", "ThrottlingException", "InternalFailure"]
KINDS = {
    "redshift": (
        "Custom::RedshiftCluster",
        {"NodeType": "ra3.xlplus", "NumberOfNodes": "2"},
        ["NumberOfNodes", "NodeType", "Port", "Paused", "MasterUsername"],
    ),
    "aurora": (
        "Custom::AuroraCluster",
        {"InstanceClass": "db.r6g.large", "ReaderCount": "0"},
        ["ReaderCount", "InstanceClass", "Paused", "BackupRetentionPeriod", "MasterUsername"],
    ),
}


def _live(kind: str, name: str) -> bool:
    try:
        return _describe_live(kind, name)
    except Exception:  # noqa: BLE001 - e.g. a control character AWS was sent makes the answer unparseable
        return True  # cannot be seen, cannot be deleted by the stack: counted as leaked


def _describe_live(kind: str, name: str) -> bool:
    if kind == "redshift":
        found = boto3.client("redshift").describe_clusters()["Clusters"]
        return any(c["ClusterIdentifier"] == name and c["ClusterStatus"] != "deleting" for c in found)
    rds = boto3.client("rds")
    clusters = [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == name]
    instances = [i for i in rds.describe_db_instances()["DBInstances"] if i.get("DBClusterIdentifier") == name]
    return any(c.get("Status") != "deleting" for c in clusters) or bool(instances)


def run(events: int, seed: int) -> dict[str, int]:
    from dbscale.handlers import aurora_cluster, redshift_cluster

    install_moto_shims()
    rng = random.Random(seed)
    ca = trustme.CA()
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    ca.cert_pem.write_to_path(ca_file)
    server = ResponseServer(ca)
    counts = {"sent": 0, "answered once": 0, "no ResponseURL": 0, "not answered": 0, "answered twice or more": 0, "leaked": 0, "orphaned": 0}
    modules = {"redshift": redshift_cluster, "aurora": aurora_cluster}
    n = 0
    try:
        while counts["sent"] < events:
            n += 1
            kind = rng.choice(["redshift", "aurora"])
            resource_type, base, fields = KINDS[kind]
            name = f"camp-{n}"
            with mock_aws(config=SFN_CONFIG):
                clock = SharedClock()
                with SlowAws(clock):
                    session = boto3.Session(region_name="us-east-1")
                    boto3.DEFAULT_SESSION = session
                    failing, lost = FailingCalls(), LostResponses()
                    failing.attach(session.events)
                    lost.attach(session.events)
                    if StrictEventBridge is not None:
                        StrictEventBridge().attach(session.events)
                    botocore.endpoint.time = BackoffOnClock(clock)  # type: ignore[attr-defined]
                    module = modules[kind]
                    wiring = wired(module, server, ca_file, session, clock)
                    cfn = wiring.__enter__()
                    if rng.random() < 0.4:
                        cfn.lambda_timeout = 120.0
                    props: dict[str, Any] = {"ClusterIdentifier": name, **base}
                    if rng.random() < 0.4:
                        props[rng.choice(fields)] = rng.choice(HOSTILE)
                    event = cfn.event("Create", resource_type, props)
                    shape = rng.choice(SHAPES) if rng.random() < 0.15 else None
                    if shape == "lower-case type":
                        event["RequestType"] = "create"
                    elif shape == "no RequestType":
                        del event["RequestType"]
                    elif shape == "no ResponseURL":
                        event["ResponseURL"] = ""
                    elif shape == "properties not an object":
                        event["ResourceProperties"] = json.dumps(event["ResourceProperties"])
                    fault = rng.random()
                    if fault < 0.25:
                        failing.fail(rng.choice(FAULT_CALLS[kind]), rng.choice(CODES), times=rng.randint(1, 8))
                    elif fault < 0.4:
                        lost.lose(FAULT_CALLS[kind][0], times=rng.randint(1, 8))
                    result = _send(cfn, event, counts)
                    failing._rules.clear()
                    lost._pending.clear()
                    physical = result["PhysicalResourceId"] if result else name
                    delete = cfn.event("Delete", resource_type, {**props, "SkipFinalSnapshot": "true"}, physical_id=physical)
                    _send(cfn, delete, counts)
                    if _live(kind, name):
                        counts["leaked"] += 1
                        if os.environ.get("CAMPAIGN_VERBOSE"):
                            print(f"leaked {name}: props={props!r} shape={shape} first={result and result['Status']}")
                    cfn.settle(max_seconds=4 * 3600)
                    counts["orphaned"] += len(cfn.running())
                    wiring.__exit__(None, None, None)
    finally:
        server.close()
    return counts


def _send(cfn: CloudFormation, event: dict[str, Any], counts: dict[str, int]) -> dict[str, Any] | None:
    counts["sent"] += 1
    url = event.get("ResponseURL") or ""
    if not url:
        try:
            cfn.handler(json.loads(json.dumps(event)), _Context(cfn))
        except Exception:  # noqa: BLE001 - the older runtime may raise; counted as not answered
            pass
        counts["no ResponseURL"] += 1  # nobody can be answered: CloudFormation times out, by design
        return None
    try:
        result = cfn.send(event, after_answer_seconds=180)
        answers = result.responses
    except AssertionError:  # no answer and no execution: the stack would hang
        path = url.split("?")[0].split(f":{cfn.server.port}", 1)[1]
        answers = cfn.server.responses.get(path, [])
    if not answers:
        counts["not answered"] += 1
        return None
    counts["answered once" if len(answers) == 1 else "answered twice or more"] += 1
    return answers[0]


class _Context:
    def __init__(self, cfn: CloudFormation) -> None:
        from tests.e2e.harness import LambdaContext

        self._inner = LambdaContext(cfn.clock)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def main() -> int:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    counts = run(events, seed)
    print("contract campaign: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
