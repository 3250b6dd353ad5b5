"""``RedshiftCluster``: a provisioned Amazon Redshift cluster declared in CDK, managed by dbscale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnResource, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_s3 as s3
from constructs import Construct

from dbscale.core.limits import (
    REDSHIFT_DEFAULT_AUTOMATED_SNAPSHOT_RETENTION_DAYS,
    REDSHIFT_DEFAULT_PORT,
)

from . import _support as support
from ._cluster import ClusterBase
from ._support import skip_final_snapshot
from .long_operations import LongOperations
from .providers import RedshiftClusterProvider
from .redshift_checks import (
    check_cluster,
    check_maintenance,
    check_multi_az,
    check_restore,
    check_tls,
    logging_properties,
)


class RedshiftCluster(ClusterBase):
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
    :param parameter_group_name: a cluster parameter group of your own. Default None: dbscale makes
        and owns one named ``<cluster identifier>-dbscale-tls`` with ``require_ssl=true`` (every
        connection must use TLS) and ``enable_user_activity_logging=true``, deleted after the
        cluster. A named group whose ``require_ssl`` is not true is refused at deploy time unless
        ``require_tls=False``.
    :param require_tls: False lets the named ``parameter_group_name`` allow connections without TLS
        (the stack's provider is widened to allow it, with a synth-time warning). Default True.
    :param reboot_for_parameter_changes: a parameter group change applies at the next reboot; True
        reboots the cluster during the deploy that changes the group. Default False: never rebooted
        by dbscale (the ``ParameterApplyStatus`` attribute says ``pending-reboot``).
    :param log_exports: the logs exported (``connectionlog``, ``userlog``, ``useractivitylog``).
        Default all three. An empty list turns audit logging off.
    :param log_bucket: export the logs to this S3 bucket instead of CloudWatch Logs (the bucket's
        policy is given Redshift's write access). Default None: CloudWatch Logs
        (``/aws/redshift/cluster/<id>/<log>``).
    :param log_key_prefix: the S3 key prefix of the log files (with ``log_bucket``). Default none.
    :param automated_snapshot_retention_days: days of automated snapshots, 1-35. Default 7.
    :param manual_snapshot_retention_days: days a manual snapshot is kept, -1 (forever) or 1-3653.
        Default -1 (AWS's default).
    :param preferred_maintenance_window: ``ddd:hh24:mi-ddd:hh24:mi`` in UTC, at least 30 minutes.
        Default None: a window AWS chooses.
    :param maintenance_track_name: ``current`` or ``trailing``. Default ``current``.
    :param allow_version_upgrade: let AWS apply major engine upgrades in the maintenance window.
        Default True.
    :param enhanced_vpc_routing: route COPY/UNLOAD traffic through the VPC (its endpoints, flow
        logs and security groups). Default True (AWS's default is off).
    :param iam_roles: roles the cluster may assume (COPY, UNLOAD, Spectrum); the provider may pass
        exactly these to Redshift. Default none.
    :param default_iam_role: the default of ``iam_roles`` (must be one of them). Default none.
    :param multi_az: deploy in two Availability Zones (RA3, at least 2 nodes). Default False.
    :param master_password_secret_key: the KMS key encrypting the admin secret. Default the
        cluster's ``encryption_key`` (not ``aws/secretsmanager``).
    :param snapshot_identifier: create the cluster by restoring this snapshot (the snapshot decides
        the database and admin user; the declared size and settings are applied afterwards).
        Default None: a new empty cluster. Changing it later fails the update (set a new
        ``cluster_identifier`` to replace the cluster).
    :param snapshot_cluster_identifier: the cluster the snapshot was taken of. Default None.
    :param owner_account: the account that owns a shared snapshot. Default None: this account.
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
        parameter_group_name: str | None = None,
        require_tls: bool = True,
        reboot_for_parameter_changes: bool = False,
        log_exports: Sequence[str] | None = None,
        log_bucket: s3.IBucket | None = None,
        log_key_prefix: str | None = None,
        automated_snapshot_retention_days: int = REDSHIFT_DEFAULT_AUTOMATED_SNAPSHOT_RETENTION_DAYS,
        manual_snapshot_retention_days: int | None = None,
        preferred_maintenance_window: str | None = None,
        maintenance_track_name: str | None = None,
        allow_version_upgrade: bool = True,
        enhanced_vpc_routing: bool = True,
        iam_roles: Sequence[iam.IRole] | None = None,
        default_iam_role: iam.IRole | None = None,
        multi_az: bool = False,
        master_password_secret_key: kms.IKey | None = None,
        snapshot_identifier: str | None = None,
        snapshot_cluster_identifier: str | None = None,
        owner_account: str | None = None,
    ) -> None:
        super().__init__(scope, id, RedshiftClusterProvider.resource_type)
        self.autoscaled = autoscaled
        self.database_name = database_name
        check_cluster(self, node_type, number_of_nodes, port, resize_type, database_name, master_username)
        self._cluster_identifier = support.cluster_identifier(self, cluster_identifier)
        made = self._set_up_network("Redshift", vpc, vpc_subnets, security_groups, encryption_key)
        self.provider = provider = self._widened_provider(RedshiftClusterProvider, adopt_existing=adopt_existing)
        secret_key_arn = master_password_secret_key.key_arn if master_password_secret_key else self._key_arn
        # Built in the order of the properties; each part checks its values and grants the provider
        # what they need (checks, warnings and grants in the order the parts come).
        properties = {
            **self._cluster(node_type, number_of_nodes, paused, database_name, master_username, port),
            **self._lifecycle(resize_type, removal_policy, adopt_existing, wait_for_completion, autoscaled),
            **self._tls(provider, parameter_group_name, require_tls, reboot_for_parameter_changes),
            "LoggingProperties": logging_properties(self, log_exports, log_bucket, log_key_prefix),
            **self._maintenance(
                node_type,
                automated_snapshot_retention_days,
                manual_snapshot_retention_days,
                preferred_maintenance_window,
                maintenance_track_name,
            ),
            "AllowVersionUpgrade": allow_version_upgrade,
            "EnhancedVpcRouting": enhanced_vpc_routing,
            **self._access(provider, node_type, number_of_nodes, multi_az, iam_roles, default_iam_role, secret_key_arn),
            **self._restore(provider, snapshot_identifier, snapshot_cluster_identifier, owner_account),
        }
        resource = self._create_resource(
            provider,
            properties,
            removal_policy=removal_policy,
            long_operations=long_operations,
            retain_with_cluster=made,
        )
        self._finish(provider, resource, port, parameter_group_name=parameter_group_name)

    def _subnet_group(self, description: str, subnet_ids: list[str]) -> CfnResource:
        return redshift.CfnClusterSubnetGroup(self, "SubnetGroup", description=description, subnet_ids=subnet_ids)

    def _cluster(
        self, node_type: str, number_of_nodes: int, paused: bool, database_name: str, master_username: str, port: int
    ) -> dict[str, Any]:
        """The cluster's size, state, first database and place: always private and encrypted."""
        return {
            "ClusterIdentifier": self._cluster_identifier,
            "NodeType": node_type,
            "NumberOfNodes": number_of_nodes,
            "Paused": paused,
            "DBName": database_name,
            "MasterUsername": master_username,
            "ClusterSubnetGroupName": self._subnet_group_name,
            "VpcSecurityGroupIds": [g.security_group_id for g in self.security_groups],
            "Encrypted": True,
            "KmsKeyId": self._key_arn,
            "Port": port,
            "PubliclyAccessible": False,
        }

    def _lifecycle(
        self,
        resize_type: str,
        removal_policy: RemovalPolicy,
        adopt_existing: bool,
        wait_for_completion: bool,
        autoscaled: bool,
    ) -> dict[str, Any]:
        """How the handler resizes, deletes, adopts and waits (DESTROY warned)."""
        return {
            "ResizeType": resize_type,
            "SkipFinalSnapshot": skip_final_snapshot(self, removal_policy),
            "AdoptExisting": adopt_existing,
            "WaitForCompletion": wait_for_completion,
            "Autoscaled": autoscaled,
        }

    def _tls(
        self,
        provider: RedshiftClusterProvider,
        parameter_group_name: str | None,
        require_tls: bool,
        reboot_for_parameter_changes: bool,
    ) -> dict[str, Any]:
        """The parameter group; TLS off (only with a group of one's own) widens the provider, warned."""
        check_tls(self, provider, parameter_group_name, require_tls)
        return {
            "ClusterParameterGroupName": parameter_group_name,
            "RebootForParameterChanges": reboot_for_parameter_changes or None,
        }

    def _maintenance(
        self,
        node_type: str,
        automated_snapshot_retention_days: int,
        manual_snapshot_retention_days: int | None,
        preferred_maintenance_window: str | None,
        maintenance_track_name: str | None,
    ) -> dict[str, Any]:
        """Snapshot retention, the maintenance window and track."""
        check_maintenance(
            self,
            node_type,
            automated_snapshot_retention_days,
            manual_snapshot_retention_days,
            preferred_maintenance_window,
            maintenance_track_name,
        )
        return {
            "AutomatedSnapshotRetentionPeriod": automated_snapshot_retention_days,
            "ManualSnapshotRetentionPeriod": manual_snapshot_retention_days,
            "PreferredMaintenanceWindow": preferred_maintenance_window,
            "MaintenanceTrackName": maintenance_track_name,
        }

    def _access(
        self,
        provider: RedshiftClusterProvider,
        node_type: str,
        number_of_nodes: int,
        multi_az: bool,
        iam_roles: Sequence[iam.IRole] | None,
        default_iam_role: iam.IRole | None,
        secret_key_arn: str,
    ) -> dict[str, Any]:
        """Multi-AZ (RA3, two nodes or more), the roles the cluster may assume (the provider may pass
        exactly these) and the key of the admin secret (the provider may use it)."""
        check_multi_az(self, multi_az, node_type, number_of_nodes)
        role_arns = [role.role_arn for role in iam_roles or []]
        default_role_arn = default_iam_role.role_arn if default_iam_role is not None else None
        if default_iam_role is not None and not any(role is default_iam_role for role in iam_roles or []):
            raise support.fail(self, "default_iam_role must be one of iam_roles", field="default_iam_role")
        if role_arns:
            provider.grant_pass_roles(role_arns)
        provider.grant_secret_key(secret_key_arn)
        return {
            "IamRoles": role_arns or None,
            "DefaultIamRoleArn": default_role_arn,
            "MultiAZ": multi_az or None,
            "MasterPasswordSecretKmsKeyId": secret_key_arn,
        }

    def _restore(
        self,
        provider: RedshiftClusterProvider,
        snapshot_identifier: str | None,
        snapshot_cluster_identifier: str | None,
        owner_account: str | None,
    ) -> dict[str, Any]:
        """The snapshot the cluster is restored from; the provider may restore exactly that one."""
        check_restore(self, snapshot_identifier, snapshot_cluster_identifier, owner_account)
        if snapshot_identifier is not None:
            account = owner_account or provider._account
            provider.grant_restore(
                self._cluster_identifier,
                f"arn:{provider._partition}:redshift:{provider._region}:{account}:snapshot:"
                f"{snapshot_cluster_identifier or '*'}/{snapshot_identifier}",
            )
        return {
            "SnapshotIdentifier": snapshot_identifier,
            "SnapshotClusterIdentifier": snapshot_cluster_identifier,
            "OwnerAccount": owner_account,
        }

    def metric_percentage_disk_space_used(self, **props: object) -> cloudwatch.Metric:
        """Percentage of disk space used (Average over 5 minutes)."""
        return self.metric("PercentageDiskSpaceUsed", **props)
