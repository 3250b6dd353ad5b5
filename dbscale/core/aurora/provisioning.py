"""Aurora clusters (PostgreSQL and MySQL, provisioned or Serverless v2): get-or-create, rolling
instance-class changes, readers, ACU range, stop/start, delete: :class:`RdsProvisioning`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..aws import aws_errors
from ..clock import Clock
from ..engine_versions import resolve_engine_version, satisfies
from ..errors import ClusterNotFound, DeletionProtected, InvalidRequest, InvalidState
from ..limits import AURORA_DEFAULT_MASTER_USERNAME, AURORA_SERVERLESS_INSTANCE_CLASS
from ..operation import Operation
from ..plan import RescalePlan, aurora_plan
from ..provisioning import ClusterProvisioning
from ..redshift import ConnectionInfo
from ..validation import (
    validate_aurora_cluster,
    validate_aurora_instance_class,
    validate_auto_pause,
    validate_flag,
    validate_positive_number,
    validate_reader_count,
    validate_serverless_v2_capacity,
)
from .describe import _SETTLED, _next_numbers, acu_range, describe_db_cluster, describe_db_instance
from .rescale import plan_rescale
from .settings import check_auto_pause_version

if TYPE_CHECKING:
    import boto3

_RESERVED_OPTIONS = frozenset({"DBClusterIdentifier", "Engine", "EngineVersion", "ServerlessV2ScalingConfiguration"})
_FORBIDDEN_OPTIONS = frozenset({"MasterUserPassword", "ManageMasterUserPassword"})
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


class RdsProvisioning(ClusterProvisioning):
    """An Aurora DB cluster with a writer instance and ``reader_count`` readers.

    Adopted when it exists, created when it does not (given ``initial_instance_type``); a missing
    cluster without it raises :class:`ClusterNotFound`. ``initial_instance_type="db.serverless"``
    makes a Serverless v2 cluster with ``serverless_v2_min_acu``..``serverless_v2_max_acu`` ACUs
    (min may be 0 for auto-pause). ``create_options`` are extra ``CreateDBCluster`` parameters in
    AWS's names (``DBSubnetGroupName``, ``VpcSecurityGroupIds``, ``KmsKeyId``, ``DatabaseName``,
    ``Tags`` ...). Defaults: master user ``postgres`` (PostgreSQL) or ``admin`` (MySQL), password
    generated and kept by AWS in Secrets Manager, storage encrypted, tags copied to snapshots,
    7 days of backups. ``wait`` (default True) waits for the cluster and its instances, at most
    ``timeout_minutes`` (default 60); with ``wait=False`` the creation is left in
    ``self.pending_operation``.
    """

    service = "aurora"
    _client_service = "rds"
    _label = "Aurora cluster"
    _tags_key = "TagList"
    _already_exists_codes = frozenset({"DBClusterAlreadyExistsFault"})
    _reserved_options = _RESERVED_OPTIONS
    _forbidden_options = _FORBIDDEN_OPTIONS
    _managed_password_option = "ManageMasterUserPassword"
    _tagging_calls = ("add_tags_to_resource", "remove_tags_from_resource")
    _status_key = "Status"
    _settled_states = _SETTLED

    def __init__(
        self,
        cluster_name: str,
        *,
        initial_instance_type: str | None = None,
        engine: str = "aurora-postgresql",
        engine_version: str | None = None,
        reader_count: int = 0,
        serverless_v2_min_acu: float | None = None,
        serverless_v2_max_acu: float | None = None,
        serverless_v2_seconds_until_auto_pause: int | None = None,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        instance_settings: dict[str, Any] | None = None,
        restore: dict[str, Any] | None = None,
        **create_options: Any,
    ) -> None:
        super().__init__(cluster_name, session, clock)
        validate_flag(wait, field="wait")
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        if initial_instance_type is not None:
            auto_pause = validate_auto_pause(serverless_v2_seconds_until_auto_pause, serverless_v2_min_acu)
            engine, instance_class, readers, acu = validate_aurora_cluster(
                engine=engine,
                instance_class=initial_instance_type,
                reader_count=reader_count,
                serverless_v2_min_acu=serverless_v2_min_acu,
                serverless_v2_max_acu=serverless_v2_max_acu,
                fields={"instance_class": "initial_instance_type"},
            )
            options = self._create_options(
                create_options,
                {
                    "MasterUsername": AURORA_DEFAULT_MASTER_USERNAME[engine],
                    "StorageEncrypted": True,
                    "CopyTagsToSnapshot": True,
                    "BackupRetentionPeriod": 7,
                },
            )
        if self._exists():
            return
        if initial_instance_type is None:
            raise ClusterNotFound(
                f"Aurora cluster '{cluster_name}' does not exist; pass initial_instance_type to create it"
            )
        # Deletion protection goes on last, once the cluster and its instances are available: a
        # create that fails before leaves no protected cluster for its rollback to trip over.
        protect = bool(options.pop("DeletionProtection", False))
        params: dict[str, Any] = {"DBClusterIdentifier": cluster_name, "Engine": engine, **options}
        if engine_version:
            # A major version ('16', '8.0') becomes the newest version AWS offers for new clusters.
            params["EngineVersion"] = resolve_engine_version(self._client, engine, engine_version)
            check_auto_pause_version(
                engine, params["EngineVersion"], acu[0] if acu else None, field="serverless_v2_min_acu"
            )
        if acu is not None:
            params["ServerlessV2ScalingConfiguration"] = {"MinCapacity": acu[0], "MaxCapacity": acu[1]}
            if auto_pause is not None:
                params["ServerlessV2ScalingConfiguration"]["SecondsUntilAutoPause"] = auto_pause
        steps: list[dict[str, Any]] = [
            {
                "action": "create_instance",
                "instance_id": instance_id,
                "instance_class": instance_class,
                "engine": engine,
                "promotion_tier": 0 if n == 0 else 1,
                "settings": dict(instance_settings or {}),
            }
            for n, instance_id in enumerate(_next_numbers(cluster_name, [], 1 + readers))
        ]
        steps.append({"action": "wait_available"})
        if protect:
            steps += [{"action": "protect"}, {"action": "wait_available"}]
        create = self._client.create_db_cluster
        description = f"create Aurora cluster '{cluster_name}' ({engine}, {instance_class}, {readers} readers)"
        if restore:
            create, params, after = _restore_call(self._client, params, restore)
            steps = [{"action": "wait_available"}, {"action": "after_restore", "settings": after}, *steps]
            source = restore.get("SnapshotIdentifier") or restore.get("SourceDBClusterIdentifier")
            description = (
                f"restore Aurora cluster '{cluster_name}' from '{source}' ({instance_class}, {readers} readers)"
            )
        self._create(create, params, steps, description, wait, timeout_minutes)

    # --- state, read fresh from AWS -------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        return describe_db_cluster(self._client, self._name)

    def _writer(self, cluster: dict[str, Any]) -> dict[str, Any] | None:
        for member in cluster.get("DBClusterMembers", []):
            if member.get("IsClusterWriter"):
                return describe_db_instance(self._client, member["DBInstanceIdentifier"])
        return None

    @property
    def instance_type(self) -> str | None:
        """The writer's DB instance class (``db.serverless`` for Serverless v2); None without a writer."""
        writer = self._writer(self._describe())
        return None if writer is None else str(writer["DBInstanceClass"])

    @property
    def reader_count(self) -> int:
        """The number of reader instances."""
        return sum(1 for m in self._describe().get("DBClusterMembers", []) if not m.get("IsClusterWriter"))

    @property
    def status(self) -> str:
        """AWS's cluster Status, e.g. ``available``, ``stopped``, ``modifying``."""
        return str(self._describe()["Status"])

    @property
    def paused(self) -> bool:
        """True when the cluster is stopped (not while it is stopping)."""
        return self.status == "stopped"

    @property
    def serverless_v2_capacity(self) -> tuple[float, float] | None:
        """The Serverless v2 (min, max) ACU range, or None when the cluster has none."""
        return acu_range(self._describe())

    @property
    def engine(self) -> str:
        """``aurora-postgresql`` or ``aurora-mysql``."""
        return str(self._describe()["Engine"])

    def describe(self) -> dict[str, Any]:
        """The cluster as DescribeDBClusters returns it (no secret values are in it)."""
        return self._describe()

    def __repr__(self) -> str:
        try:
            c = self._describe()
            writer = self._writer(c)
        except Exception:  # a repr must not raise
            return f"RdsProvisioning(cluster_name={self._name!r})"
        readers = sum(1 for m in c.get("DBClusterMembers", []) if not m.get("IsClusterWriter"))
        return (
            f"RdsProvisioning(cluster_name={self._name!r}, engine={c.get('Engine')!r}, "
            f"instance_type={writer['DBInstanceClass'] if writer else None!r}, reader_count={readers}, "
            f"serverless_v2_capacity={acu_range(c)}, status={c['Status']!r}, adopted={not self._owned(c)})"
        )

    def connection_info(self) -> ConnectionInfo:
        """Writer and reader endpoints, port, database, user and the managed secret's ARN (never a password)."""
        c = self._describe()
        return ConnectionInfo(
            host=c.get("Endpoint"),
            port=c.get("Port"),
            database=c.get("DatabaseName"),
            user=c.get("MasterUsername"),
            secret_arn=(c.get("MasterUserSecret") or {}).get("SecretArn"),
            reader_host=c.get("ReaderEndpoint"),
        )

    # --- changes ----------------------------------------------------------------------------

    def rescale(
        self,
        immediate: bool = True,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        new_reader_count: int | None = None,
        new_serverless_v2_capacity: tuple[float, float] | None = None,
        new_seconds_until_auto_pause: int | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        after_pending: bool = False,
        instance_settings: dict[str, Any] | None = None,
    ) -> Operation:
        """Bring the cluster to an instance class, reader count, ACU range and stopped state.

        None keeps the current value. A stopped cluster that must change is started first and
        stopped again afterwards when ``new_paused`` is True (or left None).

        Instance class, ``immediate=True`` (default): readers are modified one at a time (each
        reboots while the others serve reads); the writer is never rebooted in place: a new
        instance of the new class is added, and when it is available the cluster fails over to it
        (one failover, typically under a minute of write unavailability, instead of a 5-10 minute
        reboot), then the old writer is deleted.

        ``immediate=False``: every instance's class change is submitted with
        ``ApplyImmediately=False``, so AWS applies it in that instance's next maintenance window,
        as an in-place reboot of each instance (writer included: no failover swap happens, because a
        swap cannot be deferred). The ACU range change is likewise deferred. Reader count changes
        and start/stop cannot be deferred and happen now.

        ``new_seconds_until_auto_pause`` (300 to 86,400) goes with a Serverless v2 minimum of 0 ACU:
        how long an idle instance waits before Aurora pauses it.

        ``instance_settings``: CreateDBInstance parameters for the instances it adds (see
        :mod:`dbscale.core.aurora.settings`); None (default) gives them the writer's.

        ``wait``, ``timeout_minutes`` (default 60) and ``after_pending`` as for
        :meth:`RedshiftProvisioning.rescale`. Every argument but the first is keyword-only; flags
        must be real bools (``rescale(True, "db.r6g.xlarge")`` is a TypeError, not a stop).
        """
        validate_flag(new_paused, field="new_paused", optional=True)
        for flag_name, flag in {"immediate": immediate, "wait": wait, "after_pending": after_pending}.items():
            validate_flag(flag, field=flag_name)
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        steps, description = self._rescale_steps(
            immediate,
            new_paused,
            new_instance_type,
            new_reader_count,
            new_serverless_v2_capacity,
            after_pending,
            new_seconds_until_auto_pause,
            instance_settings,
        )
        return self._start(steps, description, wait, timeout_minutes)

    def plan_rescale(
        self,
        immediate: bool = True,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        new_reader_count: int | None = None,
        new_serverless_v2_capacity: tuple[float, float] | None = None,
        new_seconds_until_auto_pause: int | None = None,
    ) -> RescalePlan:
        """What :meth:`rescale` with these arguments would do, without doing it: the steps (start,
        readers added or changed, new writer and failover, old writer deleted, stop), the expected
        duration and the write-unavailable window, from AWS's documented figures
        (:data:`dbscale.core.plan.STEP_FIGURES`). Same validation and errors as :meth:`rescale`;
        a cluster mid-operation raises :class:`InvalidState`."""
        validate_flag(new_paused, field="new_paused", optional=True)
        validate_flag(immediate, field="immediate")
        steps, description = self._rescale_steps(
            immediate,
            new_paused,
            new_instance_type,
            new_reader_count,
            new_serverless_v2_capacity,
            False,
            new_seconds_until_auto_pause,
        )
        return aurora_plan(self._name, description, steps, immediate)

    def _rescale_steps(
        self,
        immediate: bool,
        new_paused: bool | None,
        new_instance_type: str | None,
        new_reader_count: int | None,
        new_serverless_v2_capacity: tuple[float, float] | None,
        after_pending: bool,
        new_seconds_until_auto_pause: int | None = None,
        instance_settings: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        if new_instance_type is not None:
            validate_aurora_instance_class(new_instance_type, field="new_instance_type")
        if new_reader_count is not None:
            validate_reader_count(new_reader_count, field="new_reader_count")
        if new_serverless_v2_capacity is not None:
            if not isinstance(new_serverless_v2_capacity, (tuple, list)) or len(new_serverless_v2_capacity) != 2:
                raise InvalidRequest(
                    "new_serverless_v2_capacity must be a (min, max) pair of ACUs",
                    field="new_serverless_v2_capacity",
                )
            validate_serverless_v2_capacity(
                new_serverless_v2_capacity[0],
                new_serverless_v2_capacity[1],
                instance_class=AURORA_SERVERLESS_INSTANCE_CLASS,
                min_field="new_serverless_v2_capacity[0]",
                max_field="new_serverless_v2_capacity[1]",
            )
        if new_seconds_until_auto_pause is not None:
            seconds = new_seconds_until_auto_pause
            if isinstance(seconds, bool) or not isinstance(seconds, int) or not 300 <= seconds <= 86400:
                raise InvalidRequest(
                    "new_seconds_until_auto_pause must be a whole number of seconds from 300 to 86400, "
                    f"got {seconds!r}",
                    field="new_seconds_until_auto_pause",
                )
            if new_serverless_v2_capacity is None or float(new_serverless_v2_capacity[0]) != 0:
                raise InvalidRequest(
                    "new_seconds_until_auto_pause applies only with a Serverless v2 minimum capacity of 0 ACU",
                    field="new_seconds_until_auto_pause",
                )
        request = {
            "instance_class": new_instance_type,
            "reader_count": new_reader_count,
            "acu": list(new_serverless_v2_capacity) if new_serverless_v2_capacity else None,
            "auto_pause_seconds": new_seconds_until_auto_pause,
            "paused": new_paused,
            "immediate": immediate,
            "instance_settings": None if instance_settings is None else dict(instance_settings),
        }
        c = self._describe()
        steps: list[dict[str, Any]]
        if c["Status"] not in _SETTLED:
            if not after_pending:
                raise InvalidState(
                    f"Aurora cluster '{self._name}' is '{c['Status']}'; wait until it is available or "
                    "stopped before changing it"
                )
            steps = [{"action": "wait_settled"}, {"action": "replan", **request}]
        else:
            steps = plan_rescale(self._client, c, request)
        parts = []
        if new_instance_type:
            parts.append(f"instance class {new_instance_type}")
        if new_reader_count is not None:
            parts.append(f"{new_reader_count} readers")
        if new_serverless_v2_capacity:
            parts.append(f"{new_serverless_v2_capacity[0]:g}-{new_serverless_v2_capacity[1]:g} ACUs")
        if new_paused is not None:
            parts.append("stopped" if new_paused else "started")
        return steps, f"rescale Aurora cluster '{self._name}' to {', '.join(parts) or 'no change'}"

    def modify_settings(
        self,
        *,
        apply_immediately: bool = True,
        new_paused: bool | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        after_pending: bool = False,
        instance_settings: dict[str, Any] | None = None,
        reboot: bool = False,
        **params: Any,
    ) -> Operation:
        """Apply ``ModifyDBCluster`` parameters (AWS names, e.g. ``BackupRetentionPeriod``).

        AWS refuses ModifyDBCluster on a stopped (or starting, stopping, modifying) cluster, so this
        is an operation: a stopped cluster is started, the operation waits until the cluster and
        every instance are available, applies the settings, waits again, then stops the cluster
        again. The stopped state at the end is ``new_paused`` (None, the default: the state the
        cluster was in). Settings already in effect are not sent again. With
        ``apply_immediately=False`` AWS applies what it can defer in the maintenance window.
        ``wait``, ``timeout_minutes`` (default 60) and ``after_pending`` as for
        :meth:`RedshiftProvisioning.modify_settings`. Returns the operation (dbscale 0.1.0
        returned None as soon as AWS accepted the call). An ``EngineVersion`` the cluster already
        satisfies (its own, or its major) is no change; another major is resolved like at create time.

        ``instance_settings`` (ModifyDBInstance parameters, see :mod:`dbscale.core.aurora.settings`)
        are applied to every instance that lacks them. ``reboot`` (default False) reboots each
        instance whose parameter group change waits for a reboot (``pending-reboot``), readers first;
        without it those changes wait for the next reboot.
        """
        validate_flag(apply_immediately, field="apply_immediately")
        if params.get("EngineVersion") is not None:
            running = self._describe()
            if satisfies(running["Engine"], params["EngineVersion"], running["EngineVersion"]):
                params = {k: v for k, v in params.items() if k != "EngineVersion"}
            else:
                params["EngineVersion"] = resolve_engine_version(
                    self._client, running["Engine"], params["EngineVersion"]
                )
        return self._modify(
            _FORBIDDEN_OPTIONS | (_RESERVED_OPTIONS - {"EngineVersion"}),
            params,
            new_paused=new_paused,
            wait=wait,
            timeout_minutes=timeout_minutes,
            after_pending=after_pending,
            step_fields={
                "apply_immediately": apply_immediately,
                **({"instance_settings": dict(instance_settings)} if instance_settings else {}),
                **({"reboot": True} if reboot else {}),
            },
        )

    def set_http_endpoint(self, enabled: bool) -> None:
        """Turn the RDS Data API (the cluster's HTTP endpoint) on or off (EnableHttpEndpoint /
        DisableHttpEndpoint: Serverless v2 and provisioned clusters of engine versions that support it)."""
        arn = self._describe()["DBClusterArn"]
        with aws_errors(f"{'enable' if enabled else 'disable'} the Data API of Aurora cluster '{self._name}'"):
            if enabled:
                self._client.enable_http_endpoint(ResourceArn=arn)
            else:
                self._client.disable_http_endpoint(ResourceArn=arn)

    def set_auto_pause(
        self, seconds: int, *, capacity: tuple[float, float] | None = None, apply_immediately: bool = True
    ) -> None:
        """Set how long (300-86400 s) a 0-ACU-minimum Serverless v2 cluster idles before it pauses.

        ``capacity``: the (min, max) ACU range to send with it. Default None: the cluster's current one.
        """
        current = self._describe().get("ServerlessV2ScalingConfiguration") or {}
        config = {"MinCapacity": capacity[0], "MaxCapacity": capacity[1]} if capacity else current
        checked = validate_auto_pause(seconds, config.get("MinCapacity"), field="seconds", min_field="MinCapacity")
        with aws_errors(f"set the auto-pause delay of Aurora cluster '{self._name}'"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=self._name,
                ServerlessV2ScalingConfiguration={
                    "MinCapacity": config["MinCapacity"],
                    "MaxCapacity": config["MaxCapacity"],
                    "SecondsUntilAutoPause": checked,
                },
                ApplyImmediately=apply_immediately,
            )

    def _arn(self, cluster: dict[str, Any]) -> str:
        return str(cluster["DBClusterArn"])

    def _check_deletable(self, cluster: dict[str, Any]) -> None:
        if cluster.get("DeletionProtection"):
            raise DeletionProtected(
                f"Aurora cluster '{self._name}' has deletion protection on, so nothing was deleted; turn it off "
                "first (ModifyDBCluster DeletionProtection=false)"
            )

    def _delete_steps(self, snapshot: str | None) -> list[dict[str, Any]]:
        # AWS takes the final snapshot in DeleteDBCluster, which it accepts only once the instances
        # are gone: check that the snapshot can be made before any instance is deleted.
        check = [{"action": "check_final_snapshot", "final_snapshot": snapshot}] if snapshot else []
        return [
            *check,
            {"action": "delete_instances"},
            {"action": "delete_cluster", "final_snapshot": snapshot},
            {"action": "wait_deleted"},
        ]


def _restore_call(
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
