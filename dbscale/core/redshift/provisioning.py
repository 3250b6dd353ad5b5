"""Redshift provisioned clusters: get-or-create, rescale (elastic or classic), pause, resume, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..errors import ClusterNotFound, InvalidRequest, InvalidState
from ..limits import (
    REDSHIFT_DEFAULT_PORT,
    REDSHIFT_RESIZE_TYPES,
)
from ..operation import Operation
from ..plan import RescalePlan, redshift_plan
from ..provisioning import ClusterProvisioning
from ..validation import (
    validate_flag,
    validate_positive_number,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_resize_type,
)
from .describe import SETTLED, cluster_arn, describe_cluster
from .rescale import plan_rescale

if TYPE_CHECKING:
    import boto3

RESIZE_TYPES = REDSHIFT_RESIZE_TYPES
# Create options dbscale sets itself or refuses (no password ever passes through dbscale).
_RESERVED_OPTIONS = frozenset({"ClusterIdentifier", "NodeType", "NumberOfNodes", "ClusterType"})
_FORBIDDEN_OPTIONS = frozenset({"MasterUserPassword", "ManageMasterPassword"})
# ModifyCluster parameters that are sent by other calls (ModifyClusterIamRoles, EnableLogging).
IAM_SETTINGS = frozenset({"IamRoles", "DefaultIamRoleArn"})
LOGGING_SETTING = "LoggingProperties"
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


@dataclass(frozen=True)
class ConnectionInfo:
    """How to reach a cluster. The password stays in Secrets Manager under ``secret_arn``."""

    host: str | None
    port: int | None
    database: str | None
    user: str | None
    secret_arn: str | None
    reader_host: str | None = None


class RedshiftProvisioning(ClusterProvisioning):
    """A Redshift provisioned cluster: adopted when it exists, created when it does not.

    ``initial_instance_type``/``initial_cluster_size`` are used only to create a missing cluster;
    without them a missing cluster raises :class:`ClusterNotFound`. ``create_options`` are extra
    ``CreateCluster`` parameters in AWS's own names (``ClusterSubnetGroupName``,
    ``VpcSecurityGroupIds``, ``KmsKeyId``, ``Tags`` ...). Defaults: database ``dev``, user
    ``admin``, encrypted, not publicly accessible, port 5439, master password generated and kept by
    AWS in Secrets Manager. ``wait`` (default True) waits for a new cluster to become available,
    at most ``timeout_minutes`` (default 60); with ``wait=False`` the creation is left in
    ``self.pending_operation``.
    """

    service = "redshift"
    _client_service = "redshift"
    _label = "Redshift cluster"
    _tags_key = "Tags"
    _already_exists_codes = frozenset({"ClusterAlreadyExists", "ClusterAlreadyExistsFault"})
    _reserved_options = _RESERVED_OPTIONS
    _forbidden_options = _FORBIDDEN_OPTIONS
    _managed_password_option = "ManageMasterPassword"
    _tagging_calls = ("create_tags", "delete_tags")
    _status_key = "ClusterStatus"
    _settled_states = SETTLED

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
        super().__init__(cluster_name, session, clock)
        validate_flag(wait, field="wait")
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        wants_create = initial_instance_type is not None or initial_cluster_size is not None
        if wants_create:
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
        if self._exists():
            return
        if not wants_create:
            raise ClusterNotFound(
                f"Redshift cluster '{cluster_name}' does not exist; pass initial_instance_type "
                "and initial_cluster_size to create it"
            )
        assert initial_instance_type is not None and initial_cluster_size is not None
        steps: list[dict[str, Any]] = [{"action": "wait_available"}]
        if logging_properties is not None:
            steps.append(
                {"action": "apply_settings", "settings": {LOGGING_SETTING: logging_properties}, "paused": None}
            )
        if restore_from:
            self._restore(restore_from, options, steps, wait, timeout_minutes)
            return
        self._create(
            self._client.create_cluster,
            {
                "ClusterIdentifier": cluster_name,
                "NodeType": initial_instance_type,
                "NumberOfNodes": initial_cluster_size,
                "ClusterType": "single-node" if initial_cluster_size == 1 else "multi-node",
                **options,
            },
            steps,
            f"create Redshift cluster '{cluster_name}' ({initial_cluster_size} x {initial_instance_type})",
            wait,
            timeout_minutes,
        )

    def _restore(
        self,
        restore_from: dict[str, str],
        options: dict[str, Any],
        steps: list[dict[str, Any]],
        wait: bool,
        timeout_minutes: float,
    ) -> None:
        """RestoreFromClusterSnapshot with ``options``, then dbscale's tags at once (the call takes
        none). The snapshot decides the database, the admin user and the first shape; the caller's
        rescale then brings the cluster to the declared size."""
        unknown = sorted(set(restore_from) - _RESTORE_KEYS)
        if unknown or "SnapshotIdentifier" not in restore_from:
            raise InvalidRequest(
                f"restore_from takes SnapshotIdentifier (required), SnapshotClusterIdentifier and OwnerAccount, got "
                f"{', '.join(sorted(restore_from))}",
                field="restore_from",
            )
        tags = options["Tags"]
        params = {k: v for k, v in options.items() if k not in _NOT_RESTORE_OPTIONS}

        def restore(**call: Any) -> None:
            self._client.restore_from_cluster_snapshot(**{k: v for k, v in call.items() if k != "Tags"})
            self._client.create_tags(ResourceName=self._arn({}), Tags=tags)

        self._create(
            restore,
            {"ClusterIdentifier": self._name, **restore_from, **params, "Tags": tags},
            steps,
            f"restore Redshift cluster '{self._name}' from snapshot '{restore_from['SnapshotIdentifier']}'",
            wait,
            timeout_minutes,
        )

    # --- state, read fresh from AWS -------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        return describe_cluster(self._client, self._name)

    @property
    def instance_type(self) -> str:
        """The node type, e.g. ``ra3.xlplus``."""
        return str(self._describe()["NodeType"])

    @property
    def cluster_size(self) -> int:
        """The number of nodes."""
        return int(self._describe()["NumberOfNodes"])

    @property
    def status(self) -> str:
        """AWS's ClusterStatus, e.g. ``available``, ``resizing``, ``paused``."""
        return str(self._describe()["ClusterStatus"])

    @property
    def paused(self) -> bool:
        """True when the cluster is paused (not while it is pausing)."""
        return self.status == "paused"

    def __repr__(self) -> str:
        try:
            c = self._describe()
        except Exception:  # a repr must not raise
            return f"RedshiftProvisioning(cluster_name={self._name!r})"
        return (
            f"RedshiftProvisioning(cluster_name={self._name!r}, instance_type={c['NodeType']!r}, "
            f"cluster_size={c['NumberOfNodes']}, status={c['ClusterStatus']!r}, "
            f"adopted={not self._owned(c)})"
        )

    def describe(self) -> dict[str, Any]:
        """The cluster as DescribeClusters returns it (no secret values are in it)."""
        return self._describe()

    def connection_info(self) -> ConnectionInfo:
        """Endpoint, database, user and the ARN of the AWS-managed secret (never a password)."""
        c = self._describe()
        endpoint = c.get("Endpoint") or {}
        return ConnectionInfo(
            host=endpoint.get("Address"),
            port=endpoint.get("Port"),
            database=c.get("DBName"),
            user=c.get("MasterUsername"),
            secret_arn=c.get("MasterPasswordSecretArn"),
        )

    # --- changes ----------------------------------------------------------------------------

    def rescale(
        self,
        new_cluster_size: int | None = None,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        resize_type: str = "auto",
        wait: bool = True,
        timeout_minutes: float = 180,
        after_pending: bool = False,
    ) -> Operation:
        """Bring the cluster to a node count, node type and paused state; None keeps the current one.

        A paused cluster that must be resized is resumed first and paused again afterwards when
        ``new_paused`` is True (or left None). ``resize_type`` is ``auto`` (elastic when AWS allows
        it, see :func:`choose_resize`), ``elastic`` or ``classic``. With ``wait`` (default True) it
        waits at most ``timeout_minutes`` (default 180: classic resize of a large cluster takes
        hours) and raises :class:`OperationTimeout` then; with ``wait=False`` it returns the started
        :class:`Operation` to poll. A cluster mid-operation raises :class:`InvalidState` unless
        ``after_pending`` is True, in which case the plan first waits for it to settle. Nothing to
        change returns an operation that is already done. Every argument but the first is
        keyword-only; flags must be real bools (``new_paused="yes"`` is an error, not True).
        """
        validate_flag(new_paused, field="new_paused", optional=True)
        for flag_name, flag in {"wait": wait, "after_pending": after_pending}.items():
            validate_flag(flag, field=flag_name)
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        steps, description, _ = self._rescale_steps(
            new_cluster_size, new_paused, new_instance_type, resize_type, after_pending
        )
        return self._start(steps, description, wait, timeout_minutes)

    def plan_rescale(
        self,
        new_cluster_size: int | None = None,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        resize_type: str = "auto",
    ) -> RescalePlan:
        """What :meth:`rescale` with these arguments would do, without doing it: the steps (resume,
        elastic or classic resize, re-pause), the expected duration and the read-only window, from
        AWS's documented figures (:data:`dbscale.core.plan.STEP_FIGURES`). Same validation and
        errors as :meth:`rescale`; a cluster mid-operation raises :class:`InvalidState`."""
        validate_flag(new_paused, field="new_paused", optional=True)
        steps, description, paused_now = self._rescale_steps(
            new_cluster_size, new_paused, new_instance_type, resize_type, False
        )
        return redshift_plan(self._name, description, steps, paused_now)

    def _rescale_steps(
        self,
        new_cluster_size: int | None,
        new_paused: bool | None,
        new_instance_type: str | None,
        resize_type: str,
        after_pending: bool,
    ) -> tuple[list[dict[str, Any]], str, bool]:
        validate_resize_type(resize_type)
        if new_instance_type is not None:
            validate_redshift_node_type(new_instance_type, field="new_instance_type")
        if new_cluster_size is not None:
            if isinstance(new_cluster_size, bool) or not isinstance(new_cluster_size, int) or new_cluster_size < 1:
                raise InvalidRequest(
                    f"new_cluster_size must be a whole number of at least 1, got {new_cluster_size!r}",
                    field="new_cluster_size",
                )
            if new_instance_type is not None:
                validate_redshift_nodes(
                    new_instance_type,
                    new_cluster_size,
                    node_type_field="new_instance_type",
                    count_field="new_cluster_size",
                    elastic=resize_type != "classic",
                )
        c: dict[str, Any] | None = self._describe()
        assert c is not None
        status = str(c["ClusterStatus"])
        steps: list[dict[str, Any]] = []
        if status not in SETTLED:
            if not after_pending:
                raise InvalidState(
                    f"Redshift cluster '{self._name}' is '{status}'; wait until it is available or "
                    "paused before changing it"
                )
            steps.append({"action": "wait_settled"})
            c = None  # the settled state is unknown until then: plan on what is asked
        current_type = str(c["NodeType"]) if c else None
        current_nodes = int(c["NumberOfNodes"]) if c else None
        target_type = new_instance_type if new_instance_type is not None else current_type
        target_nodes = new_cluster_size if new_cluster_size is not None else current_nodes
        if c is not None:
            assert target_type is not None and target_nodes is not None
            validate_redshift_nodes(
                target_type,
                target_nodes,
                node_type_field="new_instance_type",
                count_field="new_cluster_size",
                elastic=resize_type != "classic",
            )
            steps += self._plan(c, target_type, target_nodes, new_paused, resize_type)
        else:
            steps.append(
                {
                    "action": "replan",
                    "node_type": new_instance_type,
                    "number_of_nodes": new_cluster_size,
                    "paused": new_paused,
                    "resize_type": resize_type,
                }
            )
        parts = []
        if new_instance_type is not None or new_cluster_size is not None:
            parts.append(f"resize to {target_nodes or '?'} x {target_type or '?'}")
        if new_paused is not None:
            parts.append("pause" if new_paused else "resume")
        description = f"{' and '.join(parts) or 'no change'} for Redshift cluster '{self._name}'"
        return steps, description, status == "paused"

    def _plan(
        self,
        c: dict[str, Any],
        target_type: str,
        target_nodes: int,
        new_paused: bool | None,
        resize_type: str,
    ) -> list[dict[str, Any]]:
        return plan_rescale(c, target_type, target_nodes, new_paused, resize_type)

    def modify_settings(
        self,
        *,
        new_paused: bool | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        after_pending: bool = False,
        reboot_for_parameter_changes: bool = False,
        then_delete_parameter_group: dict[str, Any] | None = None,
        **params: Any,
    ) -> Operation:
        """Apply ``ModifyCluster`` parameters (AWS names, e.g. ``VpcSecurityGroupIds``, ``Port``),
        plus ``IamRoles`` (the full list; sent with ``DefaultIamRoleArn`` by ModifyClusterIamRoles)
        and ``LoggingProperties`` (sent by EnableLogging/DisableLogging, see
        :func:`~dbscale.core.redshift.settings.normalize_logging`).

        AWS accepts these calls only from an ``available`` cluster, so this is an operation: a
        paused cluster is resumed first, the settings are applied, the operation waits until the
        cluster is ``available`` again (no longer ``modifying``), then pauses it again. The paused
        state at the end is ``new_paused`` (None, the default: the state the cluster was in).
        Settings already in effect are not sent again. A new parameter group's values apply at the
        next reboot: with ``reboot_for_parameter_changes`` (default False) the cluster is rebooted
        when AWS reports them ``pending-reboot``, never otherwise. ``then_delete_parameter_group``
        (``{"group": ..., "tags": {...}}``) deletes dbscale's former parameter group at the end, if
        it carries those tags. ``wait`` (default True) waits at most ``timeout_minutes`` (default
        60); with ``wait=False`` the started :class:`Operation` is returned to poll. A cluster
        mid-operation raises :class:`InvalidState` unless ``after_pending`` is True: then the
        operation first waits for it to settle.
        """
        refused = _FORBIDDEN_OPTIONS | {"MasterUserPassword", "NodeType", "NumberOfNodes", "ClusterType"}
        validate_flag(reboot_for_parameter_changes, field="reboot_for_parameter_changes")
        groups = [
            group
            for group in (
                {k: v for k, v in params.items() if k not in IAM_SETTINGS and k != LOGGING_SETTING},
                {k: v for k, v in params.items() if k in IAM_SETTINGS},
                {k: v for k, v in params.items() if k == LOGGING_SETTING},
            )
            if group
        ]
        tail: list[dict[str, Any]] = []
        if reboot_for_parameter_changes and "ClusterParameterGroupName" in params:
            tail.append({"action": "reboot_for_parameters"})
        if then_delete_parameter_group:
            tail.append({"action": "delete_parameter_group", **then_delete_parameter_group})
        if len(groups) <= 1 and not tail:
            return self._modify(
                refused,
                params,
                new_paused=new_paused,
                wait=wait,
                timeout_minutes=timeout_minutes,
                after_pending=after_pending,
            )
        if new_paused is None:
            new_paused = self.status in ("paused", "pausing")
        steps: list[dict[str, Any]] = []
        for index, group in enumerate(groups):
            last = index == len(groups) - 1 and not tail
            steps += self._modify(
                refused,
                group,
                new_paused=new_paused if last else False,
                wait=False,
                timeout_minutes=timeout_minutes,
                after_pending=after_pending,
            ).steps
            if index == 0 and tail and tail[0]["action"] == "reboot_for_parameters":
                steps.append(tail.pop(0))  # right after the parameter group changed
        steps += tail
        if tail or not groups or steps[-1]["action"] != "apply_settings":
            steps.append({"action": "apply_settings", "settings": {}, "paused": new_paused})
        names = ", ".join(sorted(params)) or "no settings"
        return self._start(steps, f"change {names} of {self._label} '{self._name}'", wait, timeout_minutes)

    def _arn(self, cluster: dict[str, Any]) -> str:
        return cluster_arn(self._session, cluster, self._name)

    def _delete_steps(self, snapshot: str | None) -> list[dict[str, Any]]:
        return [{"action": "delete", "final_snapshot": snapshot}, {"action": "wait_deleted"}]
