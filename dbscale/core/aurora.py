"""Aurora clusters (PostgreSQL and MySQL, provisioned or Serverless v2): get-or-create, rolling
instance-class changes, readers, ACU range, stop/start, delete."""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from .aurora_settings import (
    check_auto_pause_version,
    for_instance_class,
    instance_settings_differ,
    instance_settings_of,
)
from .aws import InstanceAlreadyExists, aws_errors, tag_dict, tag_list
from .clock import Clock
from .engine_versions import resolve_engine_version, satisfies
from .errors import ClusterNotFound, DeletionProtected, InvalidRequest, InvalidState
from .limits import (
    AURORA_DEFAULT_MASTER_USERNAME,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    CREATED_BY_TAG_KEY,
)
from .operation import Operation, StepOutcome
from .plan import RescalePlan, aurora_plan
from .provisioning import ClusterProvisioning, ClusterSteps, describe_one
from .redshift import ConnectionInfo
from .validation import (
    validate_aurora_cluster,
    validate_aurora_instance_class,
    validate_auto_pause,
    validate_flag,
    validate_positive_number,
    validate_reader_count,
    validate_serverless_v2_capacity,
)

if TYPE_CHECKING:
    import boto3

# Cluster states a change may start from; anything else is an operation in flight.
_SETTLED = frozenset({"available", "stopped"})
# States where the cluster serves and accepts changes.
_USABLE = frozenset({"available", "backing-up"})
_BROKEN = frozenset(
    {
        "inaccessible-encryption-credentials",
        "inaccessible-encryption-credentials-recoverable",
        "incompatible-parameters",
        "incompatible-restore",
        "cloning-failed",
        "migration-failed",
        "failed",
        "incompatible-network",
        "incompatible-option-group",
        "storage-full",
    }
)
_RESERVED_OPTIONS = frozenset({"DBClusterIdentifier", "Engine", "EngineVersion", "ServerlessV2ScalingConfiguration"})
_FORBIDDEN_OPTIONS = frozenset({"MasterUserPassword", "ManageMasterUserPassword"})
# The cluster tags its instances inherit at create (dbscale.core.clones' clone-of and copy-of, named
# here because clones imports this module): the providers' IAM conditions on instances read them.
INSTANCE_KIND_TAG_KEYS: tuple[str, ...] = (CREATED_BY_TAG_KEY, "dbscale:clone-of", "dbscale:copy-of")
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
_INSTANCE_SUFFIX = re.compile(r"-(\d+)$")
# AWS's DB cluster snapshot identifier: 1-255 letters, digits or hyphens, starting with a letter.
_SNAPSHOT_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,254}")


def instance_identifier(cluster_name: str, number: int) -> str:
    """The identifier of the ``number``-th instance dbscale creates in a cluster: ``<cluster>-<n>``.

    The cluster part is shortened when needed so the result stays within 63 characters.
    """
    suffix = f"-{number}"
    base = cluster_name[: CLUSTER_IDENTIFIER_MAX_LENGTH - len(suffix)].rstrip("-")
    return base + suffix


def _next_numbers(cluster_name: str, existing: list[str], count: int) -> list[str]:
    used = {int(m.group(1)) for name in existing if (m := _INSTANCE_SUFFIX.search(name))}
    ids: list[str] = []
    number = 1
    while len(ids) < count:
        candidate = instance_identifier(cluster_name, number)
        if number not in used and candidate not in existing:
            ids.append(candidate)
        number += 1
    return ids


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
        return _acu(self._describe())

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
            f"serverless_v2_capacity={_acu(c)}, status={c['Status']!r}, adopted={not self._owned(c)})"
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
        :mod:`dbscale.core.aurora_settings`); None (default) gives them the writer's.

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

        ``instance_settings`` (ModifyDBInstance parameters, see :mod:`dbscale.core.aurora_settings`)
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


def _pending_reboot(cluster: dict[str, Any], instance: dict[str, Any]) -> bool:
    """True when a parameter group change of ``instance`` (its own or its cluster's) waits for a reboot."""
    member: dict[str, Any] = next(
        (
            m
            for m in cluster.get("DBClusterMembers", [])
            if m["DBInstanceIdentifier"] == instance["DBInstanceIdentifier"]
        ),
        {},
    )
    statuses = [g.get("ParameterApplyStatus") for g in instance.get("DBParameterGroups") or []]
    return "pending-reboot" in statuses or member.get("DBClusterParameterGroupStatus") == "pending-reboot"


def pending_reboot(rds: Any, cluster: dict[str, Any]) -> bool:
    """True when any instance of ``cluster`` waits for a reboot to apply a parameter group change."""
    pages = rds.get_paginator("describe_db_instances").paginate(
        Filters=[{"Name": "db-cluster-id", "Values": [cluster["DBClusterIdentifier"]]}]
    )
    return any(_pending_reboot(cluster, i) for page in pages for i in page["DBInstances"])


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


def _acu(cluster: dict[str, Any]) -> tuple[float, float] | None:
    config = cluster.get("ServerlessV2ScalingConfiguration")
    if not config or config.get("MaxCapacity") is None:
        return None
    return float(config.get("MinCapacity", 0)), float(config["MaxCapacity"])


def describe_db_cluster(rds: Any, cluster_name: str) -> dict[str, Any]:
    """DescribeDBClusters for one cluster; :class:`ClusterNotFound` when it does not exist."""
    return describe_one(
        f"Aurora cluster '{cluster_name}'",
        lambda: rds.describe_db_clusters(DBClusterIdentifier=cluster_name)["DBClusters"],
    )


def describe_db_instance(rds: Any, instance_id: str) -> dict[str, Any]:
    """DescribeDBInstances for one instance; :class:`ClusterNotFound` when it does not exist."""
    return describe_one(
        f"DB instance '{instance_id}'",
        lambda: rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"],
    )


def _members(rds: Any, cluster: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The writer instance (or None) and the reader instances, described."""
    writer = None
    readers = []
    for member in cluster.get("DBClusterMembers", []):
        instance = describe_db_instance(rds, member["DBInstanceIdentifier"])
        if member.get("IsClusterWriter"):
            writer = instance
        else:
            readers.append(instance)
    readers.sort(key=lambda i: i["DBInstanceIdentifier"])
    return writer, readers


def plan_rescale(rds: Any, cluster: dict[str, Any], request: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps that take a settled cluster to the requested shape (see ``RdsProvisioning.rescale``)."""
    name = cluster["DBClusterIdentifier"]
    engine = cluster["Engine"]
    writer, readers = _members(rds, cluster)
    current_class = writer["DBInstanceClass"] if writer else None
    target_class = request["instance_class"] or current_class
    target_readers = len(readers) if request["reader_count"] is None else request["reader_count"]
    immediate = request["immediate"]
    acu_now = _acu(cluster)
    target_acu = tuple(request["acu"]) if request["acu"] else acu_now
    if target_class == AURORA_SERVERLESS_INSTANCE_CLASS and target_acu is None:
        raise InvalidRequest(
            f"instance class {AURORA_SERVERLESS_INSTANCE_CLASS} needs a Serverless v2 capacity range; "
            "pass new_serverless_v2_capacity=(min, max)",
            field="new_serverless_v2_capacity",
        )
    settings = request.get("instance_settings")
    if settings is None:  # not declared: new instances get the writer's
        settings = instance_settings_of(writer) if writer else {}
    stopped_now = cluster["Status"] == "stopped"
    stopped_after = stopped_now if request["paused"] is None else request["paused"]
    changes: list[dict[str, Any]] = []
    pause_seconds = request.get("auto_pause_seconds")
    seconds_now = (cluster.get("ServerlessV2ScalingConfiguration") or {}).get("SecondsUntilAutoPause")
    if target_acu != acu_now or (pause_seconds is not None and pause_seconds != seconds_now):
        changes.append(
            {
                "action": "modify_cluster",
                "acu": list(target_acu) if target_acu else None,
                "apply_immediately": immediate,
                **({"auto_pause_seconds": pause_seconds} if pause_seconds is not None else {}),
            }
        )
        changes.append({"action": "wait_available"})
    kept = readers
    if target_readers < len(readers):
        kept = readers[:target_readers]
        for reader in readers[target_readers:]:
            changes.append({"action": "delete_instance", "instance_id": reader["DBInstanceIdentifier"]})
        changes.append({"action": "wait_available"})
    existing = [i["DBInstanceIdentifier"] for i in ([writer] if writer else []) + readers]
    new_ids = _next_numbers(name, existing, max(0, target_readers - len(readers)) + 1)
    for instance_id in new_ids[:-1]:
        changes.append(
            {
                "action": "create_instance",
                "instance_id": instance_id,
                "instance_class": target_class,
                "engine": engine,
                "promotion_tier": 1,
                "settings": settings,
            }
        )
    if target_readers > len(readers):
        changes.append({"action": "wait_available"})
    if target_class != current_class or writer is None:
        for reader in kept:
            if reader["DBInstanceClass"] != target_class:
                changes.append(
                    {
                        "action": "modify_instance",
                        "instance_id": reader["DBInstanceIdentifier"],
                        "instance_class": target_class,
                        "apply_immediately": immediate,
                    }
                )
                if immediate:
                    changes.append({"action": "wait_available"})
        if writer is None:
            changes.append(
                {
                    "action": "create_instance",
                    "instance_id": new_ids[-1],
                    "instance_class": target_class,
                    "engine": engine,
                    "promotion_tier": 0,
                    "settings": settings,
                }
            )
            changes.append({"action": "wait_available"})
        elif not immediate:
            changes.append(
                {
                    "action": "modify_instance",
                    "instance_id": writer["DBInstanceIdentifier"],
                    "instance_class": target_class,
                    "apply_immediately": False,
                }
            )
        else:
            old, new = writer["DBInstanceIdentifier"], new_ids[-1]
            changes += [
                {
                    "action": "create_instance",
                    "instance_id": new,
                    "instance_class": target_class,
                    "engine": engine,
                    "promotion_tier": 0,
                    "settings": settings,
                },
                {"action": "wait_available"},
                {"action": "failover", "instance_id": new},
                {"action": "wait_writer", "instance_id": new},
                {"action": "delete_instance", "instance_id": old},
                {"action": "wait_available"},
            ]
    steps: list[dict[str, Any]] = []
    if changes and stopped_now:
        steps += [{"action": "start"}, {"action": "wait_available"}]
    steps += changes
    if stopped_after and (changes or not stopped_now):
        steps += [{"action": "stop"}, {"action": "wait_stopped"}]
    elif stopped_now and not stopped_after and not changes:
        steps += [{"action": "start"}, {"action": "wait_available"}]
    return steps


class AuroraSteps(ClusterSteps):
    """Runs the steps of Aurora operations. Each step checks the cluster before acting."""

    _client_service = "rds"
    _service_label = "Aurora"
    _fields_as_arguments = False
    _status_key = "Status"
    _settled = _SETTLED
    _paused_status = "stopped"
    _resume_steps = ("start", "wait_available")
    _pause_steps = ("stop", "wait_stopped")
    _modifiable = _USABLE
    _setting_readers = {
        "EnableIAMDatabaseAuthentication": "IAMDatabaseAuthenticationEnabled",
        # The declared list of exports; sent as a CloudwatchLogsExportConfiguration (see _send_settings).
        "EnableCloudwatchLogsExports": lambda c: sorted(c.get("EnabledCloudwatchLogsExports") or []),
        "DBClusterParameterGroupName": "DBClusterParameterGroup",
        "VpcSecurityGroupIds": lambda c: [g["VpcSecurityGroupId"] for g in c.get("VpcSecurityGroups", [])],
    }

    def _cluster(self, name: str) -> dict[str, Any]:
        return describe_db_cluster(self._client, name)

    def _send_settings(self, name: str, settings: dict[str, Any], step: dict[str, Any]) -> None:
        if "EnableCloudwatchLogsExports" in settings:
            settings = dict(settings)
            wanted = set(settings.pop("EnableCloudwatchLogsExports") or [])
            current = set(self._cluster(name).get("EnabledCloudwatchLogsExports") or [])
            settings["CloudwatchLogsExportConfiguration"] = {
                "EnableLogTypes": sorted(wanted - current),
                "DisableLogTypes": sorted(current - wanted),
            }
        with aws_errors(f"modify Aurora cluster '{name}'"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=name, ApplyImmediately=step.get("apply_immediately", True), **settings
            )

    def _instances(self, name: str) -> list[dict[str, Any]]:
        with aws_errors(f"describe the instances of Aurora cluster '{name}'"):
            pages = self._client.get_paginator("describe_db_instances").paginate(
                Filters=[{"Name": "db-cluster-id", "Values": [name]}]
            )
            return [i for page in pages for i in page["DBInstances"]]

    @staticmethod
    def _broken(status: str, what: str) -> StepOutcome | None:
        if status in _BROKEN:
            return StepOutcome.fail(f"{what} is '{status}' and needs attention in the RDS console")
        return None

    def _cluster_broken(self, name: str, cluster: dict[str, Any]) -> StepOutcome | None:
        return self._broken(cluster["Status"], f"cluster '{name}'")

    def _replan(self, name: str, step: dict[str, Any]) -> StepOutcome:
        # The plan could not be made while another operation ran: make it now and run it inline.
        request = {k: step[k] for k in ("instance_class", "reader_count", "acu", "paused", "immediate")}
        request["auto_pause_seconds"] = step.get("auto_pause_seconds")
        request["instance_settings"] = step.get("instance_settings")
        planned = plan_rescale(self._client, self._cluster(name), request)
        step.clear()
        step.update({"action": "planned", "steps": planned})
        return self._planned(name, step)

    def _wait_available(self, name: str, step: dict[str, Any]) -> StepOutcome:
        """The cluster and every instance in it are available (deleted instances gone)."""
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        if c["Status"] not in _USABLE:
            return StepOutcome.wait(f"cluster is '{c['Status']}', waiting for 'available'")
        for instance in self._instances(name):
            status = instance["DBInstanceStatus"]
            what = f"instance '{instance['DBInstanceIdentifier']}'"
            if (broken := self._broken(status, what)) is not None:
                return broken
            if status not in _USABLE:
                return StepOutcome.wait(f"{what} is '{status}', waiting for 'available'")
        return StepOutcome.next()

    def _wait_stopped(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["Status"] == "stopped":
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['Status']}', waiting for 'stopped'")

    def _start(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["Status"] == "stopped":
            with aws_errors(f"start Aurora cluster '{name}'"):
                self._client.start_db_cluster(DBClusterIdentifier=name)
        elif c["Status"] == "stopping":
            return StepOutcome.wait("waiting for 'stopping' to finish before starting")
        return StepOutcome.next()

    def _stop(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if c["Status"] in ("stopped", "stopping"):
            return StepOutcome.next()
        if c["Status"] != "available":
            return StepOutcome.wait(f"waiting for '{c['Status']}' to finish before stopping")
        with aws_errors(f"stop Aurora cluster '{name}'"):
            self._client.stop_db_cluster(DBClusterIdentifier=name)
        return StepOutcome.next()

    def _modify_cluster(self, name: str, step: dict[str, Any]) -> StepOutcome:
        acu = step["acu"]
        seconds = step.get("auto_pause_seconds")
        cluster = self._cluster(name)
        seconds_now = (cluster.get("ServerlessV2ScalingConfiguration") or {}).get("SecondsUntilAutoPause")
        if acu is None or (_acu(cluster) == tuple(acu) and (seconds is None or seconds == seconds_now)):
            return StepOutcome.next()
        config: dict[str, Any] = {"MinCapacity": acu[0], "MaxCapacity": acu[1]}
        # Keep the running auto-pause delay across a range change unless a new one is asked for (it
        # only applies at a 0-ACU minimum).
        if seconds is None and seconds_now is not None and acu[0] == 0:
            seconds = seconds_now
        if seconds is not None:
            config["SecondsUntilAutoPause"] = seconds
        with aws_errors(f"change the ACU range of Aurora cluster '{name}'"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=name,
                ServerlessV2ScalingConfiguration=config,
                ApplyImmediately=step["apply_immediately"],
            )
        return StepOutcome.next()

    def _create_instance(self, name: str, step: dict[str, Any]) -> StepOutcome:
        instance_id = step["instance_id"]
        try:
            describe_db_instance(self._client, instance_id)
            return StepOutcome.next()  # created by an earlier, interrupted poll
        except ClusterNotFound:
            pass
        # The instance carries its cluster's kind tags: the providers' IAM conditions read them.
        cluster_tags = tag_dict(self._cluster(name).get("TagList"))
        kind = {key: cluster_tags[key] for key in INSTANCE_KIND_TAG_KEYS if key in cluster_tags}
        settings = for_instance_class(step.get("settings") or {}, step["engine"], step["instance_class"])
        with (
            contextlib.suppress(InstanceAlreadyExists),
            aws_errors(f"add instance '{instance_id}' to Aurora cluster '{name}'"),
        ):
            self._client.create_db_instance(
                DBInstanceIdentifier=instance_id,
                DBClusterIdentifier=name,
                DBInstanceClass=step["instance_class"],
                Engine=step["engine"],
                PromotionTier=step["promotion_tier"],
                PubliclyAccessible=False,
                **settings,
                **({"Tags": tag_list(kind)} if kind else {}),
            )
        return StepOutcome.next()

    def _protect(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if self._cluster(name).get("DeletionProtection"):
            return StepOutcome.next()
        with aws_errors(f"turn on deletion protection of Aurora cluster '{name}'"):
            self._client.modify_db_cluster(DBClusterIdentifier=name, DeletionProtection=True, ApplyImmediately=True)
        return StepOutcome.next()

    def _after_restore(self, name: str, step: dict[str, Any]) -> StepOutcome:
        # A restored cluster has no managed master secret of its own (it keeps the source's
        # password) and takes backup and maintenance settings only through ModifyDBCluster.
        c = self._cluster(name)
        if c["Status"] not in _USABLE:
            return StepOutcome.wait(f"cluster is '{c['Status']}', waiting to apply the settings a restore cannot take")
        settings = dict(step["settings"])
        if c.get("MasterUserSecret"):
            settings = {
                k: v for k, v in settings.items() if k not in ("ManageMasterUserPassword", "MasterUserSecretKmsKeyId")
            }
        if settings:
            with aws_errors(f"apply the settings of restored Aurora cluster '{name}'"):
                self._client.modify_db_cluster(DBClusterIdentifier=name, ApplyImmediately=True, **settings)
        step["settings"] = {}
        return StepOutcome.next()

    def _settings_changes(self, name: str, cluster: dict[str, Any], step: dict[str, Any]) -> list[dict[str, Any]]:
        changes = super()._settings_changes(name, cluster, step)
        extra = {k: v for k, v in step.items() if k in ("apply_immediately",)}
        wanted = step.get("instance_settings")
        instances = self._instances(name) if wanted or step.get("reboot") else []
        if wanted and any(instance_settings_differ(i, wanted, cluster["Engine"]) for i in instances):
            changes += [
                {"action": "wait_available"},
                {"action": "modify_instances", "settings": wanted, **extra},
                {"action": "wait_available"},
            ]
        if step.get("reboot") and (changes or any(_pending_reboot(cluster, i) for i in instances)):
            changes += [{"action": "reboot_pending"}, {"action": "wait_available"}]
        return changes

    def _modify_instances(self, name: str, step: dict[str, Any]) -> StepOutcome:
        engine = self._cluster(name)["Engine"]
        for instance in self._instances(name):
            differ = instance_settings_differ(instance, step["settings"], engine)
            if not differ:
                continue
            if instance["DBInstanceStatus"] not in _USABLE:
                return StepOutcome.wait(
                    f"instance '{instance['DBInstanceIdentifier']}' is '{instance['DBInstanceStatus']}'"
                )
            with aws_errors(f"change the settings of instance '{instance['DBInstanceIdentifier']}'"):
                self._client.modify_db_instance(
                    DBInstanceIdentifier=instance["DBInstanceIdentifier"],
                    ApplyImmediately=step.get("apply_immediately", True),
                    **differ,
                )
        return StepOutcome.next()

    def _reboot_pending(self, name: str, step: dict[str, Any]) -> StepOutcome:
        # One instance per poll, readers first, each once available again: the cluster keeps serving.
        cluster = self._cluster(name)
        writer = next(
            (m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None
        )
        instances = sorted(self._instances(name), key=lambda i: i["DBInstanceIdentifier"] == writer)
        for instance in instances:
            if instance["DBInstanceStatus"] not in _USABLE:
                return StepOutcome.wait(
                    f"instance '{instance['DBInstanceIdentifier']}' is '{instance['DBInstanceStatus']}'"
                )
        for instance in instances:
            if _pending_reboot(cluster, instance):
                with aws_errors(f"reboot instance '{instance['DBInstanceIdentifier']}'"):
                    self._client.reboot_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
                return StepOutcome.wait(f"rebooted '{instance['DBInstanceIdentifier']}' to apply its parameter groups")
        return StepOutcome.next()

    def _modify_instance(self, name: str, step: dict[str, Any]) -> StepOutcome:
        instance = describe_db_instance(self._client, step["instance_id"])
        pending = (instance.get("PendingModifiedValues") or {}).get("DBInstanceClass")
        if step["instance_class"] in (instance["DBInstanceClass"], pending):
            return StepOutcome.next()
        with aws_errors(f"change the class of instance '{step['instance_id']}'"):
            self._client.modify_db_instance(
                DBInstanceIdentifier=step["instance_id"],
                DBInstanceClass=step["instance_class"],
                ApplyImmediately=step["apply_immediately"],
            )
        return StepOutcome.next()

    def _failover(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        writer = next((m for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
        if writer and writer["DBInstanceIdentifier"] == step["instance_id"]:
            return StepOutcome.next()
        if c["Status"] == "failing-over":
            return StepOutcome.next()
        with aws_errors(f"fail Aurora cluster '{name}' over to '{step['instance_id']}'"):
            self._client.failover_db_cluster(DBClusterIdentifier=name, TargetDBInstanceIdentifier=step["instance_id"])
        return StepOutcome.next()

    def _wait_writer(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        writer = next((m for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
        if c["Status"] in _USABLE and writer and writer["DBInstanceIdentifier"] == step["instance_id"]:
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c['Status']}', waiting for '{step['instance_id']}' to become the writer")

    def _delete_instance(self, name: str, step: dict[str, Any]) -> StepOutcome:
        try:
            instance = describe_db_instance(self._client, step["instance_id"])
        except ClusterNotFound:
            return StepOutcome.next()
        if instance["DBInstanceStatus"] == "deleting":
            return StepOutcome.next()
        c = self._cluster(name)
        writer = next((m for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
        if writer and writer["DBInstanceIdentifier"] == step["instance_id"] and len(c["DBClusterMembers"]) > 1:
            # Never delete the serving writer of a cluster that has others: that would force an
            # unplanned failover. Wait for the planned one to land.
            return StepOutcome.wait(f"'{step['instance_id']}' is still the writer; waiting for the failover")
        with aws_errors(f"delete instance '{step['instance_id']}'"):
            self._client.delete_db_instance(DBInstanceIdentifier=step["instance_id"])
        return StepOutcome.next()

    def _check_final_snapshot(self, name: str, step: dict[str, Any]) -> StepOutcome:
        snapshot = step["final_snapshot"]
        if (c := self._cluster_if_exists(name)) is None or c["Status"] == "deleting":
            return StepOutcome.next()
        if not _SNAPSHOT_IDENTIFIER.fullmatch(snapshot) or "--" in snapshot or snapshot.endswith("-"):
            return StepOutcome.fail(
                f"'{snapshot}' is not a valid DB cluster snapshot identifier (1-255 letters, digits or hyphens, "
                "starting with a letter, without two hyphens in a row or a hyphen at the end); nothing was deleted"
            )
        try:
            with aws_errors(f"look up DB cluster snapshot '{snapshot}'"):
                found = self._client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)[
                    "DBClusterSnapshots"
                ]
        except ClusterNotFound:
            found = []
        if found:
            return StepOutcome.fail(
                f"a DB cluster snapshot named '{snapshot}' already exists (of cluster "
                f"'{found[0].get('DBClusterIdentifier')}'), so the final snapshot cannot be taken; nothing was "
                "deleted. Delete or rename that snapshot, or choose another final snapshot name"
            )
        return StepOutcome.next()

    def _delete_instances(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if (c := self._cluster_if_exists(name)) is None:
            return StepOutcome.next()
        if c["Status"] == "stopped":
            # Instances of a stopped cluster cannot be deleted; start it so the delete can run.
            with aws_errors(f"start Aurora cluster '{name}' to delete it"):
                self._client.start_db_cluster(DBClusterIdentifier=name)
            return StepOutcome.wait("starting the stopped cluster so that it can be deleted")
        if c["Status"] in ("starting", "stopping"):
            return StepOutcome.wait(f"cluster is '{c['Status']}', waiting before deleting its instances")
        for instance in self._instances(name):
            if instance["DBInstanceStatus"] != "deleting":
                with aws_errors(f"delete instance '{instance['DBInstanceIdentifier']}'"):
                    self._client.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
        return StepOutcome.next()

    def _delete_cluster(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if (c := self._cluster_if_exists(name)) is None:
            return StepOutcome.next()
        if c["Status"] == "deleting":
            return StepOutcome.next()
        if self._instances(name):
            return StepOutcome.wait("waiting for the cluster's instances to be deleted")
        kwargs: dict[str, Any] = {"DBClusterIdentifier": name}
        if step["final_snapshot"]:
            kwargs["FinalDBSnapshotIdentifier"] = step["final_snapshot"]
        else:
            kwargs["SkipFinalSnapshot"] = True
        with aws_errors(f"delete Aurora cluster '{name}'"):
            self._client.delete_db_cluster(**kwargs)
        return StepOutcome.next()
