"""moto 5.2 gaps in the RDS settings dbscale's Aurora resource sends (issue 12), filled as strictly as
AWS documents them. Installed by :func:`tests.fakes.moto_shims.install_moto_shims`.

* ``CreateDBInstance`` / ``ModifyDBInstance`` ignore ``EnablePerformanceInsights``,
  ``PerformanceInsightsKMSKeyId`` and ``PerformanceInsightsRetentionPeriod``: here they are kept
  and described (``PerformanceInsightsEnabled`` ...). As AWS: a retention other than 7, 31*n
  (n 1-23) or 731 is ``InvalidParameterValue``; a key or retention without Performance Insights on,
  and Performance Insights on an Aurora MySQL db.t2/db.t3/db.t4g.micro/small instance, are
  ``InvalidParameterCombination``; ``MonitoringInterval`` must be 0/1/5/10/15/30/60.
* A new ``DBParameterGroupName`` on ``ModifyDBInstance`` (and a changed cluster parameter group on
  ``ModifyDBCluster``) applies only at the next reboot: described as ``pending-reboot`` until
  ``RebootDBInstance`` (moto always says ``in-sync`` and its reboot does nothing).
* ``ModifyDBCluster`` ignores ``CloudwatchLogsExportConfiguration`` (moto reads another name).
* ``DescribeDBClusterParameters`` lists only the parameters a user set, on one page. AWS lists
  every parameter of the family (the engine defaults too: ``rds.force_ssl`` 0,
  ``require_secure_transport`` OFF) in pages of ``MaxRecords`` (20-100, default 100) with a
  ``Marker``: here the engine's :data:`ENGINE_DEFAULTS` and enough filler parameters come first, so a
  reader that stops at the first page misses the TLS parameter.
* ``DescribeDBEngineVersions`` is not implemented: served from
  :data:`tests.fakes.engine_versions.DEFAULT_CATALOG` (without holding creates to it; tests that
  need that use :class:`~tests.fakes.engine_versions.EngineVersionCatalog`, which replaces this).
* ``ModifyDBCluster`` of ``DeletionProtection`` works in moto; ``DeleteDBCluster`` refuses a
  protected cluster in moto already (``InvalidParameterCombination``).
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance, RDSBackend
from moto.rds.responses import RDSResponse

PI_RETENTION_DAYS = frozenset({7, 731, *(31 * n for n in range(1, 24))})
MONITORING_INTERVALS = frozenset({0, 1, 5, 10, 15, 30, 60})
_NO_PI_MYSQL = ("db.t2.", "db.t3.", "db.t4g.micro", "db.t4g.small")
PENDING_REBOOT = "dbscale_fake_pending_reboot"
# Engine defaults of a new cluster parameter group, after filler parameters (as AWS, alphabetical
# order puts the TLS parameter far down the list).
ENGINE_DEFAULTS: dict[str, dict[str, str]] = {
    "aurora-postgresql": {"rds.force_ssl": "0"},
    "aurora-mysql": {"require_secure_transport": "OFF", "server_audit_logging": "0"},
}
FILLER_PARAMETERS = 130


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).lower() == "true"


def _check_instance_settings(params: dict[str, Any], instance: DBInstance | None) -> None:
    enabled = _bool(params.get("EnablePerformanceInsights"))
    if enabled is None and instance is not None:
        enabled = bool(getattr(instance, "performance_insights_enabled", False))
    retention = params.get("PerformanceInsightsRetentionPeriod")
    if retention is not None and int(retention) not in PI_RETENTION_DAYS:
        raise RDSClientError(
            "InvalidParameterValue",
            f"Invalid PerformanceInsightsRetentionPeriod {retention}: use 7, month * 31 (1-23 months), or 731.",
        )
    if not enabled and (retention is not None or params.get("PerformanceInsightsKMSKeyId")):
        raise RDSClientError(
            "InvalidParameterCombination",
            "PerformanceInsightsKMSKeyId and PerformanceInsightsRetentionPeriod need Performance Insights enabled.",
        )
    engine = params.get("Engine") or (instance.engine if instance is not None else "")
    instance_class = params.get("DBInstanceClass") or (instance.db_instance_class if instance is not None else "")
    if enabled and engine == "aurora-mysql" and str(instance_class).startswith(_NO_PI_MYSQL):
        raise RDSClientError(
            "InvalidParameterCombination",
            f"Performance Insights not supported for this configuration ({engine} {instance_class}).",
        )
    interval = params.get("MonitoringInterval")
    if interval is not None and int(interval) not in MONITORING_INTERVALS:
        raise RDSClientError(
            "InvalidParameterValue", f"Invalid value {interval} for MonitoringInterval: use 0, 1, 5, 10, 15, 30 or 60."
        )


def _keep_instance_settings(instance: DBInstance, params: dict[str, Any]) -> None:
    enabled = _bool(params.get("EnablePerformanceInsights"))
    if enabled is not None:
        instance.performance_insights_enabled = enabled
        if not enabled:
            instance.performance_insights_kms_key_id = None
            instance.performance_insights_retention_period = None
        else:
            instance.performance_insights_retention_period = int(
                params.get("PerformanceInsightsRetentionPeriod")
                or getattr(instance, "performance_insights_retention_period", None)
                or 7
            )
    if params.get("PerformanceInsightsKMSKeyId"):
        key = str(params["PerformanceInsightsKMSKeyId"])
        # AWS describes the key by its ARN.
        instance.performance_insights_kms_key_id = (
            key if key.startswith("arn:") else f"arn:aws:kms:{instance.region}:{instance.account_id}:key/{key}"
        )


def _create_db_instance(original: Any) -> Any:
    def create_db_instance(self: RDSResponse) -> ActionResult:
        _check_instance_settings(self.params, None)
        result: ActionResult = original(self)
        _keep_instance_settings(self.backend.databases[self.params["DBInstanceIdentifier"]], self.params)
        return result

    create_db_instance.__name__ = original.__name__
    return create_db_instance


def _modify_db_instance(original: Any) -> Any:
    def modify_db_instance(self: RDSResponse) -> ActionResult:
        instance = self.backend.databases.get(self.params.get("DBInstanceIdentifier"))
        _check_instance_settings(self.params, instance)
        group = self.params.get("DBParameterGroupName")
        changes_group = instance is not None and group and group != instance.db_parameter_group_name
        result: ActionResult = original(self)
        if instance is not None:
            _keep_instance_settings(instance, self.params)
            if changes_group:
                setattr(instance, PENDING_REBOOT, True)
        return result

    modify_db_instance.__name__ = original.__name__
    return modify_db_instance


def _reboot_db_instance(original: Any) -> Any:
    def reboot_db_instance(self: RDSBackend, db_instance_identifier: str) -> Any:
        instance = original(self, db_instance_identifier)
        setattr(instance, PENDING_REBOOT, False)
        self.dbscale_reboots = [*getattr(self, "dbscale_reboots", []), db_instance_identifier]
        return instance

    return reboot_db_instance


def _parameter_status(original: Any) -> Any:
    def db_parameter_group_status_list(self: DBInstance) -> Any:
        groups = original.fget(self)
        if not getattr(self, PENDING_REBOOT, False):
            return groups
        pending = []
        for group in groups:
            group = copy.copy(group)
            group.ParameterApplyStatus = "pending-reboot"
            pending.append(group)
        return pending

    return property(db_parameter_group_status_list)


def _modify_db_cluster(original: Any) -> Any:
    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        config = kwargs.pop("cloudwatch_logs_export_configuration", None)
        name = kwargs.get("new_db_cluster_identifier") or kwargs["db_cluster_identifier"]
        result = original(self, kwargs)
        if config:
            cluster = self.clusters[name]
            enabled = [t for t in cluster.enabled_cloudwatch_logs_exports if t not in config.get("DisableLogTypes", [])]
            enabled += [t for t in config.get("EnableLogTypes", []) if t not in enabled]
            cluster.enabled_cloudwatch_logs_exports = enabled
            result.enabled_cloudwatch_logs_exports = list(enabled)
        return result

    return modify_db_cluster


def _describe_db_cluster_parameters(original: Any) -> Any:
    def describe_db_cluster_parameters(self: RDSResponse) -> ActionResult:
        name = self.params.get("DBClusterParameterGroupName")
        max_records = int(self.params.get("MaxRecords") or 100)
        if not 20 <= max_records <= 100:
            raise RDSClientError("InvalidParameterValue", "MaxRecords must be between 20 and 100")
        user_set = original(self).result["Parameters"]  # raises DBParameterGroupNotFound as AWS
        group = self.backend.db_cluster_parameter_groups[name]
        engine = "aurora-mysql" if "mysql" in group.db_parameter_group_family else "aurora-postgresql"
        parameters: dict[str, dict[str, Any]] = {
            f"aa_filler_{n:03d}": {"ParameterValue": "0", "Source": "engine-default"} for n in range(FILLER_PARAMETERS)
        }
        for parameter, value in ENGINE_DEFAULTS[engine].items():
            parameters[parameter] = {"ParameterValue": value, "Source": "engine-default"}
        for item in user_set:
            item = dict(item)
            parameters[item.pop("ParameterName")] = {**item, "Source": "user"}
        listed = [{"ParameterName": k, **v} for k, v in sorted(parameters.items())]
        start = int(self.params.get("Marker") or 0)
        result: dict[str, Any] = {"Parameters": listed[start : start + max_records]}
        if start + max_records < len(listed):
            result["Marker"] = str(start + max_records)
        return ActionResult(result)

    describe_db_cluster_parameters.__name__ = original.__name__
    return describe_db_cluster_parameters


def install_rds_settings() -> None:
    """Install the shims above (called once by ``install_moto_shims``)."""
    from .engine_versions import EngineVersionCatalog

    if "describe_db_engine_versions" in vars(RDSResponse):
        raise RuntimeError("moto now implements DescribeDBEngineVersions; revisit tests/fakes/rds_settings.py")
    catalog = EngineVersionCatalog()

    def describe_db_engine_versions(response: RDSResponse) -> ActionResult:
        return ActionResult(catalog.describe(response.params))

    describe_db_engine_versions.dbscale_fake = True  # type: ignore[attr-defined]
    RDSResponse.describe_db_engine_versions = describe_db_engine_versions  # type: ignore[attr-defined]
    RDSResponse.create_db_instance = _create_db_instance(RDSResponse.create_db_instance)  # type: ignore[method-assign]
    RDSResponse.modify_db_instance = _modify_db_instance(RDSResponse.modify_db_instance)  # type: ignore[method-assign]
    RDSBackend.reboot_db_instance = _reboot_db_instance(RDSBackend.reboot_db_instance)  # type: ignore[method-assign]
    DBInstance.db_parameter_group_status_list = _parameter_status(  # type: ignore[method-assign]
        DBInstance.db_parameter_group_status_list
    )
    RDSBackend.modify_db_cluster = _modify_db_cluster(RDSBackend.modify_db_cluster)  # type: ignore[method-assign]
    RDSResponse.describe_db_cluster_parameters = _describe_db_cluster_parameters(  # type: ignore[method-assign]
        RDSResponse.describe_db_cluster_parameters
    )
