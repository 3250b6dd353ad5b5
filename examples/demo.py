"""The dbscale demo: the whole lifecycle on an embedded local AWS, in seconds.

AWS is moto, in-process. moto's gaps (Redshift resize, managed master passwords) and its instant
state changes are filled by the test-side fake layer (``tests/fakes``): clusters really pass
through 'creating', 'resizing', 'pausing' ... on a simulated clock, so every wait is real code
waiting, just not real minutes. Nothing here talks to a real AWS account.

Run with ``make demo``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(
    AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from moto import mock_aws  # noqa: E402

from dbscale.core import Operation, PollResult, RdsProvisioning, RedshiftProvisioning  # noqa: E402
from tests.fakes import FakeClock, SlowAws, install_moto_shims  # noqa: E402

CLOCK = FakeClock()


def say(text: str) -> None:
    elapsed = int(CLOCK.elapsed)
    print(f"[+{elapsed // 3600:02d}:{elapsed % 3600 // 60:02d}:{elapsed % 60:02d}] {text}", flush=True)


def heading(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def follow(operation: Operation | None, timeout_minutes: float = 240) -> None:
    """Wait for an operation, printing each state change as it happens."""
    if operation is None:
        return

    def show(result: PollResult) -> None:
        say(f"  {result.reason}")

    operation.wait(timeout_minutes=timeout_minutes, poll_seconds=30, on_progress=show)


def redshift_lifecycle() -> None:
    heading("Redshift: create, rescale, pause, resume, delete (dbscale.core)")
    cluster = RedshiftProvisioning.create(
        "demo-warehouse", initial_instance_type="ra3.xlplus", initial_cluster_size=2, clock=CLOCK, wait=False
    )
    say("create requested: 2 x ra3.xlplus")
    follow(cluster.pending_operation)
    say(repr(cluster))
    say(f"connection info: {cluster.connection_info()}")
    say("rescale to 4 nodes (elastic resize: same node type, within 2x)")
    follow(cluster.rescale(new_cluster_size=4, wait=False))
    say("pause")
    follow(cluster.rescale(new_paused=True, wait=False))
    say("rescale while paused to 3 x ra3.4xlarge: resume, classic resize (node type change), pause again")
    follow(cluster.rescale(new_cluster_size=3, new_instance_type="ra3.4xlarge", wait=False))
    say(repr(cluster))
    say("resume")
    follow(cluster.rescale(new_paused=False, wait=False))
    say("delete with a final snapshot")
    follow(cluster.delete(wait=False))
    import boto3

    snapshots = boto3.client("redshift").describe_cluster_snapshots()["Snapshots"]
    say(f"final snapshot: {[s['SnapshotIdentifier'] for s in snapshots if s['SnapshotType'] == 'manual']}")


def aurora_lifecycle() -> None:
    heading("Aurora PostgreSQL: create, rolling class change, readers, stop, start, delete (dbscale.core)")
    db = RdsProvisioning.create(
        "demo-orders",
        initial_instance_type="db.r6g.large",
        engine="aurora-postgresql",
        reader_count=1,
        clock=CLOCK,
        wait=False,
    )
    say("create requested: writer + 1 reader, db.r6g.large")
    follow(db.pending_operation)
    say(repr(db))
    say(f"connection info: {db.connection_info()}")
    say("instance class to db.r6g.xlarge: readers one at a time, then a new writer and one failover")
    follow(db.rescale(new_instance_type="db.r6g.xlarge", wait=False))
    say("readers 1 -> 2, online")
    follow(db.rescale(new_reader_count=2, wait=False))
    say(repr(db))
    say("stop (pause)")
    follow(db.rescale(new_paused=True, wait=False))
    say("start (resume)")
    follow(db.rescale(new_paused=False, wait=False))
    clone_and_pool()
    say("delete with a final snapshot")
    follow(db.delete(wait=False))
    import boto3

    snapshots = boto3.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    say(f"final snapshot: {[s['DBClusterSnapshotIdentifier'] for s in snapshots]}")


def clone_and_pool() -> None:
    from datetime import timedelta

    from dbscale.core.clones import ClonePool, provision_clone

    say("copy-on-write clone of demo-orders (dbscale.core.clones)")
    plan = provision_clone("demo-orders", "demo-orders-clone", instance_class="db.r6g.large", clock=CLOCK, wait=False)
    say(f"  plan: {plan.action} from {plan.cloned_from}: {plan.reason}")
    follow(plan.operation)
    status = ClonePool("demo-orders", min_spare_slots=2, max_copy_age=timedelta(days=1), clock=CLOCK).status()
    say(
        f"  pool status: {status.source_clones} clone(s) of the source, {status.source_free_slots} free slots, "
        f"{len(status.copies)} copies, spare slots {status.spare_slots} (target {status.min_spare_slots})"
    )
    say("delete the clone (clones are disposable: no final snapshot)")
    follow(RdsProvisioning.open("demo-orders-clone", clock=CLOCK).delete(final_snapshot=False, wait=False))


def custom_resources() -> None:
    heading("CloudFormation custom resources: the sample events in examples/events/")
    import trustme

    from dbscale.handlers import aurora_cluster, redshift_cluster
    from tests.e2e.harness import CloudFormation, ResponseServer, install_provider_function

    install_provider_function()
    ca = trustme.CA()
    ca_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    ca.cert_pem.write_to_path(ca_file)
    server = ResponseServer(ca)
    try:
        for module, prefix in ((redshift_cluster, "redshift"), (aurora_cluster, "aurora")):
            module.provider.clock, module.provider.ssl_verify = CLOCK, ca_file
            cfn = CloudFormation(module.handler, server, CLOCK)
            for step in ("create", "update-rescale", "update-pause", "delete"):
                event: dict[str, Any] = json.loads((ROOT / f"examples/events/{prefix}-{step}.json").read_text())
                event["ResponseURL"] = server.url()  # CloudFormation's is a presigned S3 URL
                result = cfn.send(event)
                shown = {k: v for k, v in result.data.items() if k in ("NodeType", "NumberOfNodes", "InstanceClass", "ReaderCount", "Paused")}
                say(
                    f"{event['ResourceType']} {event['RequestType']:6s} -> {result.status} "
                    f"{result.physical_id} {shown} ({result.invocations} invocation(s)){' ' + result.reason if result.reason else ''}"
                )
    finally:
        server.close()


def synthesize_example_app() -> None:
    heading("CDK: synthesize the example app (app.py), offline")
    import app as example_app

    assembly = example_app.build_app().synth()
    for stack in assembly.stacks:
        resources = stack.template.get("Resources", {})
        counts: dict[str, int] = {}
        for resource in resources.values():
            counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
        print(f"  {stack.stack_name}: {len(resources)} resources")
        for kind, count in sorted(counts.items()):
            print(f"    {count:3d} x {kind}")
        for name, output in stack.template.get("Outputs", {}).items():
            export = output.get("Export", {}).get("Name")
            if export:
                print(f"    export {export}")


def will_skip() -> list[str]:
    """What this demo cannot show on this machine, and why (said once, before anything runs)."""
    import shutil

    from tests.dbservers import ServerUnavailable, system_user, mysql_server_binary

    skipped = []
    if shutil.which("node") is None:
        skipped.append("the CDK synth (no Node.js: the CDK runs in Node; install Node.js 20)")
    try:
        mysql_server_binary()
        system_user("mysql")
    except ServerUnavailable as err:
        skipped.append(f"the telemetry example ({err})")
    return skipped


def main() -> int:
    skipped = will_skip()
    print(f"make demo will skip: {'; '.join(skipped)}" if skipped else "make demo runs every part.", flush=True)
    install_moto_shims()
    from tests.fakes.clones import AuroraCloneFake

    with mock_aws(), SlowAws(CLOCK) as slow, AuroraCloneFake(slow):
        redshift_lifecycle()
        aurora_lifecycle()
    with mock_aws(), SlowAws(CLOCK):
        custom_resources()
    if not any(s.startswith("the CDK synth") for s in skipped):
        synthesize_example_app()
    heading(
        "Scaling checks on a simulated load, one autoscaling decision, and one forecast-driven decision "
        "(bench/autoscale_sim.py --demo)"
    )
    import subprocess

    subprocess.run([sys.executable, str(ROOT / "bench/autoscale_sim.py"), "--demo"], check=True)
    heading("Telemetry example on a local MariaDB/MySQL server: migrations, ingest, analytics (examples/telemetry)")
    subprocess.run([sys.executable, str(ROOT / "examples/telemetry/demo_local.py")], check=True)
    print("\nDone: every change above ran through dbscale's real code against moto; no AWS account was used.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
