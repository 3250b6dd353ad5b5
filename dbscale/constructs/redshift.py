"""``RedshiftCluster``: a provisioned Amazon Redshift cluster declared in CDK, managed by dbscale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_s3 as s3
from constructs import Construct

from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import (
    REDSHIFT_DEFAULT_AUTOMATED_SNAPSHOT_RETENTION_DAYS,
    REDSHIFT_DEFAULT_PORT,
    REDSHIFT_LOG_EXPORTS,
)
from dbscale.core.redshift.settings import (
    normalize_logging,
    validate_account_id,
    validate_automated_snapshot_retention,
    validate_maintenance_track,
    validate_maintenance_window,
    validate_manual_snapshot_retention,
    validate_multi_az,
)
from dbscale.core.validation import (
    validate_cluster_identifier,
    validate_parameter_group_name,
    validate_port,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_resize_type,
)

from . import _support as support
from ._cluster import ClusterBase
from ._support import checked, private_subnets, skip_final_snapshot, unresolved, warn
from .long_operations import LongOperations
from .providers import RedshiftClusterProvider


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
        secret_key_arn = master_password_secret_key.key_arn if master_password_secret_key else key_arn
        settings = self._settings(
            provider,
            node_type=node_type,
            number_of_nodes=number_of_nodes,
            parameter_group_name=parameter_group_name,
            require_tls=require_tls,
            reboot_for_parameter_changes=reboot_for_parameter_changes,
            log_exports=log_exports,
            log_bucket=log_bucket,
            log_key_prefix=log_key_prefix,
            automated_snapshot_retention_days=automated_snapshot_retention_days,
            manual_snapshot_retention_days=manual_snapshot_retention_days,
            preferred_maintenance_window=preferred_maintenance_window,
            maintenance_track_name=maintenance_track_name,
            allow_version_upgrade=allow_version_upgrade,
            enhanced_vpc_routing=enhanced_vpc_routing,
            iam_roles=iam_roles,
            default_iam_role=default_iam_role,
            multi_az=multi_az,
            secret_key_arn=secret_key_arn,
            snapshot_identifier=snapshot_identifier,
            snapshot_cluster_identifier=snapshot_cluster_identifier,
            owner_account=owner_account,
        )
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
                **settings,
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
            parameter_group_name=parameter_group_name,
            same_stack=True,
        )

        self._secret = self._managed_secret()
        self._connections_value = self._connections(groups, port)

    def _settings(
        self,
        provider: RedshiftClusterProvider,
        *,
        node_type: str,
        number_of_nodes: int,
        parameter_group_name: str | None,
        require_tls: bool,
        reboot_for_parameter_changes: bool,
        log_exports: Sequence[str] | None,
        log_bucket: s3.IBucket | None,
        log_key_prefix: str | None,
        automated_snapshot_retention_days: int,
        manual_snapshot_retention_days: int | None,
        preferred_maintenance_window: str | None,
        maintenance_track_name: str | None,
        allow_version_upgrade: bool,
        enhanced_vpc_routing: bool,
        iam_roles: Sequence[iam.IRole] | None,
        default_iam_role: iam.IRole | None,
        multi_az: bool,
        secret_key_arn: str,
        snapshot_identifier: str | None,
        snapshot_cluster_identifier: str | None,
        owner_account: str | None,
    ) -> dict[str, Any]:
        """The handler properties of the settings beyond size and state, checked at synth time
        where they are known; the provider is granted (and widened) for exactly what is given."""
        if parameter_group_name is not None and not unresolved(parameter_group_name):
            checked(self, validate_parameter_group_name, parameter_group_name, field="parameter_group_name")
        if not require_tls:
            if parameter_group_name is None:
                raise support.fail(
                    self,
                    "require_tls=False needs a parameter_group_name: dbscale's own parameter group always requires TLS",
                    field="require_tls",
                )
            provider.allow(Guardrails(allow_tls_off=True))
            warn(
                self,
                "tlsOff",
                f"require_tls is False: parameter group {parameter_group_name} may let clients connect without "
                "TLS, and this stack's Redshift provider now allows that for every cluster it serves",
            )
        logging: dict[str, Any] = {"LogExports": list(REDSHIFT_LOG_EXPORTS if log_exports is None else log_exports)}
        if log_bucket is not None:
            logging.update(LogDestinationType="s3", BucketName=log_bucket.bucket_name)
            if log_key_prefix:
                logging["S3KeyPrefix"] = log_key_prefix
            log_bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="RedshiftAuditLogging",
                    principals=[iam.ServicePrincipal("redshift.amazonaws.com")],
                    actions=["s3:PutObject", "s3:GetBucketAcl"],
                    resources=[log_bucket.bucket_arn, log_bucket.arn_for_objects("*")],
                )
            )
        else:
            if log_key_prefix:
                raise support.fail(self, "log_key_prefix goes only with log_bucket", field="log_key_prefix")
            logging["LogDestinationType"] = "cloudwatch"
        if not unresolved(*logging.values(), *logging.get("LogExports", [])):
            checked(self, normalize_logging, {**logging, "BucketName": "checked-at-deploy"} if log_bucket else logging)
        if not unresolved(automated_snapshot_retention_days, node_type):
            checked(
                self,
                validate_automated_snapshot_retention,
                automated_snapshot_retention_days,
                node_type=node_type,
                field="automated_snapshot_retention_days",
            )
        if manual_snapshot_retention_days is not None and not unresolved(manual_snapshot_retention_days):
            checked(
                self,
                validate_manual_snapshot_retention,
                manual_snapshot_retention_days,
                field="manual_snapshot_retention_days",
            )
        if preferred_maintenance_window is not None and not unresolved(preferred_maintenance_window):
            checked(
                self, validate_maintenance_window, preferred_maintenance_window, field="preferred_maintenance_window"
            )
        if maintenance_track_name is not None and not unresolved(maintenance_track_name):
            checked(self, validate_maintenance_track, maintenance_track_name, field="maintenance_track_name")
        if not unresolved(node_type, number_of_nodes):
            checked(
                self,
                validate_multi_az,
                multi_az,
                node_type=node_type,
                number_of_nodes=number_of_nodes,
                encrypted=True,
                field="multi_az",
            )
        role_arns = [role.role_arn for role in iam_roles or []]
        default_role_arn = default_iam_role.role_arn if default_iam_role is not None else None
        if default_iam_role is not None and not any(role is default_iam_role for role in iam_roles or []):
            raise support.fail(self, "default_iam_role must be one of iam_roles", field="default_iam_role")
        if role_arns:
            provider.grant_pass_roles(role_arns)
        provider.grant_secret_key(secret_key_arn)
        if snapshot_identifier is None:
            if snapshot_cluster_identifier is not None or owner_account is not None:
                raise support.fail(
                    self, "snapshot_cluster_identifier and owner_account go only with snapshot_identifier"
                )
        else:
            if snapshot_cluster_identifier is not None and not unresolved(snapshot_cluster_identifier):
                checked(
                    self,
                    validate_cluster_identifier,
                    snapshot_cluster_identifier,
                    field="snapshot_cluster_identifier",
                )
            if owner_account is not None and not unresolved(owner_account):
                checked(self, validate_account_id, owner_account, field="owner_account")
            account = owner_account or provider._account
            provider.grant_restore(
                self._cluster_identifier,
                f"arn:{provider._partition}:redshift:{provider._region}:{account}:snapshot:"
                f"{snapshot_cluster_identifier or '*'}/{snapshot_identifier}",
            )
        return {
            "ClusterParameterGroupName": parameter_group_name,
            "RebootForParameterChanges": reboot_for_parameter_changes or None,
            "LoggingProperties": logging,
            "AutomatedSnapshotRetentionPeriod": automated_snapshot_retention_days,
            "ManualSnapshotRetentionPeriod": manual_snapshot_retention_days,
            "PreferredMaintenanceWindow": preferred_maintenance_window,
            "MaintenanceTrackName": maintenance_track_name,
            "AllowVersionUpgrade": allow_version_upgrade,
            "EnhancedVpcRouting": enhanced_vpc_routing,
            "IamRoles": role_arns or None,
            "DefaultIamRoleArn": default_role_arn,
            "MultiAZ": multi_az or None,
            "MasterPasswordSecretKmsKeyId": secret_key_arn,
            "SnapshotIdentifier": snapshot_identifier,
            "SnapshotClusterIdentifier": snapshot_cluster_identifier,
            "OwnerAccount": owner_account,
        }

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
