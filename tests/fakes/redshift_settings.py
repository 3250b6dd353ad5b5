"""moto 5.2 gaps in Redshift cluster settings, filled as strictly as AWS documents them (installed
by :func:`tests.fakes.moto_shims.install_moto_shims`; each shim first checks moto still lacks it).

* Parameter groups: ``ModifyClusterParameterGroup`` and ``RebootCluster`` are missing; every group
  reports the engine defaults (``DescribeClusterParameters``, here paginated with ``MaxRecords`` /
  ``Marker``); a duplicate ``CreateClusterParameterGroup`` silently replaces the group (AWS:
  ``ClusterParameterGroupAlreadyExists``); ``DeleteClusterParameterGroup`` deletes a default group or
  one a cluster uses (AWS: ``InvalidClusterParameterGroupState``); CreateCluster/ModifyCluster accept
  a group that does not exist and ModifyCluster stores its name as a string. A changed group's
  values are ``pending-reboot`` on the clusters using it until they reboot.
* ``ModifyClusterIamRoles`` is missing.
* CreateCluster, RestoreFromClusterSnapshot and ModifyCluster ignore ``ManualSnapshotRetentionPeriod``,
  ``MaintenanceTrackName``, ``MultiAZ``, ``DefaultIamRoleArn`` and ``MasterPasswordSecretKmsKeyId``
  (and restore ignores ``Encrypted``/``KmsKeyId``, ``SnapshotClusterIdentifier`` and ``OwnerAccount``);
  ModifyCluster stores ``EnhancedVpcRouting`` as the string sent.
* ``EnableLogging``/``DisableLogging`` accept any input on a cluster in any state.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.redshift.exceptions import (
    ClusterNotFoundError,
    ClusterParameterGroupNotFoundError,
    ClusterSnapshotNotFoundError,
    InvalidParameterCombinationError,
    InvalidParameterValueError,
    RedshiftClientError,
)
from moto.redshift.models import Cluster, RedshiftBackend
from moto.redshift.responses import RedshiftResponse
from moto.s3.models import s3_backends

DESCRIBE_PARAMETERS_PAGE = 100
"""DescribeClusterParameters' default MaxRecords (AWS: 100); tests lower it to see paging."""
_APPLY_STATUS = "dbscale_parameter_apply_status"
_VALUES = "dbscale_parameter_values"
_LOG_EXPORTS = ("connectionlog", "userlog", "useractivitylog")


def _invalid_group_state(message: str) -> RedshiftClientError:
    return RedshiftClientError("InvalidClusterParameterGroupState", message)


def _group_values(backend: RedshiftBackend) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] | None = getattr(backend, _VALUES, None)
    if values is None:
        values = {}
        setattr(backend, _VALUES, values)
    return values


def _require_group(backend: RedshiftBackend, name: str | None) -> None:
    if name and name not in backend.parameter_groups:
        raise ClusterParameterGroupNotFoundError(name)


def _group_of(cluster: Cluster) -> str:
    names = cluster.cluster_parameter_group_name
    return str(names[0] if isinstance(names, list) else names)


# --- parameter groups -----------------------------------------------------------------------


def _apply_status_list(self: Cluster) -> list[dict[str, str]]:
    return [{"ParameterGroupName": _group_of(self), "ParameterApplyStatus": getattr(self, _APPLY_STATUS, "in-sync")}]


def _create_parameter_group(original: Any) -> Any:
    def create_cluster_parameter_group(self: RedshiftResponse) -> ActionResult:
        name = self._get_param("ParameterGroupName")
        if name in self.redshift_backend.parameter_groups:
            raise RedshiftClientError(
                "ClusterParameterGroupAlreadyExists", f"The parameter group {name} already exists"
            )
        if self._get_param("ParameterGroupFamily") != "redshift-1.0":
            raise InvalidParameterValueError("The parameter group family must be redshift-1.0")
        result: ActionResult = original(self)
        return result

    return create_cluster_parameter_group


def _response_modify_cluster_parameter_group(self: RedshiftResponse) -> ActionResult:
    backend = self.redshift_backend
    name = self._get_param("ParameterGroupName")
    _require_group(backend, name)
    if name.startswith("default."):
        raise _invalid_group_state(f"Cannot modify the default parameter group {name}")
    known = {p["ParameterName"] for p in backend.describe_default_cluster_parameters()}
    changes = {}
    for parameter in self._get_param("Parameters", []):
        key = parameter.get("ParameterName")
        if key not in known:
            raise InvalidParameterValueError(f"Could not find parameter with name: {key}")
        changes[key] = str(parameter.get("ParameterValue", ""))
    _group_values(backend).setdefault(name, {}).update(changes)
    for cluster in backend.clusters.values():
        if _group_of(cluster) == name:
            setattr(cluster, _APPLY_STATUS, "pending-reboot")
    return ActionResult({"ParameterGroupName": name, "ParameterGroupStatus": "Your parameter group has been updated."})


def _response_describe_cluster_parameters(self: RedshiftResponse) -> ActionResult:
    backend = self.redshift_backend
    name = self._get_param("ParameterGroupName")
    _require_group(backend, name)
    overrides = _group_values(backend).get(name, {})
    parameters = []
    for parameter in backend.describe_default_cluster_parameters():
        if parameter["ParameterName"] in overrides:
            parameter = {**parameter, "ParameterValue": overrides[parameter["ParameterName"]], "Source": "user"}
        parameters.append(parameter)
    size = self._get_int_param("MaxRecords") or DESCRIBE_PARAMETERS_PAGE
    if not 20 <= size <= 100 and self._get_int_param("MaxRecords") is not None:
        raise InvalidParameterValueError("MaxRecords must be from 20 to 100")
    start = int(self._get_param("Marker") or 0)
    page = parameters[start : start + size]
    result: dict[str, Any] = {"Parameters": page}
    if start + size < len(parameters):
        result["Marker"] = str(start + size)
    return ActionResult(result)


def _delete_parameter_group(original: Any) -> Any:
    def delete_cluster_parameter_group(self: RedshiftBackend, parameter_group_name: str) -> Any:
        if parameter_group_name.startswith("default."):
            raise _invalid_group_state(f"Cannot delete the default parameter group {parameter_group_name}")
        users = [c.cluster_identifier for c in self.clusters.values() if _group_of(c) == parameter_group_name]
        if users:
            raise _invalid_group_state(f"The parameter group {parameter_group_name} is in use by cluster {users[0]}")
        _group_values(self).pop(parameter_group_name, None)
        return original(self, parameter_group_name)

    return delete_cluster_parameter_group


def _available_cluster(response: RedshiftResponse, action: str) -> Cluster:
    """The request's cluster; AWS's ClusterNotFound, or InvalidClusterState unless it is available."""
    name = response._get_param("ClusterIdentifier")
    cluster: Cluster | None = response.redshift_backend.clusters.get(name)
    if cluster is None:
        raise ClusterNotFoundError(name)
    if cluster.status != "available":
        raise RedshiftClientError(
            "InvalidClusterState", f"The cluster {name} is '{cluster.status}'; it must be 'available' to {action}"
        )
    return cluster


def _response_reboot_cluster(self: RedshiftResponse) -> ActionResult:
    cluster = _available_cluster(self, "reboot")
    setattr(cluster, _APPLY_STATUS, "in-sync")
    return ActionResult({"Cluster": cluster})


# --- IAM roles --------------------------------------------------------------------------------


def _response_modify_cluster_iam_roles(self: RedshiftResponse) -> ActionResult:
    cluster = _available_cluster(self, "change its IAM roles")
    name = cluster.cluster_identifier
    roles = list(cluster.iam_roles_arn)
    for role in self._get_param("RemoveIamRoles", []):
        if role not in roles:
            raise InvalidParameterValueError(f"The role {role} is not associated with cluster {name}")
        roles.remove(role)
    for role in self._get_param("AddIamRoles", []):
        if role in roles:
            raise InvalidParameterValueError(f"The role {role} is already associated with cluster {name}")
        roles.append(role)
    default = self._get_param("DefaultIamRoleArn")
    if default and default not in roles:
        raise InvalidParameterValueError(f"The default role {default} must be associated with the cluster")
    cluster.iam_roles_arn = roles
    if default:
        cluster.default_iam_role_arn = default
    elif getattr(cluster, "default_iam_role_arn", None) not in roles:
        cluster.default_iam_role_arn = None
    return ActionResult({"Cluster": cluster})


# --- settings moto ignores on create, restore and modify -----------------------------------------


def _check_settings(response: RedshiftResponse, node_type: str, nodes: int, encrypted: bool) -> None:
    if response._get_param("MasterPasswordSecretKmsKeyId") and not response._get_bool_param("ManageMasterPassword"):
        raise InvalidParameterCombinationError("MasterPasswordSecretKmsKeyId requires ManageMasterPassword")
    if response._get_bool_param("MultiAZ") and (not node_type.startswith("ra3.") or nodes < 2 or not encrypted):
        raise InvalidParameterCombinationError("Multi-AZ needs an encrypted RA3 cluster of at least two nodes")
    manual = response._get_int_param("ManualSnapshotRetentionPeriod")
    if manual is not None and manual != -1 and not 1 <= manual <= 3653:
        raise InvalidParameterValueError("ManualSnapshotRetentionPeriod must be -1 or from 1 to 3653")
    automated = response._get_int_param("AutomatedSnapshotRetentionPeriod")
    if (automated is not None and not (0 <= automated <= 35)) or (automated == 0 and node_type.startswith("ra3.")):
        raise InvalidParameterValueError("AutomatedSnapshotRetentionPeriod is out of range for this node type")
    _require_group(response.redshift_backend, response._get_param("ClusterParameterGroupName"))


def _store_settings(response: RedshiftResponse, cluster: Cluster) -> None:
    for param, attribute in (
        ("ManualSnapshotRetentionPeriod", "manual_snapshot_retention_period"),
        ("MaintenanceTrackName", "maintenance_track_name"),
        ("DefaultIamRoleArn", "default_iam_role_arn"),
        ("MasterPasswordSecretKmsKeyId", "master_password_secret_kms_key_id"),
    ):
        value = response._get_int_param(param) if param.endswith("Period") else response._get_param(param)
        if value is not None:
            setattr(cluster, attribute, value)
    for param, attribute in (("MultiAZ", "multi_az"), ("EnhancedVpcRouting", "enhanced_vpc_routing")):
        flag = response._get_bool_param(param)
        if flag is not None:
            setattr(cluster, attribute, ("Enabled" if flag else "Disabled") if param == "MultiAZ" else flag)
    group = response._get_param("ClusterParameterGroupName")
    if group:
        cluster.cluster_parameter_group_name = [group]


def _aws_defaults(cluster: Cluster) -> None:
    # What AWS reports for settings a create did not give.
    for attribute, value in (
        ("multi_az", "Disabled"),
        ("maintenance_track_name", "current"),
        ("manual_snapshot_retention_period", -1),
    ):
        if getattr(cluster, attribute, None) is None:
            setattr(cluster, attribute, value)


def _with_create_settings(original: Any) -> Any:
    def create_cluster(self: RedshiftResponse) -> ActionResult:
        nodes = 1 if self._get_param("ClusterType") == "single-node" else int(self._get_int_param("NumberOfNodes") or 1)
        _check_settings(self, self._get_param("NodeType") or "", nodes, bool(self._get_bool_param("Encrypted")))
        default = self._get_param("DefaultIamRoleArn")
        if default and default not in self._get_param("IamRoles", []):
            raise InvalidParameterValueError("DefaultIamRoleArn must be one of IamRoles")
        result: ActionResult = original(self)
        cluster = result.result["Cluster"]  # type: ignore[index]
        _store_settings(self, cluster)
        _aws_defaults(cluster)
        return result

    create_cluster.__name__ = original.__name__
    return create_cluster


def _with_restore_settings(original: Any) -> Any:
    def restore_from_cluster_snapshot(self: RedshiftResponse) -> ActionResult:
        backend = self.redshift_backend
        snapshot_id = self._get_param("SnapshotIdentifier")
        snapshot = backend.snapshots.get(snapshot_id)
        source = self._get_param("SnapshotClusterIdentifier")
        owner = self._get_param("OwnerAccount")
        if (
            snapshot is None
            or (source and snapshot.cluster_identifier != source)
            or (owner and owner != self.current_account)
        ):
            raise ClusterSnapshotNotFoundError(snapshot_id)
        if self._get_param("ClusterIdentifier") in backend.clusters:
            raise RedshiftClientError("ClusterAlreadyExists", "Cluster already exists")
        encrypted = bool(self._get_bool_param("Encrypted")) or snapshot.encrypted in (True, "true")
        _check_settings(self, self._get_param("NodeType") or snapshot.node_type, snapshot.number_of_nodes, encrypted)
        result: ActionResult = original(self)
        cluster = result.result["Cluster"]  # type: ignore[index]
        _store_settings(self, cluster)
        cluster.encrypted = encrypted
        if self._get_param("KmsKeyId"):
            cluster.kms_key_id = self._get_param("KmsKeyId")
        _aws_defaults(cluster)
        cluster.master_username = snapshot.master_username
        return result

    restore_from_cluster_snapshot.__name__ = original.__name__
    return restore_from_cluster_snapshot


def _with_modify_settings(original: Any) -> Any:
    def modify_cluster(self: RedshiftResponse) -> ActionResult:
        cluster = self.redshift_backend.clusters.get(self._get_param("ClusterIdentifier"))
        group_before = _group_of(cluster) if cluster is not None else None
        if cluster is not None:
            _check_settings(self, cluster.node_type, cluster.number_of_nodes, cluster.encrypted in (True, "true"))
        result: ActionResult = original(self)
        cluster = result.result["Cluster"]  # type: ignore[index]
        _store_settings(self, cluster)
        if _group_of(cluster) != group_before:
            setattr(cluster, _APPLY_STATUS, "pending-reboot")
        return result

    modify_cluster.__name__ = original.__name__
    return modify_cluster


# --- logging ----------------------------------------------------------------------------------


def _strict_enable_logging(original: Any) -> Any:
    def enable_logging(self: RedshiftResponse) -> ActionResult:
        _available_cluster(self, "change its logging")
        destination = self._get_param("LogDestinationType") or "s3"
        bucket = self._get_param("BucketName")
        exports = self._get_param("LogExports", [])
        if destination not in ("s3", "cloudwatch"):
            raise InvalidParameterValueError(f"Invalid LogDestinationType {destination}")
        if any(e not in _LOG_EXPORTS for e in exports):
            raise InvalidParameterValueError(f"Invalid LogExports {exports}")
        if destination == "s3":
            if not bucket:
                raise InvalidParameterCombinationError("BucketName is required for LogDestinationType s3")
            if bucket not in s3_backends[self.current_account]["global"].buckets:
                raise RedshiftClientError("BucketNotFoundFault", f"Bucket {bucket} does not exist")
        elif bucket or self._get_param("S3KeyPrefix"):
            raise InvalidParameterCombinationError("BucketName and S3KeyPrefix go only with LogDestinationType s3")
        result: ActionResult = original(self)
        return result

    enable_logging.__name__ = original.__name__
    return enable_logging


def _strict_disable_logging(original: Any) -> Any:
    def disable_logging(self: RedshiftResponse) -> ActionResult:
        _available_cluster(self, "change its logging")
        result: ActionResult = original(self)
        return result

    disable_logging.__name__ = original.__name__
    return disable_logging


# --- install ----------------------------------------------------------------------------------


def check_redshift_settings_gaps(require_absent: Any, require_source_lacks: Any) -> None:
    """Fail loudly once moto fills a gap these shims fill (run on moto's own functions)."""
    for name in ("modify_cluster_parameter_group", "reboot_cluster", "modify_cluster_iam_roles"):
        require_absent(RedshiftResponse, name)
    require_source_lacks(RedshiftBackend.describe_cluster_parameters, "Marker")
    require_source_lacks(RedshiftBackend.create_cluster_parameter_group, "AlreadyExists")
    require_source_lacks(RedshiftBackend.delete_cluster_parameter_group, "InvalidClusterParameterGroupState")
    require_source_lacks(RedshiftResponse.create_cluster, "MultiAZ")
    require_source_lacks(RedshiftResponse.modify_cluster, "ManualSnapshotRetentionPeriod")
    require_source_lacks(RedshiftBackend.enable_logging, "status")


def install_redshift_settings_shims() -> None:
    """Install the shims above (called once by ``install_moto_shims``, after its own)."""
    RedshiftResponse.modify_cluster_parameter_group = _response_modify_cluster_parameter_group  # type: ignore[attr-defined]
    RedshiftResponse.reboot_cluster = _response_reboot_cluster  # type: ignore[attr-defined]
    RedshiftResponse.modify_cluster_iam_roles = _response_modify_cluster_iam_roles  # type: ignore[attr-defined]
    RedshiftResponse.describe_cluster_parameters = _response_describe_cluster_parameters  # type: ignore[method-assign]
    RedshiftResponse.create_cluster_parameter_group = _create_parameter_group(  # type: ignore[method-assign]
        RedshiftResponse.create_cluster_parameter_group
    )
    RedshiftBackend.delete_cluster_parameter_group = _delete_parameter_group(  # type: ignore[method-assign]
        RedshiftBackend.delete_cluster_parameter_group
    )
    Cluster.cluster_parameter_group_status_list = property(_apply_status_list)  # type: ignore[method-assign,assignment]
    RedshiftResponse.create_cluster = _with_create_settings(RedshiftResponse.create_cluster)  # type: ignore[method-assign]
    RedshiftResponse.restore_from_cluster_snapshot = _with_restore_settings(  # type: ignore[method-assign]
        RedshiftResponse.restore_from_cluster_snapshot
    )
    RedshiftResponse.modify_cluster = _with_modify_settings(RedshiftResponse.modify_cluster)  # type: ignore[method-assign]
    RedshiftResponse.enable_logging = _strict_enable_logging(RedshiftResponse.enable_logging)  # type: ignore[method-assign]
    RedshiftResponse.disable_logging = _strict_disable_logging(RedshiftResponse.disable_logging)  # type: ignore[method-assign]
