"""Redshift provisioned clusters: get-or-create, rescale (elastic or classic), pause, resume, delete.

:class:`RedshiftProvisioning` adopts (:meth:`~RedshiftProvisioning.open`) or creates
(:meth:`~RedshiftProvisioning.create`) a cluster here; reading it is in ``state``, changing it in ``changes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..errors import InvalidRequest
from ..limits import REDSHIFT_DEFAULT_PORT, REDSHIFT_RESIZE_TYPES
from ..operation import Operation
from ..provisioning import ConnectionInfo
from ..validation import validate_flag, validate_positive_number, validate_redshift_nodes
from .changes import IAM_SETTINGS, LOGGING_SETTING, RedshiftChanges

if TYPE_CHECKING:
    import boto3

RESIZE_TYPES = REDSHIFT_RESIZE_TYPES
# Names of this module before the class was split by concept (state, changes, create).
__all__ = ["IAM_SETTINGS", "LOGGING_SETTING", "RESIZE_TYPES", "ConnectionInfo", "RedshiftProvisioning"]
# What RestoreFromClusterSnapshot takes from the snapshot instead of from the request.
_NOT_RESTORE_OPTIONS = frozenset({"DBName", "MasterUsername", "Tags"})
_RESTORE_KEYS = frozenset({"SnapshotIdentifier", "SnapshotClusterIdentifier", "OwnerAccount"})
_CREATE_DEFAULTS: dict[str, Any] = {
    "MasterUsername": "admin",
    "DBName": "dev",
    "Encrypted": True,
    "PubliclyAccessible": False,
    "Port": REDSHIFT_DEFAULT_PORT,
}


class RedshiftProvisioning(RedshiftChanges):
    """A Redshift provisioned cluster: adopted when it exists, created when it does not.

    The constructor is the seed's get-or-create: it adopts the cluster like :meth:`open` and, when it
    is missing, creates it like :meth:`create` given ``initial_instance_type``/``initial_cluster_size``
    (without them a missing cluster raises :class:`ClusterNotFound`). One Describe call decides; the
    arguments are checked before any AWS call.
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        initial_instance_type: str | None = None,
        initial_cluster_size: int | None = None,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        restore_from: dict[str, str] | None = None,
        logging_properties: dict[str, Any] | None = None,
        **create_options: Any,
    ) -> None:
        self._bind(cluster_name, session, clock)
        validate_flag(wait, field="wait")
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        create = None
        if initial_instance_type is not None or initial_cluster_size is not None:
            create = self._prepare_create(
                initial_instance_type,
                initial_cluster_size,
                wait=wait,
                timeout_minutes=timeout_minutes,
                restore_from=restore_from,
                logging_properties=logging_properties,
                create_options=create_options,
            )
        self._open_or_create(create, "pass initial_instance_type and initial_cluster_size to create it")

    @classmethod
    def create(
        cls,
        cluster_name: str,
        *,
        initial_instance_type: str,
        initial_cluster_size: int,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        restore_from: dict[str, str] | None = None,
        logging_properties: dict[str, Any] | None = None,
        **create_options: Any,
    ) -> RedshiftProvisioning:
        """Create the cluster (CreateCluster, or RestoreFromClusterSnapshot given ``restore_from``), with
        no Describe call first; a retried create of this very cluster (same tags) carries on.

        ``create_options`` are extra ``CreateCluster`` parameters in AWS's own names
        (``ClusterSubnetGroupName``, ``VpcSecurityGroupIds``, ``KmsKeyId``, ``Tags`` ...). Defaults:
        database ``dev``, user ``admin``, encrypted, not publicly accessible, port 5439, master password
        generated and kept by AWS in Secrets Manager. ``wait`` (default True) waits for the cluster to
        become available, at most ``timeout_minutes`` (default 60); with ``wait=False`` the creation is
        left in ``pending_operation``. A cluster of that name made by someone else raises
        :class:`ClusterAlreadyExists`.
        """
        made = cls._unopened(cluster_name, session, clock)
        validate_flag(wait, field="wait")
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        made._prepare_create(
            initial_instance_type,
            initial_cluster_size,
            wait=wait,
            timeout_minutes=timeout_minutes,
            restore_from=restore_from,
            logging_properties=logging_properties,
            create_options=create_options,
        )()
        return made

    def _prepare_create(
        self,
        initial_instance_type: str | None,
        initial_cluster_size: int | None,
        *,
        wait: bool,
        timeout_minutes: float,
        restore_from: dict[str, str] | None,
        logging_properties: dict[str, Any] | None,
        create_options: dict[str, Any],
    ) -> Callable[[], Operation]:
        """Check the create's arguments now (no AWS call); the returned function sends the create."""
        if initial_instance_type is None or initial_cluster_size is None:
            raise InvalidRequest(
                "pass both initial_instance_type and initial_cluster_size to create a cluster",
                field="initial_instance_type" if initial_instance_type is None else "initial_cluster_size",
            )
        validate_redshift_nodes(
            initial_instance_type,
            initial_cluster_size,
            node_type_field="initial_instance_type",
            count_field="initial_cluster_size",
        )
        options = self._create_options(create_options, _CREATE_DEFAULTS)
        steps: list[dict[str, Any]] = [{"action": "wait_available"}]
        if logging_properties is not None:
            steps.append(
                {"action": "apply_settings", "settings": {LOGGING_SETTING: logging_properties}, "paused": None}
            )
        if restore_from:
            return self._prepare_restore(restore_from, options, steps, wait, timeout_minutes)
        params = {
            "ClusterIdentifier": self._name,
            "NodeType": initial_instance_type,
            "NumberOfNodes": initial_cluster_size,
            "ClusterType": "single-node" if initial_cluster_size == 1 else "multi-node",
            **options,
        }
        description = f"create Redshift cluster '{self._name}' ({initial_cluster_size} x {initial_instance_type})"
        return lambda: self._create(self._client.create_cluster, params, steps, description, wait, timeout_minutes)

    def _prepare_restore(
        self,
        restore_from: dict[str, str],
        options: dict[str, Any],
        steps: list[dict[str, Any]],
        wait: bool,
        timeout_minutes: float,
    ) -> Callable[[], Operation]:
        """RestoreFromClusterSnapshot with ``options``, then dbscale's tags at once (the call takes
        none). The snapshot decides the database, the admin user and the first shape; the caller's
        rescale then brings the cluster to the declared size."""
        tags = options["Tags"]
        params = {k: v for k, v in options.items() if k not in _NOT_RESTORE_OPTIONS}

        def restore(**call: Any) -> None:
            self._client.restore_from_cluster_snapshot(**{k: v for k, v in call.items() if k != "Tags"})
            self._client.create_tags(ResourceName=self._arn({}), Tags=tags)

        def send() -> Operation:
            # Checked only when the cluster is missing: an adopted cluster ignores restore_from.
            unknown = sorted(set(restore_from) - _RESTORE_KEYS)
            if unknown or "SnapshotIdentifier" not in restore_from:
                raise InvalidRequest(
                    "restore_from takes SnapshotIdentifier (required), SnapshotClusterIdentifier and OwnerAccount, "
                    f"got {', '.join(sorted(restore_from))}",
                    field="restore_from",
                )
            snapshot = restore_from["SnapshotIdentifier"]
            call = {"ClusterIdentifier": self._name, **restore_from, **params, "Tags": tags}
            description = f"restore Redshift cluster '{self._name}' from snapshot '{snapshot}'"
            return self._create(restore, call, steps, description, wait, timeout_minutes)

        return send

    def _delete_steps(self, snapshot: str | None) -> list[dict[str, Any]]:
        return [{"action": "delete", "final_snapshot": snapshot}, {"action": "wait_deleted"}]
