"""Creating an Aurora cluster: the checked request, the CreateDBCluster (or restore) call and the steps
after it (see ``RdsProvisioning.create``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine_versions import resolve_engine_version
from .describe import next_instance_ids
from .settings import check_auto_pause_version

# Parameters each restore call accepts besides its source (the rest are set after the restore).
_RESTORE_OPTIONS = frozenset(
    {
        "DBSubnetGroupName",
        "VpcSecurityGroupIds",
        "KmsKeyId",
        "EnableIAMDatabaseAuthentication",
        "EnableCloudwatchLogsExports",
        "DBClusterParameterGroupName",
        "CopyTagsToSnapshot",
        "Tags",
        "Port",
    }
)


@dataclass(frozen=True)
class AuroraCreate:
    """A checked create of an Aurora cluster: its shape, and ``options`` (CreateDBCluster parameters
    in AWS's names, dbscale's defaults and tags included)."""

    engine: str
    engine_version: str | None
    instance_class: str
    readers: int
    acu: tuple[float, float] | None
    auto_pause: int | None
    options: dict[str, Any]
    instance_settings: dict[str, Any]
    restore: dict[str, Any] | None


def create_call(
    rds: Any, cluster_name: str, request: AuroraCreate
) -> tuple[Callable[..., Any], dict[str, Any], list[dict[str, Any]], str]:
    """The create (or restore) call, its parameters, the steps after it and their description. A major
    ``engine_version`` ('16', '8.0') becomes the newest version AWS offers for new clusters (one
    DescribeDBEngineVersions call)."""
    # Deletion protection goes on last, once the cluster and its instances are available: a
    # create that fails before leaves no protected cluster for its rollback to trip over.
    options = dict(request.options)
    protect = bool(options.pop("DeletionProtection", False))
    engine, acu = request.engine, request.acu
    params: dict[str, Any] = {"DBClusterIdentifier": cluster_name, "Engine": engine, **options}
    if request.engine_version:
        params["EngineVersion"] = resolve_engine_version(rds, engine, request.engine_version)
        check_auto_pause_version(
            engine, params["EngineVersion"], acu[0] if acu else None, field="serverless_v2_min_acu"
        )
    if acu is not None:
        params["ServerlessV2ScalingConfiguration"] = {"MinCapacity": acu[0], "MaxCapacity": acu[1]}
        if request.auto_pause is not None:
            params["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] = request.auto_pause
    steps: list[dict[str, Any]] = [
        {
            "action": "create_instance",
            "instance_id": instance_id,
            "instance_class": request.instance_class,
            "engine": engine,
            "promotion_tier": 0 if n == 0 else 1,
            "settings": dict(request.instance_settings),
        }
        for n, instance_id in enumerate(next_instance_ids(cluster_name, [], 1 + request.readers))
    ]
    steps.append({"action": "wait_available"})
    if protect:
        steps += [{"action": "protect"}, {"action": "wait_available"}]
    shape = f"{request.instance_class}, {request.readers} readers"
    if not request.restore:
        return rds.create_db_cluster, params, steps, f"create Aurora cluster '{cluster_name}' ({engine}, {shape})"
    call, params, after = restore_call(rds, params, request.restore)
    steps = [{"action": "wait_available"}, {"action": "after_restore", "settings": after}, *steps]
    source = request.restore.get("SnapshotIdentifier") or request.restore.get("SourceDBClusterIdentifier")
    return call, params, steps, f"restore Aurora cluster '{cluster_name}' from '{source}' ({shape})"


def restore_call(
    rds: Any, params: dict[str, Any], restore: dict[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The restore call, its parameters, and the ModifyDBCluster settings it cannot take (applied
    once the restored cluster is available)."""
    call_params = {k: v for k, v in params.items() if k in _RESTORE_OPTIONS}
    call_params["DBClusterIdentifier"] = params["DBClusterIdentifier"]
    if "ServerlessV2ScalingConfiguration" in params:
        call_params["ServerlessV2ScalingConfiguration"] = params["ServerlessV2ScalingConfiguration"]
    after: dict[str, Any] = {
        k: params[k]
        for k in (
            "BackupRetentionPeriod",
            "PreferredBackupWindow",
            "PreferredMaintenanceWindow",
            "MasterUserSecretKmsKeyId",
        )
        if k in params
    }
    after["ManageMasterUserPassword"] = True
    if "SnapshotIdentifier" in restore:
        call_params.update(Engine=params["Engine"], SnapshotIdentifier=restore["SnapshotIdentifier"])
        if params.get("EngineVersion"):
            call_params["EngineVersion"] = params["EngineVersion"]
        return rds.restore_db_cluster_from_snapshot, call_params, after
    call_params.update({k: v for k, v in restore.items() if v is not None})
    call_params["RestoreType"] = "full-copy"
    return rds.restore_db_cluster_to_point_in_time, call_params, after
