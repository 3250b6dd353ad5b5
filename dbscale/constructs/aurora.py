"""``AuroraCluster``: an Aurora PostgreSQL or MySQL cluster (provisioned or Serverless v2) managed by dbscale."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct, IConstruct

from dbscale.core.aurora.settings import validate_performance_insights_retention
from dbscale.core.engine_versions import parameter_group_family
from dbscale.core.limits import (
    AURORA_DEFAULT_PORT,
    AURORA_MONITORING_INTERVALS,
    AURORA_SERVERLESS_INSTANCE_CLASS,
)
from dbscale.core.validation import validate_backup_retention

from . import _support as support
from ._cluster import ClusterBase
from ._support import checked, fail, retained, skip_final_snapshot, unresolved, warn
from .aurora_checks import check_log_exports, check_names, check_shape, check_windows
from .aurora_resources import monitoring_role, tls_parameter_group
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
        self.autoscaled, self.engine, self._data_api = autoscaled, engine, data_api
        min_acu, max_acu = serverless_v2_min_capacity, serverless_v2_max_capacity
        pause = serverless_v2_seconds_until_auto_pause
        check_shape(self, engine, instance_class, reader_count, min_acu, max_acu, pause)
        retention_days = _backup_days(self, backup_retention)
        check_names(self, engine, engine_version, database_name, master_username)
        version = engine_version if engine_version is not None else DEFAULT_ENGINE_VERSIONS.get(engine)
        self._cluster_identifier = support.cluster_identifier(self, cluster_identifier)
        made = self._set_up_network("Aurora", vpc, vpc_subnets, security_groups, encryption_key)
        group_name = self._parameter_group(engine, version, require_tls, made)
        # Built in the order of the properties; each part checks its values (in the order the parts come).
        properties = {
            **self._shape(version, instance_class, min_acu, max_acu, pause, reader_count, paused),
            **self._access(
                database_name, master_username, group_name, iam_authentication, copy_tags_to_snapshot, retention_days
            ),
            **self._lifecycle(removal_policy, adopt_existing, wait_for_completion, autoscaled, deletion_protection),
            **self._monitoring(
                cloudwatch_logs_exports, performance_insights, performance_insights_retention, monitoring_interval
            ),
            **self._maintenance(preferred_backup_window, preferred_maintenance_window, auto_minor_version_upgrade),
            "DBInstanceParameterGroupName": instance_parameter_group_name,
            "RebootForParameterChanges": reboot_for_parameter_changes or None,
            "MasterUserSecretKmsKeyId": self._key_arn,
            **self._restore(snapshot_identifier, restore_source_cluster, restore_to_time, use_latest_restorable_time),
        }
        provider = self._widened_provider(AuroraClusterProvider, adopt_existing=adopt_existing, tls_off=not require_tls)
        self.provider = provider
        resource = self._create_resource(provider, properties, removal_policy, long_operations, made)
        own_group = group_name if self.parameter_group is not None else None
        self._finish(provider, resource, AURORA_DEFAULT_PORT.get(engine, 5432), parameter_group_name=own_group)
        provider.grant_instance_options(
            instance_parameter_group_name=instance_parameter_group_name, monitoring_role_arn=self._monitoring_role_arn
        )

    def _subnet_group(self, description: str, subnet_ids: list[str]) -> CfnResource:
        return rds.CfnDBSubnetGroup(self, "SubnetGroup", db_subnet_group_description=description, subnet_ids=subnet_ids)

    def _parameter_group(self, engine: str, version: str | None, require_tls: bool, made: list[IConstruct]) -> Any:
        """The cluster parameter group's name: dbscale's TLS group (kept with a retained cluster), or
        with TLS off, explicitly, the engine's default group (warned; the handler would otherwise
        make one that requires TLS). Sets ``parameter_group`` (None with TLS off)."""
        self.parameter_group = tls_parameter_group(self, self._path, engine, version) if require_tls else None
        if self.parameter_group is not None:
            made.append(self.parameter_group)
            return self.parameter_group.ref
        warn(self, "tlsNotRequired", "require_tls is False: clients may connect without encryption")
        if not unresolved(engine, version) and version is not None:
            return f"default.{parameter_group_family(engine, version)}"
        return None

    def _shape(
        self,
        version: str | None,
        instance_class: str,
        min_capacity: float | None,
        max_capacity: float | None,
        seconds_until_auto_pause: int | None,
        reader_count: int,
        paused: bool,
    ) -> dict[str, Any]:
        """Engine, instance class (Serverless v2 capacity only with ``db.serverless``), readers, state."""
        serverless = instance_class == AURORA_SERVERLESS_INSTANCE_CLASS
        return {
            "ClusterIdentifier": self._cluster_identifier,
            "Engine": self.engine,
            "EngineVersion": version,
            "InstanceClass": instance_class,
            "ServerlessV2MinCapacity": min_capacity if serverless else None,
            "ServerlessV2MaxCapacity": max_capacity if serverless else None,
            "ServerlessV2SecondsUntilAutoPause": seconds_until_auto_pause if serverless else None,
            "ReaderCount": reader_count,
            "Paused": paused,
        }

    def _access(
        self,
        database_name: str | None,
        master_username: str | None,
        parameter_group_name: str | None,
        iam_authentication: bool,
        copy_tags_to_snapshot: bool,
        retention_days: Any,
    ) -> dict[str, Any]:
        """The first database, admin user, network, parameter group, encryption, access and backups."""
        return {
            "DatabaseName": database_name,
            "MasterUsername": master_username,
            "DBSubnetGroupName": self._subnet_group_name,
            "VpcSecurityGroupIds": [g.security_group_id for g in self.security_groups],
            "DBClusterParameterGroupName": parameter_group_name,
            "StorageEncrypted": True,
            "KmsKeyId": self._key_arn,
            "EnableIAMDatabaseAuthentication": iam_authentication,
            "EnableHttpEndpoint": self._data_api or None,
            "CopyTagsToSnapshot": copy_tags_to_snapshot,
            "BackupRetentionPeriod": retention_days,
        }

    def _lifecycle(
        self, policy: RemovalPolicy, adopt: bool, wait: bool, autoscaled: bool, protection: bool | None
    ) -> dict[str, Any]:
        """How the handler deletes, adopts and waits (DESTROY warned); deletion protection by CDK's rule."""
        return {
            "SkipFinalSnapshot": skip_final_snapshot(self, policy),
            "AdoptExisting": adopt,
            "WaitForCompletion": wait,
            "Autoscaled": autoscaled,
            "DeletionProtection": retained(policy) if protection is None else protection,
        }

    def _monitoring(
        self,
        cloudwatch_logs_exports: list[str] | None,
        performance_insights: bool,
        performance_insights_retention: Duration,
        monitoring_interval: Duration,
    ) -> dict[str, Any]:
        """Log exports, Performance Insights (with the cluster's key) and Enhanced Monitoring (with a
        role made here). Sets ``monitoring_role``."""
        pi_days = _performance_insights_days(self, performance_insights_retention) if performance_insights else None
        interval = _monitoring_seconds(self, monitoring_interval)
        check_log_exports(self, self.engine, cloudwatch_logs_exports)
        self.monitoring_role = monitoring_role(self, self._path) if interval else None
        # Read once: each read of a jsii attribute is a round trip to node.
        self._monitoring_role_arn = self.monitoring_role.role_arn if self.monitoring_role is not None else None
        return {
            "EnableCloudwatchLogsExports": cloudwatch_logs_exports,
            "PerformanceInsightsEnabled": performance_insights,
            "PerformanceInsightsKmsKeyId": self._key_arn if performance_insights else None,
            "PerformanceInsightsRetentionPeriod": pi_days,
            "MonitoringInterval": interval,
            "MonitoringRoleArn": self._monitoring_role_arn,
        }

    def _maintenance(self, backup: str | None, maintenance: str | None, minor_upgrades: bool) -> dict[str, Any]:
        """The backup and maintenance windows (apart) and minor version upgrades."""
        check_windows(self, backup, maintenance)
        return {
            "PreferredBackupWindow": backup,
            "PreferredMaintenanceWindow": maintenance,
            "AutoMinorVersionUpgrade": minor_upgrades,
        }

    def _restore(self, snapshot: str | None, source: str | None, to_time: str | None, latest: bool) -> dict[str, Any]:
        """What the cluster is created from: a snapshot, or a point in time of another cluster."""
        return {
            "SnapshotIdentifier": snapshot,
            "SourceDBClusterIdentifier": source,
            "RestoreToTime": to_time,
            "UseLatestRestorableTime": latest or None,
        }

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


def _backup_days(owner: Construct, retention: Duration) -> Any:
    """``backup_retention`` in days, checked (1-35) where known."""
    days = 7 if retention is _SEVEN_DAYS else retention.to_days()  # the default: no round trip
    if unresolved(days):
        return days
    return checked(owner, validate_backup_retention, days)


def _performance_insights_days(owner: Construct, retention: Duration) -> Any:
    """``performance_insights_retention`` in days, checked where known."""
    days = 7 if retention is _SEVEN_DAYS else retention.to_days()
    if unresolved(days):
        return days
    return checked(owner, validate_performance_insights_retention, days, field="performance_insights_retention")


def _monitoring_seconds(owner: Construct, interval: Duration) -> Any:
    """``monitoring_interval`` in seconds, one of the intervals Enhanced Monitoring offers (0: off)."""
    seconds = 60 if interval is _ONE_MINUTE else interval.to_seconds()
    if not unresolved(seconds) and seconds not in AURORA_MONITORING_INTERVALS:
        allowed = ", ".join(str(i) for i in AURORA_MONITORING_INTERVALS)
        raise fail(owner, f"monitoring_interval must be one of {allowed} seconds", field="monitoring_interval")
    return seconds
