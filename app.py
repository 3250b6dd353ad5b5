#!/usr/bin/env python3
"""The dbscale example CDK app: ``cdk synth`` works offline, with no credentials and no lookups.

Three stacks:

* ``DbscaleProviders`` (:class:`dbscale.constructs.ProvidersStack`) deploys the custom resource
  providers on their own, for clusters named ``dbscale-*``, and exports their ServiceTokens as
  ``dbscale-RedshiftClusterServiceToken``, ``dbscale-AuroraClusterServiceToken``,
  ``dbscale-AuroraCloneServiceToken`` and ``dbscale-DatabaseBootstrapServiceToken`` for plain
  CloudFormation templates (``examples/raw-cloudformation.yaml``, ``examples/aurora-clone.yaml``).
  Without the repository, ``dbscale providers deploy`` deploys the same stack.
* ``DbscaleExample`` is what a CDK user writes: a VPC, a Redshift cluster and an Aurora
  Serverless v2 cluster, the Redshift cluster reachable from the Aurora cluster's security group.
* ``DbscaleDevClones``: a developer's copy-on-write clone of that Aurora cluster, and a pool of
  full copies kept ready (nightly) for when the cluster's 15 clone slots are taken.
"""

from __future__ import annotations

import os

from aws_cdk import App, CfnOutput, Duration, Environment, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from dbscale.constructs import (
    AuroraClone,
    AuroraCluster,
    ClonePoolMaintenance,
    ProvidersStack,
    RedshiftCluster,
)


class ExampleStack(Stack):
    """A VPC with a Redshift cluster and an Aurora Serverless v2 cluster in its private subnets."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, description="dbscale example: Redshift and Aurora", **kwargs)  # type: ignore[arg-type]
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.THREE_MONTHS)
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            flow_logs={"All": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))},
        )
        self.warehouse = RedshiftCluster(
            self,
            "Warehouse",
            vpc=vpc,
            node_type="ra3.xlplus",
            number_of_nodes=2,
            preferred_maintenance_window="sun:05:00-sun:05:30",
        )
        self.app_db = AuroraCluster(
            self,
            "AppDb",
            vpc=vpc,
            instance_class="db.serverless",
            serverless_v2_min_capacity=0.5,
            serverless_v2_max_capacity=4,
            reader_count=1,
            database_name="app",
        )
        # Federated queries from Redshift into Aurora.
        self.app_db.connections.allow_default_port_from(self.warehouse, "Redshift federated queries")
        CfnOutput(self, "WarehouseEndpoint", value=self.warehouse.cluster_endpoint.socket_address)
        CfnOutput(self, "WarehouseSecretArn", value=self.warehouse.secret.secret_arn)
        CfnOutput(self, "AppDbEndpoint", value=self.app_db.cluster_endpoint.socket_address)
        CfnOutput(self, "AppDbSecretArn", value=self.app_db.secret.secret_arn)


class DevClonesStack(Stack):
    """A clone of ``source`` for a developer, and a pool of full copies of it kept ready."""

    def __init__(self, scope: Construct, id: str, *, source: AuroraCluster, **kwargs: object) -> None:
        super().__init__(scope, id, description="dbscale example: Aurora clones", **kwargs)  # type: ignore[arg-type]
        # A clone of the source, or of a copy at most two days old; with copy_ok a new copy is
        # made when every slot is taken (slow: the pool below keeps copies ready instead).
        self.clone = AuroraClone(
            self,
            "DevClone",
            source=source,
            instance_class="db.t4g.medium",
            copy_ok=True,
            max_copy_age=Duration.days(2),
        )
        self.pool = ClonePoolMaintenance(
            self, "ClonePool", source=source, min_spare_slots=5, max_copy_age=Duration.days(2)
        )
        CfnOutput(self, "DevCloneEndpoint", value=self.clone.cluster_endpoint.socket_address)
        CfnOutput(self, "DevCloneClonedFrom", value=self.clone.cloned_from)
        CfnOutput(self, "DevCloneSecretArn", value=self.clone.secret.secret_arn)


def build_app(app: App | None = None) -> App:
    """The example app's stacks on ``app`` (a new App by default); tests and the benchmark reuse it."""
    app = app or App()
    # Env-agnostic unless CDK_DEFAULT_* are set by the CLI with credentials; synth needs neither.
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    # The strict guardrails (no unencrypted storage, no public access, no TLS off, no adoption) for
    # clusters named dbscale-*: any template in the account can use these providers.
    ProvidersStack(app, "DbscaleProviders", cluster_identifier_prefix="dbscale-", env=env)
    example = ExampleStack(app, "DbscaleExample", env=env)
    DevClonesStack(app, "DbscaleDevClones", source=example.app_db, env=env)
    Tags.of(app).add("project", "dbscale-example")
    return app


if __name__ == "__main__":
    build_app().synth()
