"""What RedshiftCluster and AuroraCluster have in common: the custom resource, tags, connections, metrics."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import (
    Aspects,
    CfnResource,
    CustomResource,
    Duration,
    IAspect,
    ITaggable,
    RemovalPolicy,
    TagManager,
    TagType,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from ._support import SERVICE_TIMEOUT_SECONDS, retained
from .provider import ClusterProvider


@jsii.implements(IAspect)
class _RenderTags:
    """Copies the construct's tags (``Tags.of(...)``) into the custom resource's ``Tags`` property.

    Added to the custom resource's CfnResource (a leaf: visited once). Runs at the default aspect
    priority, after CDK's tag aspects (priority MUTATING) have filled the TagManager, so stack- and
    app-level tags reach the cluster and, through the handler, its snapshots.
    """

    def __init__(self, owner: _ClusterBase) -> None:
        self._owner = owner

    def visit(self, node: IConstruct) -> None:
        tags = self._owner.tags.render_tags()
        if tags:
            self._owner._cfn.add_property_override("Tags", tags)


@jsii.implements(ITaggable, ec2.IConnectable)
class _ClusterBase(Construct):
    """A cluster managed by a dbscale custom resource. Subclasses fill in the service specifics."""

    _metric_namespace: str
    _metric_dimension: str

    def __init__(self, scope: Construct, id: str, resource_type: str) -> None:
        super().__init__(scope, id)
        self._tags = TagManager(TagType.KEY_VALUE, resource_type)
        self._resource: CustomResource | None = None
        self._connections_value: ec2.Connections

    @property
    def connections(self) -> ec2.Connections:
        """Network access to the cluster; the default port is the cluster's port.

        The cluster is an ``IConnectable``: ``other.connections.allow_to_default_port(cluster)``.
        """
        return self._connections_value

    @property
    def tags(self) -> TagManager:
        """Tags applied to the cluster (and copied to its snapshots); ``Tags.of(scope).add`` fills them."""
        return self._tags

    def _create_resource(
        self,
        provider: ClusterProvider,
        properties: dict[str, Any],
        *,
        removal_policy: RemovalPolicy,
        retain_with_cluster: list[IConstruct],
    ) -> CustomResource:
        resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=provider.resource_type,
            # Only set properties are sent: the handler fails on unknown ones and defaults the rest.
            properties={k: v for k, v in properties.items() if v is not None},
            service_timeout=Duration.seconds(SERVICE_TIMEOUT_SECONDS),
        )
        if retained(removal_policy):
            resource.apply_removal_policy(RemovalPolicy.RETAIN)
            # A retained cluster keeps using its subnet group, security group and parameter group;
            # deleting them with the stack would fail (in use) or break the cluster.
            for construct in retain_with_cluster:
                child = construct.node.default_child if not isinstance(construct, CfnResource) else construct
                if isinstance(child, CfnResource):
                    child.apply_removal_policy(RemovalPolicy.RETAIN)
        self._resource = resource
        # On the leaf CfnResource, so the aspect (a call from node into Python) runs once, not
        # once per construct under the cluster.
        Aspects.of(self._cfn).add(_RenderTags(self))
        return resource

    @property
    def resource(self) -> CustomResource:
        """The ``Custom::...`` resource itself (for dependencies and escape hatches)."""
        assert self._resource is not None
        return self._resource

    @property
    def _cfn(self) -> CfnResource:
        return self.resource.node.default_child  # type: ignore[return-value]

    def _att(self, name: str) -> str:
        return self.resource.get_att_string(name)

    def _endpoint(self, address_attribute: str) -> rds.Endpoint:
        return rds.Endpoint(self._att(address_attribute), Token.as_number(self.resource.get_att("Endpoint.Port")))

    def _managed_secret(self) -> secretsmanager.ISecret:
        # The handler reports the ARN of the secret the service created (ManageMasterPassword /
        # ManageMasterUserPassword); dbscale never sees the password.
        return secretsmanager.Secret.from_secret_complete_arn(self, "Secret", self._att("SecretArn"))

    @staticmethod
    def _connections(groups: list[ec2.ISecurityGroup], port: int | float) -> ec2.Connections:
        return ec2.Connections(security_groups=groups, default_port=ec2.Port.tcp(port))

    # --- metrics --------------------------------------------------------------------------

    def metric(self, metric_name: str, **props: Any) -> cloudwatch.Metric:
        """A CloudWatch metric of this cluster; ``props`` are ``cloudwatch.Metric`` options.

        Default statistic Average over 5 minutes (CloudWatch's defaults in CDK).
        """
        return cloudwatch.Metric(
            namespace=self._metric_namespace,
            metric_name=metric_name,
            dimensions_map={self._metric_dimension: self.cluster_identifier},
            **props,
        )

    def metric_cpu_utilization(self, **props: Any) -> cloudwatch.Metric:
        """CPU utilization of the cluster, percent (Average over 5 minutes)."""
        return self.metric("CPUUtilization", **props)

    @property
    def cluster_identifier(self) -> str:
        raise NotImplementedError
