"""Completion lag: simulated seconds between an operation finishing in AWS (the fake) and the
SUCCESS response reaching CloudFormation, for dbscale's handler next to crhelper's default
(2-minute EventBridge polling), measured in the same run on the same fake.

Each run creates a Redshift cluster whose 'creating' phase lasts a given number of simulated
seconds (several durations, some shorter and some longer than one 15-minute Lambda invocation).
The handlers run for real against moto; their responses are PUT over HTTPS to a TLS server on
127.0.0.1; EventBridge is replayed from the rule stored in moto at the rule's own rate.
Target: dbscale's worst lag at most 10 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import boto3  # noqa: E402
import trustme  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.e2e.harness import CloudFormation, ResponseServer, install_provider_function  # noqa: E402
from tests.fakes import FakeClock, SlowAws, install_moto_shims  # noqa: E402

DURATIONS = (95, 301, 547, 839, 1201, 1777, 2333)  # simulated seconds in 'creating'
TARGET_SECONDS = 10.0
PROPS = {"ClusterIdentifier": "lag", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}


def crhelper_default_handler(clock: FakeClock, ca_file: str) -> Any:
    """The plain crhelper pattern with its defaults: start, then check once per 2-minute poll."""
    from crhelper import CfnResource

    from dbscale.core.redshift import RedshiftProvisioning

    helper = CfnResource(log_level="ERROR", sleep_on_delete=0, ssl_verify=ca_file)

    @helper.create
    def create(event: dict[str, Any], _: Any) -> None:
        props = event["ResourceProperties"]
        RedshiftProvisioning(
            props["ClusterIdentifier"],
            initial_instance_type=props["NodeType"],
            initial_cluster_size=int(props["NumberOfNodes"]),
            clock=clock,
            wait=False,
        )

    @helper.poll_create
    def poll_create(event: dict[str, Any], _: Any) -> str | None:
        name = event["ResourceProperties"]["ClusterIdentifier"]
        cluster = boto3.client("redshift").describe_clusters(ClusterIdentifier=name)["Clusters"][0]
        return name if cluster["ClusterStatus"] == "available" else None

    return helper


def finished_at(slow: SlowAws, name: str) -> float:
    return next(t for t, state in slow.history(name) if state == "available")


def measure(kind: str, duration: float, server: ResponseServer, ca: tuple[Any, str]) -> tuple[float, int]:
    with mock_aws():
        clock = FakeClock()
        with SlowAws(clock) as slow:
            slow.set_duration("redshift", "create", duration)
            install_provider_function()
            if kind == "dbscale":
                from dbscale.handlers import redshift_cluster

                provider = redshift_cluster.provider
                provider.clock, provider.ssl_verify, provider.session, provider._helper = clock, ca[1], None, None
                handler = redshift_cluster.handler
            else:
                handler = crhelper_default_handler(clock, ca[1])
            cfn = CloudFormation(handler, server, clock)
            result = cfn.send(cfn.event("Create", "Custom::RedshiftCluster", PROPS))
            assert result.status == "SUCCESS", result.reason
            assert result.sent_at is not None
            return result.sent_at - finished_at(slow, "lag"), result.invocations


def main() -> int:
    install_moto_shims()
    ca = trustme.CA()
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    ca.cert_pem.write_to_path(ca_file)
    server = ResponseServer(ca)
    rows = []
    try:
        for duration in DURATIONS:
            ours = measure("dbscale", duration, server, (ca, ca_file))
            base = measure("crhelper", duration, server, (ca, ca_file))
            rows.append((duration, ours, base))
    finally:
        server.close()
    print("completion lag: simulated seconds from 'available' in the fake to the SUCCESS response")
    print(f"{'op length':>10} {'dbscale lag':>12} {'invocations':>12} {'crhelper-default lag':>21} {'invocations':>12}")
    for duration, (lag, calls), (base_lag, base_calls) in rows:
        print(f"{duration:>9}s {lag:>11.1f}s {calls:>12} {base_lag:>20.1f}s {base_calls:>12}")
    ours_lags = [r[1][0] for r in rows]
    base_lags = [r[2][0] for r in rows]
    mean_ours, mean_base = statistics.mean(ours_lags), statistics.mean(base_lags)
    print(f"mean lag: dbscale {mean_ours:.1f} s, crhelper default {mean_base:.1f} s "
          f"(ratio {mean_ours / mean_base if mean_base else float('nan'):.3f}x)")
    worst = max(ours_lags)
    print(f"worst dbscale lag {worst:.1f} s: {'meets' if worst <= TARGET_SECONDS else 'MISSES'} the {TARGET_SECONDS:g} s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
