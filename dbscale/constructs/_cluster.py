"""What RedshiftCluster and AuroraCluster have in common: the custom resource, tags, network and key,
connections, metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import jsii
from aws_cdk import (
    CfnResource,
    CfnWaitCondition,
    CustomResource,
    Duration,
    IAnyProducer,
    IResolveContext,
    ITaggable,
    Lazy,
    RemovalPolicy,
    Stack,
    TagManager,
    TagType,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct

from dbscale.cfn.schema import Prop, parse
from dbscale.core.guardrails import Guardrails

from . import _support as support
from ._support import SERVICE_TIMEOUT_SECONDS, checked, fail, is_token, private_subnets, retained
from .long_operations import Completion, LongOperations
from .providers import ClusterProvider

P = TypeVar("P", bound=ClusterProvider)

# The handlers' own schema entry for Tags: the same checks (no 'aws:' or 'dbscale:' keys, lengths,
# duplicates) with the same words, here at synth time instead of at deploy time.
_TAGS_SCHEMA = (Prop("Tags", "tags", default={}),)


@jsii.implements(IAnyProducer)
class _RenderTags:
    """The custom resource's ``Tags`` property: the construct's tags (``Tags.of(...)``), checked.

    Resolved while the template is synthesized, after every aspect (CDK's tag aspects included)
    has filled the TagManager, so stack- and app-level tags reach the cluster and, through the
    handler, its snapshots. No tags: no ``Tags`` property. A tag key the handler would refuse
    (``aws:...``, ``dbscale:...``) fails the synth with the construct's path.
    """

    def __init__(self, owner: ClusterBase) -> None:
        self._owner = owner

    def produce(self, context: IResolveContext) -> Any:
        tags = self._owner.tags.render_tags()
        if not tags:
            return None
        literal = [tag for tag in tags if not (is_token(tag.get("Key")) or is_token(tag.get("Value")))]
        checked(self._owner, parse, _TAGS_SCHEMA, {"Tags": literal})
        return tags


@jsii.implements(ITaggable, ec2.IConnectable)
class ClusterBase(Construct):
    """A cluster managed by a dbscale custom resource. Subclasses fill in the service specifics."""

    _metric_namespace: str
    _metric_dimension: str

    def __init__(self, scope: Construct, id: str, resource_type: str) -> None:
        super().__init__(scope, id)
        self._tags = TagManager(TagType.KEY_VALUE, resource_type)
        self._resource: CustomResource | None = None
        self._completion: Completion | None = None
        self._connections_value: ec2.Connections
        self._cluster_identifier: str
        self._secret: secretsmanager.ISecret
        # Values read from node once and kept (each read is a round trip, ~0.3 ms).
        self._path_value: str | None = None
        self._atts: dict[str, str] = {}
        self._endpoints: dict[str, rds.Endpoint] = {}
        self._port_token: float | None = None
        # Where the stack's providers are looked up: the stack itself when it is the scope (no
        # round trip to find it), else this construct.
        self._provider_scope: IConstruct = scope if isinstance(scope, Stack) else self

    @property
    def _path(self) -> str:
        """``self.node.path``, asked of node once (two round trips) and kept."""
        if self._path_value is None:
            self._path_value = self.node.path
        return self._path_value

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

    # --- network, key and provider (the clusters that make their own; a clone uses its source's) ---

    def _set_up_network(
        self,
        service: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None,
        security_groups: list[ec2.ISecurityGroup] | None,
        encryption_key: kms.IKey | None,
    ) -> list[IConstruct]:
        """Where the cluster lives and what encrypts it: the selected private subnets of ``vpc`` in a
        subnet group of its own, the given security groups (or one new group with no rules) and the
        given key (or a new one, retained). Sets ``subnet_group``, ``security_groups`` and
        ``encryption_key``; returns what it made that a retained cluster keeps using."""
        subnets = private_subnets(self, vpc, vpc_subnets)
        description = f"dbscale {service} cluster {self._path}"
        self.subnet_group = self._subnet_group(description, subnets.subnet_ids)
        self.security_groups = support.security_groups(self, vpc, security_groups, description)
        self.encryption_key = support.encryption_key(self, encryption_key, description)
        # Read once: each read of a jsii attribute is a round trip to node.
        self._subnet_group_name, self._key_arn = self.subnet_group.ref, self.encryption_key.key_arn
        return [self.subnet_group, *[g for g in self.security_groups if g not in (security_groups or [])]]

    def _subnet_group(self, description: str, subnet_ids: list[str]) -> CfnResource:
        """The service's subnet group of ``subnet_ids`` (made by the subclasses that set up a network)."""
        raise NotImplementedError(f"{type(self).__name__} makes no subnet group")

    def _widened_provider(self, kind: type[P], *, adopt_existing: bool, tls_off: bool = False) -> P:
        """The stack's provider of ``kind``, widened by what this construct is explicitly given, and only
        that: adopting an existing cluster of its identifier, a parameter group without TLS."""
        provider = kind.of(self._provider_scope)
        if adopt_existing or tls_off:
            provider.allow(
                Guardrails(
                    allow_tls_off=tls_off,
                    adopt_prefixes=(self._cluster_identifier,) if adopt_existing else (),
                )
            )
        return provider

    def _finish(
        self, provider: ClusterProvider, resource: CustomResource, port: int, *, parameter_group_name: str | None
    ) -> None:
        """Register the cluster with its provider (the cluster's own grants), then its secret and connections."""
        # The resource is in the provider's stack (of() found the provider from this construct).
        provider._register(
            resource,
            self._cluster_identifier,
            key_arn=self._key_arn,
            subnet_group_name=self._subnet_group_name,
            parameter_group_name=parameter_group_name,
            same_stack=True,
        )
        self._secret = self._managed_secret()
        self._connections_value = self._connections(self.security_groups, port)

    def _create_resource(
        self,
        provider: ClusterProvider,
        properties: dict[str, Any],
        removal_policy: RemovalPolicy,
        long_operations: LongOperations | None = None,
        retain_with_cluster: Sequence[IConstruct] = (),
    ) -> CustomResource:
        # Only set properties are sent: the handler fails on unknown ones and defaults the rest.
        rendered = {k: v for k, v in properties.items() if v is not None}
        if long_operations is not None:
            if rendered.get("WaitForCompletion") is False:
                raise fail(
                    self,
                    "long_operations needs wait_for_completion=True: a deploy that does not wait "
                    "would never signal its wait condition",
                )
            self._completion = Completion(self, rendered, long_operations)
            rendered.update(self._completion.resource_properties)
        # Tags last, as a lazy value: two round trips now and one per resolution at synth (CDK
        # resolves a template twice), where an aspect overriding the property took five and four.
        rendered.setdefault("Tags", Lazy.uncached_any(_RenderTags(self)))
        resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=provider.resource_type,
            properties=rendered,
            service_timeout=provider._stack_value("service-timeout", lambda: Duration.seconds(SERVICE_TIMEOUT_SECONDS)),
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
        if self._completion is not None:
            self._completion.condition.add_dependency(self._cfn)
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
        """``resource.get_att_string(name)``, asked of node once per attribute; with long operations
        tied to the completion signal, so that whoever uses it waits for the finished operation."""
        if name not in self._atts:
            value = self.resource.get_att_string(name)
            self._atts[name] = self._completion.attribute(name, value) if self._completion is not None else value
        return self._atts[name]

    @property
    def completion(self) -> CfnWaitCondition | None:
        """With ``long_operations``: the wait condition that completes when the operation does."""
        return self._completion.condition if self._completion is not None else None

    def _endpoint(self, address_attribute: str) -> rds.Endpoint:
        """The endpoint of ``address_attribute`` and the ``Endpoint.Port`` attribute.

        Made on first use and kept (an Endpoint is a pair of tokens, not a construct: when it is
        made changes nothing in the template); the port token is shared by all endpoints.
        """
        if address_attribute not in self._endpoints:
            if self._port_token is None:
                self._port_token = Token.as_number(self._port_attribute())
            self._endpoints[address_attribute] = rds.Endpoint(self._att(address_attribute), self._port_token)
        return self._endpoints[address_attribute]

    def _port_attribute(self) -> Any:
        """The ``Endpoint.Port`` attribute (a clone with long operations reads it from its completion)."""
        return self.resource.get_att("Endpoint.Port")

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
        """The cluster identifier (known at synth time unless given as a token)."""
        return self._cluster_identifier

    @property
    def cluster_endpoint(self) -> rds.Endpoint:
        """The cluster's (writer's) address and port: ``Endpoint.Address`` / ``Endpoint.Port``."""
        return self._endpoint("Endpoint.Address")

    @property
    def secret(self) -> secretsmanager.ISecret:
        """The master user credentials: the Secrets Manager secret the service created and rotates
        (dbscale never sees the password)."""
        return self._secret
