"""Synth time of the example app (app.py) next to the same topology built from native constructs.

Both are built and synthesized in the same process, alternating, after one warm-up each (jsii
start-up and module loading are paid once and excluded). The native app is the example data
stack written with ``aws_redshift.CfnCluster`` and ``aws_rds.DatabaseCluster``: the same VPC with
flow logs, a 2-node ra3.xlplus cluster with its subnet group, security group and KMS key, and an
Aurora PostgreSQL Serverless v2 cluster (writer + 1 reader) with its key and a TLS parameter group.
dbscale's example additionally synthesizes the providers stack and stages the Lambda asset.

Prints the medians and the ratios; exits 1 when the same-topology ratio (the data stack against
the native stack) is above the target (1.2x). The whole app, which also synthesizes the
providers stack that a native app has no counterpart for, is printed next to it.

    .venv/bin/python bench/synth_time.py [rounds]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

TARGET_RATIO = 1.2


def native_app(outdir: str) -> None:
    from aws_cdk import App, RemovalPolicy, Stack, Tags
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_rds as rds
    from aws_cdk import aws_redshift as redshift

    app = App(outdir=outdir)
    stack = Stack(app, "NativeExample")
    flow_logs = logs.LogGroup(stack, "FlowLogs", retention=logs.RetentionDays.THREE_MONTHS)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        flow_logs={"All": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))},
    )
    private = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    warehouse_key = kms.Key(stack, "WarehouseKey", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN)
    warehouse_sg = ec2.SecurityGroup(stack, "WarehouseSg", vpc=vpc, allow_all_outbound=False)
    subnet_group = redshift.CfnClusterSubnetGroup(
        stack, "WarehouseSubnets", description="warehouse", subnet_ids=private.subnet_ids
    )
    warehouse = redshift.CfnCluster(
        stack,
        "Warehouse",
        cluster_type="multi-node",
        node_type="ra3.xlplus",
        number_of_nodes=2,
        db_name="dev",
        master_username="admin",
        manage_master_password=True,
        cluster_subnet_group_name=subnet_group.ref,
        vpc_security_group_ids=[warehouse_sg.security_group_id],
        encrypted=True,
        kms_key_id=warehouse_key.key_arn,
        publicly_accessible=False,
    )
    warehouse.apply_removal_policy(RemovalPolicy.SNAPSHOT)
    app_db = rds.DatabaseCluster(
        stack,
        "AppDb",
        engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_16_6),
        vpc=vpc,
        writer=rds.ClusterInstance.serverless_v2("Writer"),
        readers=[rds.ClusterInstance.serverless_v2("Reader", scale_with_writer=True)],
        serverless_v2_min_capacity=0.5,
        serverless_v2_max_capacity=4,
        storage_encryption_key=kms.Key(
            stack, "AppDbKey", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN
        ),
        parameters={"rds.force_ssl": "1"},
        default_database_name="app",
        copy_tags_to_snapshot=True,
    )
    app_db.connections.allow_default_port_from(warehouse_sg)
    Tags.of(app).add("project", "dbscale-example")
    app.synth()


def dbscale_app(outdir: str) -> None:
    from aws_cdk import App

    import app as example

    example.build_app(App(outdir=outdir)).synth()


def dbscale_data_stack(outdir: str) -> None:
    from aws_cdk import App, Tags

    import app as example

    app = App(outdir=outdir)
    example.ExampleStack(app, "DbscaleExample")
    Tags.of(app).add("project", "dbscale-example")
    app.synth()


def timed(build: Callable[[str], None]) -> float:
    """Seconds to build and synthesize (writing the assembly included, deleting it not)."""
    with tempfile.TemporaryDirectory(prefix="dbscale-bench-") as outdir:
        start = time.perf_counter()
        build(outdir)
        return time.perf_counter() - start


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    builds = {"native": native_app, "data": dbscale_data_stack, "app": dbscale_app}
    for build in builds.values():  # warm-up: jsii start-up and module loading
        timed(build)
    samples: dict[str, list[float]] = {name: [] for name in builds}
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits all three alike
        for name, build in builds.items():
            samples[name].append(timed(build))
    native, data, whole = (statistics.median(samples[name]) for name in builds)
    ratio = data / native
    spread = {name: f"(min {min(times):.3f}, max {max(times):.3f})" for name, times in samples.items()}
    print(f"medians of {rounds} rounds, (min, max) after each")
    print(f"native constructs (CfnCluster + DatabaseCluster), 1 stack: {native:.3f} s {spread['native']}")
    print(f"dbscale data stack (VPC + RedshiftCluster + AuroraCluster): {data:.3f} s {spread['data']}")
    print(f"dbscale whole example app (+ the providers stack):          {whole:.3f} s {spread['app']}")
    print(f"ratio, same topology: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    # Shared, noisy machines move the medians of a few rounds a lot; the minimums (the least
    # disturbed rounds) are printed as a cross-check. The gate stays on the medians.
    print(f"ratio of the minimums, same topology: {min(samples['data']) / min(samples['native']):.2f}x (not gated)")
    print(f"ratio, whole example app incl. the extra providers stack: {whole / native:.2f}x (not gated)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
