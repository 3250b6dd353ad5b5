#!/usr/bin/env python3
"""The telemetry example: the seed lesson (device telemetry in Aurora MySQL, analytics on it) as one
CDK app. ``cdk deploy`` builds everything; ``cdk destroy`` removes it (see README.md for what stays).

* a VPC with isolated subnets only (no NAT gateway), flow logs on;
* Aurora MySQL Serverless v2 through ``AuroraCluster``: 0-ACU minimum, auto-pause after 10 idle
  minutes, at most 4 ACUs, TLS required, RDS Data API on;
* ``DatabaseBootstrap``: the ``telemetry`` schema and table from ``sql/migrations/`` and the ``app``
  user (SELECT, INSERT) with its password in its own secret;
* the ingest function, in the VPC, behind a function URL (AWS_IAM auth), writing through the RDS
  Data API (reached over an interface endpoint) as the ``app`` user;
* a CloudWatch dashboard: ingest rate, errors, duration, the cluster's ACUs and latencies.

Context: ``-c destroy_data=true`` deletes the cluster without a final snapshot on ``cdk destroy``
(default: a final snapshot is kept).
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

from aws_cdk import Acknowledgment, App, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository, for `dbscale` when it is not installed

from dbscale.constructs import AuroraCluster, DatabaseBootstrap, DatabaseUser  # noqa: E402

MIGRATIONS = HERE / "sql" / "migrations"
INGEST_CONCURRENCY = 10
"""At most this many ingest functions run at once: bounds cost and the load on the database."""


def stage_ingest_code() -> str:
    """The ingest function's asset, without Docker: its handler and the slice of dbscale it imports
    (the StatementExecutor interface and its RDS Data API implementation; boto3 is in the Lambda
    runtime). Copied in sorted order so the asset hash only changes with the code."""
    import dbscale

    package = Path(dbscale.__file__).resolve().parent
    files = {
        "telemetry_ingest.py": HERE / "ingest" / "telemetry_ingest.py",
        "dbscale/__init__.py": package / "__init__.py",
    }
    for name in ("__init__.py", "errors.py", "aws.py", "clock.py"):
        files[f"dbscale/core/{name}"] = package / "core" / name
    for path in sorted((package / "core" / "bootstrap").glob("*.py")):
        files[f"dbscale/core/bootstrap/{path.name}"] = path
    staging = Path(tempfile.mkdtemp(prefix="telemetry-ingest-"))
    atexit.register(shutil.rmtree, staging, True)
    for relative, source in sorted(files.items()):
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return str(staging)


class TelemetryStack(Stack):
    """The seed lesson's infrastructure: database, schema and user, ingest endpoint, dashboard."""

    def __init__(self, scope: Construct, id: str, *, destroy_data: bool = False, **kwargs: object) -> None:
        super().__init__(scope, id, description="dbscale telemetry example (Aurora MySQL Serverless v2)", **kwargs)  # type: ignore[arg-type]
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
            flow_logs={"All": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))},
        )
        self.database = AuroraCluster(
            self,
            "Database",
            vpc=vpc,
            engine="aurora-mysql",
            instance_class="db.serverless",
            serverless_v2_min_capacity=0,
            serverless_v2_max_capacity=4,
            serverless_v2_seconds_until_auto_pause=600,
            data_api=True,
            removal_policy=RemovalPolicy.DESTROY if destroy_data else RemovalPolicy.SNAPSHOT,
        )
        self.schema = DatabaseBootstrap(
            self,
            "Schema",
            cluster=self.database,
            migrations=MIGRATIONS,
            users=[DatabaseUser("app", grants=["SELECT, INSERT ON telemetry.*"], database="telemetry")],
        )
        app_secret = self.schema.user_secret("app")

        # The function reaches the RDS Data API through an interface endpoint: no NAT, no internet.
        ingest_group = ec2.SecurityGroup(
            self, "IngestSecurityGroup", vpc=vpc, description="telemetry ingest function", allow_all_outbound=False
        )
        endpoint = vpc.add_interface_endpoint(
            "RdsDataEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.RDS_DATA,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            private_dns_enabled=True,
            open=False,
        )
        endpoint.connections.allow_default_port_from(ingest_group, "ingest function to the RDS Data API")
        ingest_logs = logs.LogGroup(self, "IngestLogs", retention=logs.RetentionDays.ONE_MONTH)
        self.ingest = lambda_.Function(
            self,
            "Ingest",
            description="telemetry ingest: function URL -> RDS Data API as the app user",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="telemetry_ingest.handler",
            code=lambda_.Code.from_asset(stage_ingest_code()),
            timeout=Duration.seconds(30),
            memory_size=256,
            reserved_concurrent_executions=INGEST_CONCURRENCY,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[ingest_group],
            log_group=ingest_logs,
            environment={
                "CLUSTER_ARN": self.database.cluster_arn,
                "SECRET_ARN": app_secret.secret_arn,
                "DATABASE": "telemetry",
            },
        )
        # The Data API signs in with the app user's secret, read as the caller.
        app_secret.grant_read(self.ingest)
        self.ingest.add_to_role_policy(
            iam.PolicyStatement(actions=["rds-data:ExecuteStatement"], resources=[self.database.cluster_arn])
        )
        url = self.ingest.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        Validations.of(self.ingest).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                reason="CDK's default role for a function: writes its own logs",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]",
                reason="a function in a VPC needs to manage its network interfaces; AWS's policy is the exact set",
            ),
        )

        self.dashboard = self._dashboard()
        CfnOutput(self, "IngestUrl", value=url.url)
        CfnOutput(self, "ClusterArn", value=self.database.cluster_arn)
        CfnOutput(self, "AppSecretArn", value=app_secret.secret_arn)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard_name)

    def _dashboard(self) -> cloudwatch.Dashboard:
        minute = Duration.minutes(1)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Ingest requests per minute",
                left=[self.ingest.metric_invocations(period=minute, statistic="Sum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Ingest errors and throttles",
                left=[
                    self.ingest.metric_errors(period=minute, statistic="Sum"),
                    self.ingest.metric_throttles(period=minute, statistic="Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Ingest duration (ms)",
                left=[self.ingest.metric_duration(period=minute, statistic="p95")],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Aurora capacity (ACU; 0 while paused)",
                left=[self.database.metric_serverless_database_capacity(period=minute)],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Aurora latency (ms)",
                left=[
                    self.database.metric_dml_latency(period=minute),
                    self.database.metric_select_latency(period=minute),
                ],
                width=12,
            ),
        )
        return dashboard


def build_app(app: App) -> TelemetryStack:
    """The example's one stack in ``app``."""
    destroy = str(app.node.try_get_context("destroy_data") or "false").lower() == "true"
    return TelemetryStack(app, "DbscaleTelemetry", destroy_data=destroy)


if __name__ == "__main__":
    application = App()
    build_app(application)
    application.synth()
