"""``AuroraCluster``: an Aurora PostgreSQL or MySQL cluster (provisioned or Serverless v2) managed by dbscale."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct, IConstruct

from dbscale.core.aurora.settings import (
    validate_log_exports,
    validate_performance_insights_retention,
)
from dbscale.core.engine_versions import parameter_group_family
from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import (
    AURORA_AUDIT_PARAMETERS,
    AURORA_DEFAULT_PORT,
    AURORA_MONITORING_INTERVALS,
    AURORA_SERVERLESS_INSTANCE_CLASS,
)
from dbscale.core.validation import (
    validate_aurora_cluster,
    validate_aurora_db_name,
    validate_aurora_engine,
    validate_aurora_master_username,
    validate_auto_pause,
    validate_backup_retention,
    validate_engine_version,
)
from dbscale.core.windows import check_windows_apart, validate_backup_window, validate_maintenance_window

from . import _support as support
from ._cluster import ClusterBase
from ._support import checked, fail, private_subnets, retained, skip_final_snapshot, unresolved, warn
from .long_operations import LongOperations
from .providers import AuroraClusterProvider

DEFAULT_ENGINE_VERSIONS: dict[str, str] = {
    "aurora-postgresql": "16",
    "aurora-mysql": "8.0",
}
"""The engine version used when ``engine_version`` is None: a major version only. Pinned (not left
to RDS's moving default) because the TLS parameter group's family must match the major version,
and because a silent major-version change between two deploys is not something a database should
do. The minor is not pinned: a pinned minor stops being offered for new clusters within a year or
two, so the provider resolves the major to the newest version AWS offers when it creates the
cluster (:func:`dbscale.core.engine_versions.resolve_engine_version`). An ``engine_version`` with
a minor (``16.6``) is used exactly as given."""

# The parameter that makes the engine refuse unencrypted connections.
_TLS_PARAMETERS: dict[str, dict[str, str]] = {
    "aurora-postgresql": {"rds.force_ssl": "1"},
    "aurora-mysql": {"require_secure_transport": "ON"},
}

_SEVEN_DAYS = Duration.days(7)
_ONE_MINUTE = Duration.minutes(1)


class AuroraBase(ClusterBase):
    """What an Aurora cluster and a clone of one have in common: endpoints, secret, metrics."""

    _metric_namespace = "AWS/RDS"
    _metric_dimension = "DBClusterIdentifier"

    @property
    def cluster_read_endpoint(self) -> rds.Endpoint:
        """The reader endpoint (load-balanced across readers; the writer when there are none)."""
        return self._endpoint("ReadEndpoint.Address")

    @property
    def cluster_arn(self) -> str:
        """The cluster ARN (``ClusterArn`` attribute)."""
        return self._att("ClusterArn")

    def metric_freeable_memory(self, **props: Any) -> cloudwatch.Metric:
        """Freeable memory, bytes (Average over 5 minutes)."""
        return self.metric("FreeableMemory", **props)

    def metric_select_latency(self, **props: Any) -> cloudwatch.Metric:
        """Average latency of SELECT queries, milliseconds (Aurora MySQL publishes it)."""
        return self.metric("SelectLatency", **props)

    def metric_dml_latency(self, **props: Any) -> cloudwatch.Metric:
        """Average latency of INSERT/UPDATE/DELETE, milliseconds (Aurora MySQL publishes it)."""
        return self.metric("DMLLatency", **props)

    def metric_serverless_database_capacity(self, **props: Any) -> cloudwatch.Metric:
        """Serverless v2 capacity in ACUs (Average over 5 minutes)."""
        return self.metric("ServerlessDatabaseCapacity", **props)


class AuroraCluster(AuroraBase):
    """An Aurora cluster: private, encrypted with a retained KMS key, TLS required, AWS-managed password.

    The subnet group, security group, key and (with ``require_tls``) the cluster parameter group are
    native CloudFormation resources; the cluster and its instances are one ``Custom::AuroraCluster``
    resource served by the stack's ``AuroraClusterProvider`` (instance-class changes roll through
    the readers with a failover; Serverless v2 capacity and reader count change in place).

    :param vpc: the VPC the cluster lives in.
    :param instance_class: the instance class of the writer and readers, e.g. ``db.r6g.large``, or
        ``db.serverless`` for Serverless v2 (then both capacities are required).
    :param engine: ``aurora-postgresql`` (default) or ``aurora-mysql``.
    :param engine_version: the engine version: a major (``16``, ``8.0``), resolved to the newest
        version AWS offers when the cluster is created, or a full version used as given. Default
        None: ``DEFAULT_ENGINE_VERSIONS[engine]`` (PostgreSQL 16 / MySQL 8.0), so deploys never
        change the major.
    :param reader_count: Aurora Replicas besides the writer, 0-15. Default 0.
    :param serverless_v2_min_capacity: Serverless v2 minimum ACUs (0 enables auto-pause). Required
        with ``db.serverless``, refused otherwise. Default None.
    :param serverless_v2_max_capacity: Serverless v2 maximum ACUs. Same rules. Default None.
    :param serverless_v2_seconds_until_auto_pause: with a 0-ACU minimum, how long the cluster idles
        before Aurora pauses it, 300-86400 seconds. Default None: AWS's default (300 s).
    :param data_api: enable the RDS Data API (the cluster's HTTP endpoint). Default False;
        :meth:`enable_data_api` turns it on later (``DatabaseBootstrap`` does).
    :param cluster_identifier: the cluster identifier. Default: derived from the construct's
        unique id (stable across deploys, unique per stack, lowercase).
    :param paused: keep the cluster stopped. Default False. (RDS restarts a stopped cluster after
        seven days; the handler does not fight that.)
    :param vpc_subnets: where to place the cluster. Default: the VPC's private subnets; public
        subnets are an error.
    :param security_groups: Default: one new group with no rules (use ``cluster.connections``).
    :param encryption_key: Default: a new key with rotation, retained when the stack is deleted.
    :param database_name: a database to create. Default None: none (PostgreSQL still has
        ``postgres``).
    :param master_username: Default None: ``postgres`` or ``admin`` by engine. The password is
        generated and kept by RDS in Secrets Manager (``cluster.secret``).
    :param iam_authentication: allow IAM database authentication. Default False.
    :param require_tls: refuse unencrypted connections through a cluster parameter group
        (``rds.force_ssl`` / ``require_secure_transport``). Default True; False is warned.
    :param backup_retention: automated backup retention, 1-35 days. Default 7 days.
    :param copy_tags_to_snapshot: copy the cluster's tags to its snapshots. Default True.
    :param removal_policy: SNAPSHOT (default) takes a final snapshot on deletion; DESTROY deletes
        without one (warned); RETAIN leaves the cluster and the groups it uses in place.
    :param adopt_existing: manage an existing cluster of that identifier. Default False.
    :param autoscaled: the declared size is only the initial size; a deploy that leaves the size
        properties unchanged keeps whatever size the autoscaler chose (``paused`` stays declared).
        Default False: every deploy restores the declared size.
    :param wait_for_completion: the deploy waits for the cluster to settle. Default True.
    :param long_operations: ``LongOperations(timeout=...)`` lets a deploy wait for changes longer
        than the custom resource's one-hour limit (a classic resize takes hours), up to 12 hours,
        through a wait condition; attributes and dependents then see the finished state. Default
        None: a change must finish within the hour (or use ``wait_for_completion=False``).
    :param deletion_protection: refuse to delete the cluster (a stack delete then fails until it is
        turned off by an update). Default None: CDK's rule, on with ``RemovalPolicy.RETAIN``, off
        otherwise.
    :param cloudwatch_logs_exports: log types exported to CloudWatch Logs. Default None: the
        engine's audit and error logs (PostgreSQL: ``postgresql``; MySQL: ``audit``, ``error``,
        ``slowquery``, with audit logging on in the TLS parameter group); ``[]`` exports nothing.
    :param performance_insights: Performance Insights on every instance, encrypted with the
        cluster's key. Default True (an instance class without it is created without it, and the
        ``PerformanceInsightsEnabled`` attribute says ``unsupported``).
    :param performance_insights_retention: 7 days (default, free), 31-713 days in 31-day months,
        or 731 days.
    :param monitoring_interval: Enhanced Monitoring granularity: 1, 5, 10, 15, 30 or 60 seconds.
        Default one minute, with a role this construct makes (AmazonRDSEnhancedMonitoringRole);
        ``Duration.seconds(0)`` turns it off.
    :param preferred_backup_window: daily backup window, ``hh24:mi-hh24:mi`` UTC, 30 minutes or
        more. Default None: one AWS picks.
    :param preferred_maintenance_window: weekly window, ``ddd:hh24:mi-ddd:hh24:mi`` UTC, 30 minutes
        or more, not overlapping the backup window. Default None: one AWS picks.
    :param auto_minor_version_upgrade: apply minor engine upgrades in the maintenance window.
        Default True.
    :param instance_parameter_group_name: a DB parameter group for every instance. Default None:
        the engine's default group.
    :param reboot_for_parameter_changes: reboot the instances (one at a time, readers first) when a
        parameter group change waits for a reboot. Default False: the change waits for the next
        reboot, and the ``PendingReboot`` attribute says so.
    :param snapshot_identifier: create the cluster by restoring this DB cluster snapshot (name or
        ARN). Default None. Cannot change after creation.
    :param restore_source_cluster: create the cluster by a point-in-time restore of this cluster,
        with ``restore_to_time`` (ISO-8601 UTC) or ``use_latest_restorable_time``. Default None.
    :param restore_to_time: with ``restore_source_cluster``: the moment to restore (ISO-8601 UTC,
        within the source's backup retention). Default None. Cannot change after creation.
    :param use_latest_restorable_time: with ``restore_source_cluster``: restore to the latest
        restorable moment instead of ``restore_to_time``. Default False. Cannot change after creation.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        instance_class: str,
        engine: str = "aurora-postgresql",
        engine_version: str | None = None,
        reader_count: int = 0,
        serverless_v2_min_capacity: float | None = None,
        serverless_v2_max_capacity: float | None = None,
        serverless_v2_seconds_until_auto_pause: int | None = None,
        data_api: bool = False,
        cluster_identifier: str | None = None,
        paused: bool = False,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: list[ec2.ISecurityGroup] | None = None,
        encryption_key: kms.IKey | None = None,
        database_name: str | None = None,
        master_username: str | None = None,
        iam_authentication: bool = False,
        require_tls: bool = True,
        backup_retention: Duration = _SEVEN_DAYS,
        copy_tags_to_snapshot: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT,
        adopt_existing: bool = False,
        wait_for_completion: bool = True,
        autoscaled: bool = False,
        long_operations: LongOperations | None = None,
        deletion_protection: bool | None = None,
        cloudwatch_logs_exports: list[str] | None = None,
        performance_insights: bool = True,
        performance_insights_retention: Duration = _SEVEN_DAYS,
        monitoring_interval: Duration = _ONE_MINUTE,
        preferred_backup_window: str | None = None,
        preferred_maintenance_window: str | None = None,
        auto_minor_version_upgrade: bool = True,
        instance_parameter_group_name: str | None = None,
        reboot_for_parameter_changes: bool = False,
        snapshot_identifier: str | None = None,
        restore_source_cluster: str | None = None,
        restore_to_time: str | None = None,
        use_latest_restorable_time: bool = False,
    ) -> None:
        super().__init__(scope, id, AuroraClusterProvider.resource_type)
        self.autoscaled = autoscaled
        self._validate(engine, instance_class, reader_count, serverless_v2_min_capacity, serverless_v2_max_capacity)
        if not unresolved(serverless_v2_seconds_until_auto_pause, serverless_v2_min_capacity):
            checked(
                self,
                validate_auto_pause,
                serverless_v2_seconds_until_auto_pause,
                serverless_v2_min_capacity,
                min_field="serverless_v2_min_capacity",
            )
        self.engine = engine
        self._data_api = data_api
        retention_days = self._backup_days(backup_retention)
        for check, value, name, kwargs in (
            (validate_aurora_db_name, database_name, "database_name", {"engine": engine}),
            (validate_aurora_master_username, master_username, "master_username", {"engine": engine}),
            (validate_engine_version, engine_version, "engine_version", {}),
        ):
            if value is not None and not unresolved(value, engine):
                checked(self, check, value, field=name, **kwargs)
        version = engine_version if engine_version is not None else DEFAULT_ENGINE_VERSIONS.get(engine)
        self._cluster_identifier = support.cluster_identifier(self, cluster_identifier)

        subnets = private_subnets(self, vpc, vpc_subnets)
        description = f"dbscale Aurora cluster {self._path}"
        subnet_group = rds.CfnDBSubnetGroup(
            self,
            "SubnetGroup",
            db_subnet_group_description=description,
            subnet_ids=subnets.subnet_ids,
        )
        groups = support.security_groups(self, vpc, security_groups, description)
        key = support.encryption_key(self, encryption_key, description)
        parameter_group = self._tls_parameter_group(engine, version) if require_tls else None
        if not require_tls:
            warn(self, "tlsNotRequired", "require_tls is False: clients may connect without encryption")
        pi_days = self._performance_insights_days(performance_insights_retention) if performance_insights else None
        interval = self._monitoring_seconds(monitoring_interval)
        self._check_settings(engine, cloudwatch_logs_exports, preferred_backup_window, preferred_maintenance_window)
        monitoring_role = self._monitoring_role() if interval else None
        if deletion_protection is None:
            deletion_protection = retained(removal_policy)
        self.security_groups = groups
        self.encryption_key = key
        self.subnet_group = subnet_group
        self.parameter_group = parameter_group

        serverless = instance_class == AURORA_SERVERLESS_INSTANCE_CLASS
        provider = AuroraClusterProvider.of(self._provider_scope)
        self.provider = provider
        # What this construct is explicitly given widens its stack's provider, and only that.
        if adopt_existing or not require_tls:
            provider.allow(
                Guardrails(
                    allow_tls_off=not require_tls,
                    adopt_prefixes=(self._cluster_identifier,) if adopt_existing else (),
                )
            )
        created: list[IConstruct] = [subnet_group]
        created += [g for g in groups if g not in (security_groups or [])]
        if parameter_group is not None:
            created.append(parameter_group)
        # Read once: each read of a jsii attribute is a round trip to node.
        subnet_group_name, key_arn = subnet_group.ref, key.key_arn
        parameter_group_name = parameter_group.ref if parameter_group is not None else None
        if parameter_group is None and not unresolved(engine, version) and version is not None:
            # TLS off, explicitly: the engine's default group (the handler would otherwise make one
            # that requires TLS); the provider was widened with allow_tls_off above.
            parameter_group_name = f"default.{parameter_group_family(engine, version)}"
        monitoring_role_arn = monitoring_role.role_arn if monitoring_role is not None else None
        resource = self._create_resource(
            provider,
            {
                "ClusterIdentifier": self._cluster_identifier,
                "Engine": engine,
                "EngineVersion": version,
                "InstanceClass": instance_class,
                "ServerlessV2MinCapacity": serverless_v2_min_capacity if serverless else None,
                "ServerlessV2MaxCapacity": serverless_v2_max_capacity if serverless else None,
                "ServerlessV2SecondsUntilAutoPause": serverless_v2_seconds_until_auto_pause if serverless else None,
                "ReaderCount": reader_count,
                "Paused": paused,
                "DatabaseName": database_name,
                "MasterUsername": master_username,
                "DBSubnetGroupName": subnet_group_name,
                "VpcSecurityGroupIds": [g.security_group_id for g in groups],
                "DBClusterParameterGroupName": parameter_group_name,
                "StorageEncrypted": True,
                "KmsKeyId": key_arn,
                "EnableIAMDatabaseAuthentication": iam_authentication,
                "EnableHttpEndpoint": data_api or None,
                "CopyTagsToSnapshot": copy_tags_to_snapshot,
                "BackupRetentionPeriod": retention_days,
                "SkipFinalSnapshot": skip_final_snapshot(self, removal_policy),
                "AdoptExisting": adopt_existing,
                "WaitForCompletion": wait_for_completion,
                "Autoscaled": autoscaled,
                "DeletionProtection": deletion_protection,
                "EnableCloudwatchLogsExports": cloudwatch_logs_exports,
                "PerformanceInsightsEnabled": performance_insights,
                "PerformanceInsightsKmsKeyId": key_arn if performance_insights else None,
                "PerformanceInsightsRetentionPeriod": pi_days,
                "MonitoringInterval": interval,
                "MonitoringRoleArn": monitoring_role_arn,
                "PreferredBackupWindow": preferred_backup_window,
                "PreferredMaintenanceWindow": preferred_maintenance_window,
                "AutoMinorVersionUpgrade": auto_minor_version_upgrade,
                "DBInstanceParameterGroupName": instance_parameter_group_name,
                "RebootForParameterChanges": reboot_for_parameter_changes or None,
                "MasterUserSecretKmsKeyId": key_arn,
                "SnapshotIdentifier": snapshot_identifier,
                "SourceDBClusterIdentifier": restore_source_cluster,
                "RestoreToTime": restore_to_time,
                "UseLatestRestorableTime": use_latest_restorable_time or None,
            },
            removal_policy=removal_policy,
            long_operations=long_operations,
            retain_with_cluster=created,
        )
        # The resource is in the provider's stack (of() found the provider from this construct).
        provider._register(
            resource,
            self._cluster_identifier,
            key_arn=key_arn,
            subnet_group_name=subnet_group_name,
            parameter_group_name=parameter_group_name if parameter_group is not None else None,
            same_stack=True,
        )
        provider.grant_instance_options(
            instance_parameter_group_name=instance_parameter_group_name, monitoring_role_arn=monitoring_role_arn
        )
        self.monitoring_role = monitoring_role

        port = AURORA_DEFAULT_PORT.get(engine, 5432)
        self._secret = self._managed_secret()
        self._connections_value = self._connections(groups, port)

    @property
    def data_api_enabled(self) -> bool:
        """True when the cluster's RDS Data API (HTTP endpoint) is on."""
        return self._data_api

    def enable_data_api(self) -> None:
        """Turn on the RDS Data API (the cluster's HTTP endpoint); idempotent. Needs an engine
        version that supports it on Serverless v2 and provisioned instances (the defaults do)."""
        if not self._data_api:
            self._cfn.add_property_override("EnableHttpEndpoint", True)
            self._data_api = True

    # --- validation ---------------------------------------------------------------------------

    def _validate(
        self,
        engine: str,
        instance_class: str,
        reader_count: int,
        min_capacity: float | None,
        max_capacity: float | None,
    ) -> None:
        if unresolved(engine, instance_class, reader_count, min_capacity, max_capacity):
            if not unresolved(engine):
                checked(self, validate_aurora_engine, engine)
            return
        checked(
            self,
            validate_aurora_cluster,
            engine=engine,
            instance_class=instance_class,
            reader_count=reader_count,
            serverless_v2_min_acu=min_capacity,
            serverless_v2_max_acu=max_capacity,
            fields={
                "serverless_v2_min_acu": "serverless_v2_min_capacity",
                "serverless_v2_max_acu": "serverless_v2_max_capacity",
            },
        )

    def _backup_days(self, retention: Duration) -> Any:
        days = 7 if retention is _SEVEN_DAYS else retention.to_days()  # the default: no round trip
        if unresolved(days):
            return days
        return checked(self, validate_backup_retention, days)

    def _performance_insights_days(self, retention: Duration) -> Any:
        days = 7 if retention is _SEVEN_DAYS else retention.to_days()
        if unresolved(days):
            return days
        return checked(self, validate_performance_insights_retention, days, field="performance_insights_retention")

    def _monitoring_seconds(self, interval: Duration) -> Any:
        seconds = 60 if interval is _ONE_MINUTE else interval.to_seconds()
        if not unresolved(seconds) and seconds not in AURORA_MONITORING_INTERVALS:
            allowed = ", ".join(str(i) for i in AURORA_MONITORING_INTERVALS)
            raise fail(self, f"monitoring_interval must be one of {allowed} seconds", field="monitoring_interval")
        return seconds

    def _check_settings(
        self, engine: str, exports: list[str] | None, backup: str | None, maintenance: str | None
    ) -> None:
        if exports is not None and not unresolved(engine, *exports):
            checked(self, validate_log_exports, engine, list(exports), field="cloudwatch_logs_exports")
        if backup is not None and not unresolved(backup):
            checked(self, validate_backup_window, backup, field="preferred_backup_window")
        if maintenance is not None and not unresolved(maintenance):
            checked(self, validate_maintenance_window, maintenance, field="preferred_maintenance_window")
        if backup is not None and maintenance is not None and not unresolved(backup, maintenance):
            checked(self, check_windows_apart, backup, maintenance, field="preferred_backup_window")

    def _monitoring_role(self) -> iam.Role:
        """The role RDS Enhanced Monitoring publishes OS metrics with (AWS's managed policy for it)."""
        role = iam.Role(
            self,
            "MonitoringRole",
            assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonRDSEnhancedMonitoringRole")
            ],
            description=f"RDS Enhanced Monitoring for dbscale Aurora cluster {self._path}",
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
                reason="AWS's managed policy for RDS Enhanced Monitoring: it only lets RDS write OS metrics to "
                "the RDSOSMetrics log group, and AWS keeps it current with the service",
            )
        )
        return role

    def _tls_parameter_group(self, engine: str, version: str | None) -> rds.CfnDBClusterParameterGroup:
        if version is None or unresolved(engine, version):
            raise fail(
                self,
                "require_tls needs a literal engine and engine_version to choose the parameter group family",
                field="engine_version",
            )
        return rds.CfnDBClusterParameterGroup(
            self,
            "ParameterGroup",
            description=f"dbscale Aurora cluster {self._path}: TLS required",
            family=parameter_group_family(engine, version),
            # Audit logging too (Aurora MySQL), so the exported audit log has content.
            parameters={**_TLS_PARAMETERS[engine], **dict(AURORA_AUDIT_PARAMETERS[engine])},
        )
