"""Aurora clusters (PostgreSQL and MySQL, provisioned or Serverless v2): get-or-create, rolling
instance-class changes, readers, ACU range, stop/start, delete: :class:`RdsProvisioning`.

:class:`RdsProvisioning` adopts (:meth:`~RdsProvisioning.open`) or creates (:meth:`~RdsProvisioning.create`)
a cluster here, and deletes it; reading it is in ``state``, changing it in ``changes``, the create call in ``create``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..errors import DeletionProtected
from ..limits import AURORA_DEFAULT_MASTER_USERNAME
from ..operation import Operation
from ..validation import validate_aurora_cluster, validate_auto_pause, validate_flag, validate_positive_number
from .changes import AuroraChanges
from .create import AuroraCreate, create_call

if TYPE_CHECKING:
    import boto3


class RdsProvisioning(AuroraChanges):
    """An Aurora DB cluster with a writer instance and ``reader_count`` readers.

    The constructor is the seed's get-or-create: it adopts the cluster like :meth:`open` and, when it
    is missing, creates it like :meth:`create` given ``initial_instance_type`` (without it a missing
    cluster raises :class:`ClusterNotFound`). One Describe call decides; the arguments are checked
    before any AWS call.
    """

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
        self._bind(cluster_name, session, clock)
        validate_flag(wait, field="wait")
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        create = None
        if initial_instance_type is not None:
            request = self._create_request(
                initial_instance_type,
                engine,
                engine_version,
                reader_count,
                (serverless_v2_min_acu, serverless_v2_max_acu, serverless_v2_seconds_until_auto_pause),
                instance_settings,
                restore,
                create_options,
            )
            create = self._sender(request, wait, timeout_minutes)
        self._open_or_create(create, "pass initial_instance_type to create it")

    @classmethod
    def create(
        cls,
        cluster_name: str,
        *,
        initial_instance_type: str,
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
    ) -> RdsProvisioning:
        """Create the cluster and its writer and readers (CreateDBCluster, or a restore given
        ``restore``), with no Describe call of the cluster first; a retried create of this very
        cluster (same tags) carries on, one made by someone else raises :class:`ClusterAlreadyExists`.

        ``initial_instance_type="db.serverless"`` makes a Serverless v2 cluster with
        ``serverless_v2_min_acu``..``serverless_v2_max_acu`` ACUs (min may be 0 for auto-pause).
        ``create_options`` are extra ``CreateDBCluster`` parameters in AWS's names
        (``DBSubnetGroupName``, ``VpcSecurityGroupIds``, ``KmsKeyId``, ``DatabaseName``, ``Tags`` ...).
        Defaults: master user ``postgres`` (PostgreSQL) or ``admin`` (MySQL), password generated and
        kept by AWS in Secrets Manager, storage encrypted, tags copied to snapshots, 7 days of
        backups. ``wait`` (default True) waits for the cluster and its instances, at most
        ``timeout_minutes`` (default 60); with ``wait=False`` the creation is left in
        ``pending_operation``.
        """
        made = cls._unopened(cluster_name, session, clock)
        validate_flag(wait, field="wait")
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        request = made._create_request(
            initial_instance_type,
            engine,
            engine_version,
            reader_count,
            (serverless_v2_min_acu, serverless_v2_max_acu, serverless_v2_seconds_until_auto_pause),
            instance_settings,
            restore,
            create_options,
        )
        made._sender(request, wait, timeout_minutes)()
        return made

    def _create_request(
        self,
        instance_class: str,
        engine: str,
        engine_version: str | None,
        reader_count: int,
        serverless_v2: tuple[float | None, float | None, int | None],
        instance_settings: dict[str, Any] | None,
        restore: dict[str, Any] | None,
        create_options: dict[str, Any],
    ) -> AuroraCreate:
        """The create's arguments, checked without any AWS call; ``serverless_v2`` is (min ACU, max ACU,
        seconds until auto-pause)."""
        min_acu, max_acu, seconds = serverless_v2
        auto_pause = validate_auto_pause(seconds, min_acu)
        engine, instance_class, readers, acu = validate_aurora_cluster(
            engine=engine,
            instance_class=instance_class,
            reader_count=reader_count,
            serverless_v2_min_acu=min_acu,
            serverless_v2_max_acu=max_acu,
            fields={"instance_class": "initial_instance_type"},
        )
        defaults = {
            "MasterUsername": AURORA_DEFAULT_MASTER_USERNAME[engine],
            "StorageEncrypted": True,
            "CopyTagsToSnapshot": True,
            "BackupRetentionPeriod": 7,
        }
        options = self._create_options(create_options, defaults)
        settings = dict(instance_settings or {})
        return AuroraCreate(
            engine, engine_version, instance_class, readers, acu, auto_pause, options, settings, restore
        )

    def _sender(self, request: AuroraCreate, wait: bool, timeout_minutes: float) -> Callable[[], Operation]:
        """The function that sends the checked create ``request`` and starts its operation."""

        def send() -> Operation:
            call, params, steps, description = create_call(self._client, self._name, request)
            return self._create(call, params, steps, description, wait, timeout_minutes)

        return send

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
