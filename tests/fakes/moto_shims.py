"""Fill gaps in moto 5.2 that dbscale's tests need, the moto way: plain functions set on moto's
backend and response classes (moto looks both up per request).

Each shim first checks that moto still lacks the feature, so the day moto ships it the shim fails
loudly at install time and can be deleted.

* Redshift ``ResizeCluster`` / ``DescribeResize``: not implemented by moto.
* Redshift ``ManageMasterPassword``: ignored by moto; here a created (or restored) cluster gets a
  real Secrets Manager secret and ``MasterPasswordSecretArn``, deleted with the cluster.
* Redshift ``DeleteCluster`` without ``SkipFinalClusterSnapshot``: moto skips the final snapshot
  unless ``SkipFinalClusterSnapshot=false`` is sent explicitly; AWS defaults it to false.
* RDS ``RestoreDBClusterFromSnapshot`` of a cluster with a managed master password: moto crashes
  (KeyError on ``_master_user_password``) copying the source cluster's settings.
* RDS ``CreateDBCluster`` of an identifier that exists: moto silently replaces the cluster; AWS
  answers ``DBClusterAlreadyExistsFault``.
* State rules moto does not enforce (AWS API reference, each call's Errors): Redshift ``ModifyCluster``
  and ``PauseCluster`` need an ``available`` cluster and ``ResumeCluster`` a ``paused`` one
  (``InvalidClusterState``); RDS ``ModifyDBCluster`` needs an ``available`` cluster
  (``InvalidDBClusterStateFault``; moto would even mark a stopped cluster ``available``) and
  ``ModifyDBInstance`` an ``available`` instance in a running cluster (``InvalidDBInstanceState``).
* Redshift ``ModifyCluster`` ignores ``Port`` and stores ``PubliclyAccessible`` as the string sent;
  RDS ``ModifyDBCluster`` ignores ``EnableIAMDatabaseAuthentication``.
* RDS ``DeleteDBCluster`` ignores ``SkipFinalSnapshot``: without ``FinalDBSnapshotIdentifier`` it
  deletes without a snapshot. AWS defaults ``SkipFinalSnapshot`` to false and then requires the
  identifier (``InvalidParameterCombination``), and refuses both together.

Redshift cluster settings (parameter groups, IAM roles, logging, restore options): see
:mod:`tests.fakes.redshift_settings`.

Without :class:`tests.fakes.transitions.SlowAws` every change is instant, as in plain moto: a resize
is ``SUCCEEDED`` as soon as it is requested.
"""

from __future__ import annotations

import inspect
import json
import secrets
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import InvalidDBClusterStateFault, RDSClientError
from moto.rds.models import DBCluster, RDSBackend
from moto.rds.responses import RDSResponse
from moto.redshift.exceptions import (
    ClusterNotFoundError,
    InvalidParameterCombinationError,
    InvalidParameterValueError,
    RedshiftClientError,
)
from moto.redshift.models import Cluster, RedshiftBackend
from moto.redshift.responses import RedshiftResponse
from moto.secretsmanager.models import secretsmanager_backends

from .preflight import install_preflight_shims
from .rds_settings import install_rds_settings
from .redshift_settings import check_redshift_settings_gaps, install_redshift_settings_shims

RESIZE_ATTRIBUTE = "dbscale_fake_resize"
"""Where the shim keeps a Redshift cluster's last resize (a :class:`ResizeRecord`)."""

_installed = False


class ShimObsolete(RuntimeError):
    """moto now implements what a shim fills in: delete the shim."""


def _require_absent(cls: type, name: str) -> None:
    if name in vars(cls):
        raise ShimObsolete(f"moto now implements {cls.__name__}.{name}; delete the shim in {__name__}")


def _require_source_lacks(function: Any, text: str) -> None:
    if text in inspect.getsource(function):
        raise ShimObsolete(
            f"moto's {function.__qualname__} now mentions {text!r}; check whether the shim in {__name__} "
            "is still needed"
        )


def invalid_cluster_state(message: str) -> RedshiftClientError:
    """AWS's ``InvalidClusterState`` (HTTP 400)."""
    return RedshiftClientError("InvalidClusterState", message)


# --- Redshift resize ----------------------------------------------------------------------


@dataclass
class ResizeRecord:
    """What DescribeResize reports about a cluster's latest resize."""

    target_node_type: str
    target_number_of_nodes: int
    target_cluster_type: str
    resize_type: str  # "ClassicResize" | "ElasticResize"
    status: str = "IN_PROGRESS"  # -> "SUCCEEDED"
    message: str = ""

    def as_response(self) -> dict[str, Any]:
        return {
            "TargetNodeType": self.target_node_type,
            "TargetNumberOfNodes": self.target_number_of_nodes,
            "TargetClusterType": self.target_cluster_type,
            "Status": self.status,
            "ResizeType": self.resize_type,
            "Message": self.message or f"Resize {self.status.lower().replace('_', ' ')}",
        }


def start_resize(
    backend: RedshiftBackend,
    cluster_identifier: str,
    node_type: str | None,
    number_of_nodes: int | None,
    cluster_type: str | None,
    classic: bool,
) -> tuple[Cluster, ResizeRecord]:
    """Validate a ResizeCluster request and record it as IN_PROGRESS; the shape is unchanged yet."""
    cluster = backend.clusters.get(cluster_identifier)
    if cluster is None:
        raise ClusterNotFoundError(cluster_identifier)
    if cluster.status != "available":
        raise invalid_cluster_state(
            f"The cluster {cluster_identifier} is in state '{cluster.status}'; it must be 'available' to resize"
        )
    if cluster_type not in (None, "single-node", "multi-node"):
        raise InvalidParameterValueError("Invalid cluster type. Cluster type can be one of multi-node or single-node")
    target_nodes = 1 if cluster_type == "single-node" else int(number_of_nodes or cluster.number_of_nodes)
    if cluster_type == "multi-node" and target_nodes < 2:
        raise InvalidParameterCombinationError(
            "Number of nodes for cluster type multi-node must be greater than or equal to 2"
        )
    record = ResizeRecord(
        target_node_type=node_type or cluster.node_type,
        target_number_of_nodes=target_nodes,
        target_cluster_type=cluster_type or ("single-node" if target_nodes == 1 else "multi-node"),
        resize_type="ClassicResize" if classic else "ElasticResize",
    )
    setattr(cluster, RESIZE_ATTRIBUTE, record)
    cluster.resize_info = {"ResizeType": record.resize_type, "AllowCancelResize": classic}
    return cluster, record


def finish_resize(cluster: Cluster, record: ResizeRecord) -> None:
    """Give the cluster its new shape and mark the resize SUCCEEDED."""
    cluster.node_type = record.target_node_type
    cluster.number_of_nodes = record.target_number_of_nodes
    record.status = "SUCCEEDED"


def _backend_resize_cluster(
    self: RedshiftBackend,
    cluster_identifier: str,
    node_type: str | None = None,
    number_of_nodes: int | None = None,
    cluster_type: str | None = None,
    classic: bool = False,
) -> Cluster:
    cluster, record = start_resize(self, cluster_identifier, node_type, number_of_nodes, cluster_type, classic)
    finish_resize(cluster, record)  # plain moto: instant
    return cluster


def _backend_describe_resize(self: RedshiftBackend, cluster_identifier: str) -> dict[str, Any]:
    cluster = self.clusters.get(cluster_identifier)
    if cluster is None:
        raise ClusterNotFoundError(cluster_identifier)
    record: ResizeRecord | None = getattr(cluster, RESIZE_ATTRIBUTE, None)
    if record is None:
        # ResizeNotFoundFault: HTTP 404 in botocore's model.
        raise RedshiftClientError("ResizeNotFound", f"The cluster {cluster_identifier} has never been resized")
    return record.as_response()


def _response_resize_cluster(self: RedshiftResponse) -> ActionResult:
    cluster = self.redshift_backend.resize_cluster(  # type: ignore[attr-defined]
        cluster_identifier=self._get_param("ClusterIdentifier"),
        node_type=self._get_param("NodeType"),
        number_of_nodes=self._get_int_param("NumberOfNodes"),
        cluster_type=self._get_param("ClusterType"),
        classic=bool(self._get_bool_param("Classic", False)),
    )
    return ActionResult({"Cluster": cluster})


def _response_describe_resize(self: RedshiftResponse) -> ActionResult:
    return ActionResult(self.redshift_backend.describe_resize(self._get_param("ClusterIdentifier")))  # type: ignore[attr-defined]


# --- Redshift managed master password -----------------------------------------------------


def attach_managed_secret(cluster: Cluster) -> str:
    """Create the AWS-managed master password secret of ``cluster`` and return its ARN."""
    backend = secretsmanager_backends[cluster.account_id][cluster.region]
    secret = backend.create_managed_secret(
        service_name="redshift",
        secret_id=f"redshift!{cluster.cluster_identifier}-{cluster.master_username}",
        secret_string=json.dumps({"username": cluster.master_username, "password": secrets.token_urlsafe(24)}),
        description=f"Master password of Redshift cluster {cluster.cluster_identifier}",
        tags=[{"Key": "aws:redshift:primaryclusterarn", "Value": cluster.arn}],
    )
    cluster.master_password_secret_arn = secret.arn
    return str(secret.arn)


def _with_managed_password(original: Any) -> Any:
    def handler(self: RedshiftResponse) -> ActionResult:
        manage = bool(self._get_bool_param("ManageMasterPassword", False))
        if manage and self._get_param("MasterUserPassword"):
            raise InvalidParameterCombinationError("You can't specify both MasterUserPassword and ManageMasterPassword")
        result: ActionResult = original(self)
        if manage:
            attach_managed_secret(result.result["Cluster"])  # type: ignore[index]
        return result

    handler.__name__ = original.__name__
    handler.__qualname__ = original.__qualname__
    return handler


def _with_secret_cleanup_and_snapshot_default(original: Any) -> Any:
    def delete_cluster(self: RedshiftBackend, **kwargs: Any) -> Cluster:
        # AWS: SkipFinalClusterSnapshot defaults to false; moto treats "not sent" as "skip".
        if kwargs.get("skip_final_snapshot") is None:
            kwargs["skip_final_snapshot"] = False
        cluster: Cluster = original(self, **kwargs)
        arn = getattr(cluster, "master_password_secret_arn", None)
        if arn:
            secretsmanager_backends[cluster.account_id][cluster.region].delete_secret(
                arn, recovery_window_in_days=None, force_delete_without_recovery=True
            )
        return cluster

    return delete_cluster


# --- RDS restore of a managed-password cluster -------------------------------------------


def _tolerant_get_cfg(original: Any) -> Any:
    def get_cfg(self: DBCluster) -> dict[str, Any]:
        if "_master_user_password" in vars(self):
            cfg: dict[str, Any] = original(self)
            return cfg
        # A cluster with a managed password has no _master_user_password: moto's get_cfg crashes.
        self._master_user_password = ""
        try:
            cfg = original(self)
        finally:
            del self._master_user_password
        cfg.pop("master_user_password", None)
        cfg.pop("master_user_secret", None)  # the restored cluster gets its own secret
        cfg["master_user_secret_kms_key_id"] = None
        return cfg

    return get_cfg


def _refuse_duplicate_cluster(original: Any) -> Any:
    def create_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        if kwargs["db_cluster_identifier"] in self.clusters:
            raise RDSClientError("DBClusterAlreadyExistsFault", "DB Cluster already exists")
        cluster: DBCluster = original(self, kwargs)
        return cluster

    return create_db_cluster


# --- state rules and settings moto does not enforce or store ------------------------------


def _redshift_requires(status: str, action: str, original: Any) -> Any:
    def call(self: RedshiftBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get("cluster_identifier", kwargs.get("cluster_id", args[0] if args else None))
        cluster = self.clusters.get(name)
        if cluster is not None and cluster.status != status:
            raise invalid_cluster_state(
                f"The cluster {name} is '{cluster.status}'; it must be '{status}' to {action}"
            )
        return original(self, *args, **kwargs)

    call.__name__ = original.__name__
    return call


def _response_modify_cluster(original: Any) -> Any:
    def modify_cluster(self: RedshiftResponse) -> ActionResult:
        port = self._get_int_param("Port")
        publicly_accessible = self._get_bool_param("PubliclyAccessible")
        result: ActionResult = original(self)
        cluster = result.result["Cluster"]  # type: ignore[index]
        if port is not None:
            cluster.port = port
        if publicly_accessible is not None:
            cluster.publicly_accessible = publicly_accessible
        return result

    modify_cluster.__name__ = original.__name__
    return modify_cluster


def _modify_db_cluster_when_available(original: Any) -> Any:
    def modify_db_cluster(self: RDSBackend, kwargs: dict[str, Any]) -> DBCluster:
        name = kwargs["db_cluster_identifier"]
        cluster = self.clusters.get(name)
        if cluster is not None and cluster.status != "available":
            raise InvalidDBClusterStateFault(
                f"DbCluster {name} is in {cluster.status} state but expected it to be one of available."
            )
        iam = kwargs.get("enable_iam_database_authentication")
        result: DBCluster = original(self, kwargs)
        if iam is not None:
            self.clusters[kwargs.get("new_db_cluster_identifier") or name].iam_auth = bool(iam)
            result.iam_auth = bool(iam)
        return result

    return modify_db_cluster


def _modify_db_instance_when_available(original: Any) -> Any:
    def modify_db_instance(self: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
        instance = self.databases.get(db_instance_identifier)
        if instance is not None:
            cluster = self.clusters.get(getattr(instance, "db_cluster_identifier", None) or "")
            status = instance.status if cluster is None or cluster.status != "stopped" else "stopped"
            if status != "available":
                raise RDSClientError(
                    "InvalidDBInstanceState",
                    f"Database instance {db_instance_identifier} is '{status}'; it must be 'available' to modify",
                )
        return original(self, db_instance_identifier, db_kwargs)

    return modify_db_instance


def _strict_delete_db_cluster(original: Any) -> Any:
    def delete_db_cluster(self: RDSResponse) -> ActionResult:
        skip = str(self.params.get("SkipFinalSnapshot", "false")).lower() == "true"
        snapshot = self.params.get("FinalDBSnapshotIdentifier")
        if not skip and not snapshot:
            raise RDSClientError(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
            )
        if skip and snapshot:
            raise RDSClientError(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier can not be specified when deleting a cluster with SkipFinalSnapshot "
                "set to true.",
            )
        result: ActionResult = original(self)
        return result

    delete_db_cluster.__name__ = original.__name__
    return delete_db_cluster


# --- install ------------------------------------------------------------------------------


def install_moto_shims() -> None:
    """Install every shim once per process (idempotent)."""
    global _installed
    if _installed:
        return
    for cls, name in (
        (RedshiftBackend, "resize_cluster"),
        (RedshiftBackend, "describe_resize"),
        (RedshiftResponse, "resize_cluster"),
        (RedshiftResponse, "describe_resize"),
    ):
        _require_absent(cls, name)
    _require_source_lacks(RedshiftResponse.create_cluster, "ManageMasterPassword")
    _require_source_lacks(RedshiftResponse.delete_cluster, '"SkipFinalClusterSnapshot", False')
    _require_source_lacks(DBCluster.get_cfg, "master_user_secret")
    _require_source_lacks(RDSBackend.create_db_cluster, "AlreadyExists")
    _require_source_lacks(RedshiftBackend.modify_cluster, "InvalidClusterState")
    _require_source_lacks(RedshiftBackend.pause_cluster, "status")
    _require_source_lacks(RedshiftBackend.resume_cluster, "status")
    _require_source_lacks(RedshiftResponse.modify_cluster, '"Port"')
    _require_source_lacks(RDSBackend.modify_db_cluster, "status !=")
    _require_source_lacks(RDSBackend.modify_db_cluster, "iam_auth")
    _require_source_lacks(RDSBackend.modify_db_instance, "InvalidDBInstanceState")
    _require_source_lacks(RDSResponse.delete_db_cluster, "SkipFinalSnapshot")
    check_redshift_settings_gaps(_require_absent, _require_source_lacks)

    RedshiftBackend.resize_cluster = _backend_resize_cluster  # type: ignore[attr-defined]
    RedshiftBackend.describe_resize = _backend_describe_resize  # type: ignore[attr-defined]
    RedshiftResponse.resize_cluster = _response_resize_cluster  # type: ignore[attr-defined]
    RedshiftResponse.describe_resize = _response_describe_resize  # type: ignore[attr-defined]
    RedshiftResponse.create_cluster = _with_managed_password(RedshiftResponse.create_cluster)  # type: ignore[method-assign]
    RedshiftResponse.restore_from_cluster_snapshot = _with_managed_password(  # type: ignore[method-assign]
        RedshiftResponse.restore_from_cluster_snapshot
    )
    RedshiftBackend.delete_cluster = _with_secret_cleanup_and_snapshot_default(  # type: ignore[method-assign]
        RedshiftBackend.delete_cluster
    )
    DBCluster.get_cfg = _tolerant_get_cfg(DBCluster.get_cfg)  # type: ignore[method-assign]
    RDSBackend.create_db_cluster = _refuse_duplicate_cluster(RDSBackend.create_db_cluster)  # type: ignore[method-assign]
    RedshiftBackend.modify_cluster = _redshift_requires(  # type: ignore[method-assign]
        "available", "modify", RedshiftBackend.modify_cluster
    )
    RedshiftBackend.pause_cluster = _redshift_requires(  # type: ignore[method-assign]
        "available", "pause", RedshiftBackend.pause_cluster
    )
    RedshiftBackend.resume_cluster = _redshift_requires(  # type: ignore[method-assign]
        "paused", "resume", RedshiftBackend.resume_cluster
    )
    RedshiftResponse.modify_cluster = _response_modify_cluster(RedshiftResponse.modify_cluster)  # type: ignore[method-assign]
    RDSBackend.modify_db_cluster = _modify_db_cluster_when_available(RDSBackend.modify_db_cluster)  # type: ignore[method-assign]
    RDSBackend.modify_db_instance = _modify_db_instance_when_available(  # type: ignore[method-assign]
        RDSBackend.modify_db_instance
    )
    RDSResponse.delete_db_cluster = _strict_delete_db_cluster(RDSResponse.delete_db_cluster)  # type: ignore[method-assign]
    install_redshift_settings_shims()  # Redshift settings: tests/fakes/redshift_settings.py
    install_rds_settings()
    install_preflight_shims()  # what the preflight reads: tests/fakes/preflight.py
    _installed = True
