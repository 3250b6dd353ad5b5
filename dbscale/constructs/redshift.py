"""``RedshiftCluster``: a provisioned Amazon Redshift cluster declared in CDK, managed by dbscale."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshift as redshift
from constructs import Construct

from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import REDSHIFT_DEFAULT_PORT
from dbscale.core.validation import (
    validate_port,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_resize_type,
)

from . import _support as support
from ._cluster import _ClusterBase
from ._support import checked, private_subnets, skip_final_snapshot, unresolved, warn
from .long_operations import LongOperations
from .providers import RedshiftClusterProvider


class RedshiftCluster(_ClusterBase):
    """A provisioned Redshift cluster: private, encrypted with a retained KMS key, AWS-managed admin password.

    The subnet group, security group and key are native CloudFormation resources; the cluster is a
    ``Custom::RedshiftCluster`` resource served by the stack's ``RedshiftClusterProvider`` (so that
    updates resize, pause and resume in place, which ``AWS::Redshift::Cluster`` cannot do safely).

    :param vpc: the VPC the cluster lives in.
    :param node_type: the node type, e.g. ``ra3.xlplus`` (checked against dbscale's node table).
    :param number_of_nodes: the node count, within the node type's limits. 1 makes a single-node
        cluster (allowed, with a synth-time warning: no elastic resize, no redundancy).
    :param cluster_identifier: the cluster identifier. Default: derived from the construct's unique
        id (stack name + path + hash, lowercased): stable across deploys and unique per stack.
    :param paused: keep the cluster paused (compute billing stops; storage is still billed).
        Default False.
    :param vpc_subnets: where to place the cluster. Default: the VPC's private subnets. A selection
        that contains a public subnet is an error.
    :param security_groups: security groups of the cluster. Default: one new group with no rules;
        open it with ``cluster.connections.allow_default_port_from(...)``.
    :param encryption_key: the KMS key encrypting the cluster. Default: a new key with rotation,
        retained when the stack is deleted (snapshots need it).
    :param master_username: the admin user. Default ``admin``. Its password is generated and kept
        by Redshift in Secrets Manager (``cluster.secret``).
    :param database_name: the first database. Default ``dev``.
    :param port: the port the cluster listens on. Default 5439.
    :param resize_type: ``auto`` (elastic when possible, else classic), ``elastic`` (fail when
        elastic resize cannot do the change) or ``classic``. Default ``auto``.
    :param removal_policy: SNAPSHOT (default) takes a final snapshot on deletion; DESTROY deletes
        without one (warned at synth); RETAIN leaves the cluster, its subnet group and security
        group in place when the resource or stack is deleted.
    :param adopt_existing: manage a cluster of that identifier that already exists instead of
        failing. Default False.
    :param autoscaled: the declared size is only the initial size; a deploy that leaves the size
        properties unchanged keeps whatever size the autoscaler chose (``paused`` stays declared).
        Default False: every deploy restores the declared size.
    :param wait_for_completion: the deploy waits until the cluster is available (or resized,
        paused ...). Default True; with False the change is started and the deploy moves on.
    :param long_operations: ``LongOperations(timeout=...)`` lets a deploy wait for changes longer
        than the custom resource's one-hour limit (a classic resize takes hours), up to 12 hours,
        through a wait condition; attributes and dependents then see the finished state. Default
        None: a change must finish within the hour (or use ``wait_for_completion=False``).
    """

    _metric_namespace = "AWS/Redshift"
    _metric_dimension = "ClusterIdentifier"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        node_type: str,
        number_of_nodes: int,
        cluster_identifier: str | None = None,
        paused: bool = False,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: list[ec2.ISecurityGroup] | None = None,
        encryption_key: kms.IKey | None = None,
        master_username: str = "admin",
        database_name: str = "dev",
        port: int = REDSHIFT_DEFAULT_PORT,
        resize_type: str = "auto",
        removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT,
        adopt_existing: bool = False,
        wait_for_completion: bool = True,
        autoscaled: bool = False,
        long_operations: LongOperations | None = None,
    ) -> None:
        super().__init__(scope, id, RedshiftClusterProvider.resource_type)
        self.autoscaled = autoscaled
        self.database_name = database_name
        self._validate(node_type, number_of_nodes, port, resize_type)
        for check, value, name in (
            (validate_redshift_db_name, database_name, "database_name"),
            (validate_redshift_master_username, master_username, "master_username"),
        ):
            if not unresolved(value):
                checked(self, check, value, field=name)
        self._cluster_identifier = support.cluster_identifier(self, cluster_identifier)

        subnets = private_subnets(self, vpc, vpc_subnets)
        description = f"dbscale Redshift cluster {self._path}"
        subnet_group = redshift.CfnClusterSubnetGroup(
            self,
            "SubnetGroup",
            description=description,
            subnet_ids=subnets.subnet_ids,
        )
        groups = support.security_groups(self, vpc, security_groups, description)
        key = support.encryption_key(self, encryption_key, description)
        self.security_groups = groups
        self.encryption_key = key
        self.subnet_group = subnet_group

        provider = RedshiftClusterProvider.of(self._provider_scope)
        self.provider = provider
        if adopt_existing:
            # Explicitly asked for: the stack's provider may adopt exactly this identifier.
            provider.allow(Guardrails(adopt_prefixes=(self._cluster_identifier,)))
        # Read once: each read of a jsii attribute is a round trip to node.
        subnet_group_name, key_arn = subnet_group.ref, key.key_arn
        resource = self._create_resource(
            provider,
            {
                "ClusterIdentifier": self._cluster_identifier,
                "NodeType": node_type,
                "NumberOfNodes": number_of_nodes,
                "Paused": paused,
                "DBName": database_name,
                "MasterUsername": master_username,
                "ClusterSubnetGroupName": subnet_group_name,
                "VpcSecurityGroupIds": [g.security_group_id for g in groups],
                "Encrypted": True,
                "KmsKeyId": key_arn,
                "Port": port,
                "PubliclyAccessible": False,
                "ResizeType": resize_type,
                "SkipFinalSnapshot": skip_final_snapshot(self, removal_policy),
                "AdoptExisting": adopt_existing,
                "WaitForCompletion": wait_for_completion,
                "Autoscaled": autoscaled,
            },
            removal_policy=removal_policy,
            long_operations=long_operations,
            retain_with_cluster=[subnet_group, *[g for g in groups if g not in (security_groups or [])]],
        )
        # The resource is in the provider's stack (of() found the provider from this construct).
        provider._register(
            resource,
            self._cluster_identifier,
            key_arn=key_arn,
            subnet_group_name=subnet_group_name,
            parameter_group_name=None,
            same_stack=True,
        )

        self._secret = self._managed_secret()
        self._connections_value = self._connections(groups, port)

    def _validate(self, node_type: str, number_of_nodes: int, port: int, resize_type: str) -> None:
        if not unresolved(node_type, number_of_nodes):
            checked(self, validate_redshift_nodes, node_type, number_of_nodes)
            if number_of_nodes == 1:
                warn(
                    self,
                    "singleNode",
                    "number_of_nodes is 1: a single-node cluster keeps no second copy of its data on "
                    "another node and cannot be resized elastically (resizes are classic, with downtime)",
                )
        elif not unresolved(node_type):
            checked(self, validate_redshift_node_type, node_type)
        if not unresolved(port):
            checked(self, validate_port, port)
        if not unresolved(resize_type):
            checked(self, validate_resize_type, resize_type)

    def metric_percentage_disk_space_used(self, **props: object) -> cloudwatch.Metric:
        """Percentage of disk space used (Average over 5 minutes)."""
        return self.metric("PercentageDiskSpaceUsed", **props)
