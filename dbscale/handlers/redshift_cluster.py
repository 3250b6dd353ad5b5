"""Custom::RedshiftCluster: ``dbscale.handlers.redshift_cluster.handler``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbscale.cfn import LOG, Progress, Prop, Provider, Request
from dbscale.core.aws import client, tag_dict, tag_list
from dbscale.core.errors import DbscaleError, InvalidRequest
from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import (
    REDSHIFT_DEFAULT_AUTOMATED_SNAPSHOT_RETENTION_DAYS,
    REDSHIFT_DEFAULT_PORT,
    REDSHIFT_MANUAL_SNAPSHOT_KEEP_FOREVER,
    SNAPSHOT_IDENTIFIER_MAX_LENGTH,
)
from dbscale.core.operation import Operation
from dbscale.core.preflight import check_preflight
from dbscale.core.redshift import RESIZE_TYPES, RedshiftProvisioning
from dbscale.core.redshift.settings import (
    delete_owned_parameter_group,
    ensure_tls_parameter_group,
    normalize_logging,
    owned_parameter_group_name,
    parameter_values,
    requires_tls,
    validate_account_id,
    validate_automated_snapshot_retention,
    validate_iam_roles,
    validate_maintenance_track,
    validate_maintenance_window,
    validate_manual_snapshot_retention,
    validate_multi_az,
)
from dbscale.core.validation import (
    validate_cluster_identifier,
    validate_kms_key_id,
    validate_parameter_group_name,
    validate_port,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_nodes,
    validate_redshift_subnet_group_name,
    validate_security_group_ids,
    validate_text,
)

from .cluster import ClusterResource, ClusterState, cfn_tags, owned_by, text_attributes

SCHEMA: tuple[Prop, ...] = (
    Prop("ClusterIdentifier", required=True),
    Prop("NodeType", required=True),
    Prop("NumberOfNodes", "int", required=True),
    Prop("Paused", "bool", default=False),
    Prop("DBName", default="dev", immutable=True),
    Prop("MasterUsername", default="admin", immutable=True),
    Prop("ClusterSubnetGroupName", immutable=True),
    Prop("VpcSecurityGroupIds", "list"),
    Prop("Encrypted", "bool", default=True, immutable=True),
    Prop("KmsKeyId", immutable=True),
    Prop("Port", "int", default=REDSHIFT_DEFAULT_PORT),
    Prop("PubliclyAccessible", "bool", default=False),
    Prop("ResizeType", default="auto", choices=RESIZE_TYPES),
    Prop("SkipFinalSnapshot", "bool", default=False),
    Prop("AdoptExisting", "bool", default=False),
    Prop("WaitForCompletion", "bool", default=True),
    Prop("Autoscaled", "bool", default=False),
    Prop("Tags", "tags", default={}),
    # Parity with AWS::Redshift::Cluster (docs/redshift-properties.md); secure defaults.
    Prop("ClusterParameterGroupName"),
    Prop("RebootForParameterChanges", "bool", default=False),
    Prop("LoggingProperties", "object", keys=("LogDestinationType", "LogExports", "BucketName", "S3KeyPrefix")),
    Prop("AutomatedSnapshotRetentionPeriod", "int", default=REDSHIFT_DEFAULT_AUTOMATED_SNAPSHOT_RETENTION_DAYS),
    Prop("ManualSnapshotRetentionPeriod", "int", default=REDSHIFT_MANUAL_SNAPSHOT_KEEP_FOREVER),
    Prop("PreferredMaintenanceWindow"),
    Prop("MaintenanceTrackName", default="current"),
    Prop("AllowVersionUpgrade", "bool", default=True),
    Prop("EnhancedVpcRouting", "bool", default=False),
    Prop("IamRoles", "list", default=[]),
    Prop("DefaultIamRoleArn"),
    Prop("MultiAZ", "bool", default=False),
    Prop("MasterPasswordSecretKmsKeyId"),
    Prop("SnapshotIdentifier", immutable=True),
    Prop("SnapshotClusterIdentifier", immutable=True),
    Prop("OwnerAccount", immutable=True),
)

# Settings CreateCluster / RestoreFromClusterSnapshot take as they are.
_CREATE_SETTINGS = (
    "AutomatedSnapshotRetentionPeriod",
    "ManualSnapshotRetentionPeriod",
    "PreferredMaintenanceWindow",
    "MaintenanceTrackName",
    "AllowVersionUpgrade",
    "EnhancedVpcRouting",
    "IamRoles",
    "DefaultIamRoleArn",
    "MultiAZ",
    "MasterPasswordSecretKmsKeyId",
    "ClusterParameterGroupName",
)
_RESTORE_PROPERTIES = ("SnapshotIdentifier", "SnapshotClusterIdentifier", "OwnerAccount")
# In state["settings"]: dbscale's former parameter group, deleted once the new one is in place.
_FORMER_GROUP = "_FormerParameterGroup"

# Optional properties AWS constrains, and their checks (each names the property it reads).
_OPTIONAL_CHECKS: dict[str, Callable[..., object]] = {
    "ClusterSubnetGroupName": validate_redshift_subnet_group_name,
    "VpcSecurityGroupIds": validate_security_group_ids,
    "KmsKeyId": validate_kms_key_id,
}


SIGNAL_ATTRIBUTES = (
    "Endpoint.Address",
    "Endpoint.Port",
    "ClusterIdentifier",
    "NodeType",
    "NumberOfNodes",
    "Paused",
    "SecretArn",
)
"""Attributes a completion signal carries, in this order (the construct reads them back by position)."""


class RedshiftClusterResource(ClusterResource):
    resource_type = "Custom::RedshiftCluster"
    service = "Redshift"
    schema = SCHEMA
    settings = ("VpcSecurityGroupIds", "Port", "PubliclyAccessible", *_CREATE_SETTINGS, "LoggingProperties")
    encryption_property = "Encrypted"
    public_property = "PubliclyAccessible"
    tls_property = "ClusterParameterGroupName"
    size_properties = ("NodeType", "NumberOfNodes")
    signal_attributes = SIGNAL_ATTRIBUTES
    argument_names = {
        "cluster_name": "ClusterIdentifier",
        "initial_instance_type": "NodeType",
        "initial_cluster_size": "NumberOfNodes",
        "new_instance_type": "NodeType",
        "new_cluster_size": "NumberOfNodes",
        "new_paused": "Paused",
        "resize_type": "ResizeType",
        "node_type": "NodeType",
        "number_of_nodes": "NumberOfNodes",
    }

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        # The secure defaults that depend on other properties: dbscale's own TLS parameter group
        # (named from the cluster), every log type to CloudWatch; a window in AWS's lowercase form.
        props = dict(props)
        if props["ClusterParameterGroupName"] is None:
            props["ClusterParameterGroupName"] = owned_parameter_group_name(props["ClusterIdentifier"])
        props["LoggingProperties"] = normalize_logging(props["LoggingProperties"])
        if props["PreferredMaintenanceWindow"]:
            props["PreferredMaintenanceWindow"] = props["PreferredMaintenanceWindow"].lower()
        return props

    def validate(self, props: dict[str, Any], request: Request) -> None:
        validate_cluster_identifier(props["ClusterIdentifier"], field="ClusterIdentifier")
        validate_redshift_nodes(
            props["NodeType"],
            props["NumberOfNodes"],
            node_type_field="NodeType",
            count_field="NumberOfNodes",
            elastic=request.request_type == "Update" and props["ResizeType"] != "classic",
        )
        validate_port(props["Port"], field="Port", node_type=props["NodeType"])
        validate_redshift_db_name(props["DBName"], field="DBName")
        validate_redshift_master_username(props["MasterUsername"], field="MasterUsername")
        for name, check in _OPTIONAL_CHECKS.items():
            if props[name] is not None:
                check(props[name], field=name)
        self._validate_settings(props)

    @staticmethod
    def _validate_settings(props: dict[str, Any]) -> None:
        validate_parameter_group_name(props["ClusterParameterGroupName"], field="ClusterParameterGroupName")
        validate_automated_snapshot_retention(
            props["AutomatedSnapshotRetentionPeriod"],
            node_type=props["NodeType"],
            field="AutomatedSnapshotRetentionPeriod",
        )
        validate_manual_snapshot_retention(
            props["ManualSnapshotRetentionPeriod"], field="ManualSnapshotRetentionPeriod"
        )
        if props["PreferredMaintenanceWindow"]:
            validate_maintenance_window(props["PreferredMaintenanceWindow"], field="PreferredMaintenanceWindow")
        validate_maintenance_track(props["MaintenanceTrackName"], field="MaintenanceTrackName")
        validate_iam_roles(
            props["IamRoles"], props["DefaultIamRoleArn"], field="IamRoles", default_field="DefaultIamRoleArn"
        )
        validate_multi_az(
            props["MultiAZ"],
            node_type=props["NodeType"],
            number_of_nodes=props["NumberOfNodes"],
            encrypted=props["Encrypted"],
            field="MultiAZ",
        )
        if props["MasterPasswordSecretKmsKeyId"]:
            validate_kms_key_id(props["MasterPasswordSecretKmsKeyId"], field="MasterPasswordSecretKmsKeyId")
        if props["SnapshotIdentifier"]:
            validate_text(
                props["SnapshotIdentifier"], field="SnapshotIdentifier", max_length=SNAPSHOT_IDENTIFIER_MAX_LENGTH
            )
        else:
            for name in ("SnapshotClusterIdentifier", "OwnerAccount"):
                if props[name]:
                    raise InvalidRequest(f"{name} goes only with SnapshotIdentifier (a restore)", field=name)
        if props["SnapshotClusterIdentifier"]:
            validate_cluster_identifier(props["SnapshotClusterIdentifier"], field="SnapshotClusterIdentifier")
        if props["OwnerAccount"]:
            validate_account_id(props["OwnerAccount"], field="OwnerAccount")

    def adoption_violations(
        self, provider: Provider, cluster: RedshiftProvisioning, guardrails: Guardrails
    ) -> list[tuple[str, str]]:
        c = cluster.describe()
        found: list[tuple[str, str]] = []
        if not c.get("Encrypted") and not guardrails.allow_unencrypted:
            found.append(("allow_unencrypted", "unencrypted storage"))
        if c.get("PubliclyAccessible") and not guardrails.allow_public_access:
            found.append(("allow_public_access", "public access"))
        groups = [g.get("ParameterGroupName") for g in c.get("ClusterParameterGroups") or []]
        if (
            not guardrails.allow_tls_off
            and groups
            and groups[0]
            and not requires_tls(parameter_values(client("redshift", provider.session), groups[0]))
        ):
            found.append(("allow_tls_off", f"parameter group '{groups[0]}' without require_ssl"))
        return found

    def tls_setting(self, provider: Provider, props: dict[str, Any]) -> tuple[str, str, bool] | None:
        group = props["ClusterParameterGroupName"]
        if group == owned_parameter_group_name(props["ClusterIdentifier"]):
            return None  # dbscale's own group: require_ssl=true, set by dbscale
        parameters = parameter_values(client("redshift", provider.session), group)
        return ("ClusterParameterGroupName", group, requires_tls(parameters))

    def preflight(self, provider: Provider, props: dict[str, Any], old: dict[str, Any] | None) -> None:
        owned = owned_parameter_group_name(props["ClusterIdentifier"])  # made by dbscale: nothing to check
        check_preflight(self.resource_type, props, provider.session, old=old, owned_parameter_group=owned)

    def open(self, provider: Provider, cluster_id: str) -> RedshiftProvisioning:
        return RedshiftProvisioning.open(cluster_id, session=provider.session, clock=provider.clock)

    def create(
        self, provider: Provider, props: dict[str, Any], tags: dict[str, str]
    ) -> tuple[RedshiftProvisioning, Operation | None]:
        options: dict[str, Any] = {
            "DBName": props["DBName"],
            "MasterUsername": props["MasterUsername"],
            "Encrypted": props["Encrypted"],
            "PubliclyAccessible": props["PubliclyAccessible"],
            "Port": props["Port"],
            "Tags": tag_list({**props["Tags"], **tags}),
        }
        for name in ("ClusterSubnetGroupName", "VpcSecurityGroupIds", "KmsKeyId", *_CREATE_SETTINGS):
            if props[name] not in (None, []):
                options[name] = props[name]
        restore_from = {name: props[name] for name in _RESTORE_PROPERTIES if props[name]}
        redshift = client("redshift", provider.session)
        cluster_id = props["ClusterIdentifier"]
        group = props["ClusterParameterGroupName"]
        owned_group = group == owned_parameter_group_name(cluster_id)
        if owned_group:
            ensure_tls_parameter_group(redshift, group, {**props["Tags"], **tags}, cluster_name=cluster_id)
        try:
            cluster = RedshiftProvisioning.create(
                cluster_id,
                initial_instance_type=props["NodeType"],
                initial_cluster_size=props["NumberOfNodes"],
                session=provider.session,
                clock=provider.clock,
                wait=False,
                restore_from=restore_from or None,
                logging_properties=props["LoggingProperties"],
                **options,
            )
        except DbscaleError:
            if owned_group and not delete_owned_parameter_group(redshift, group, tags):
                LOG.info("parameter group %s is in use; kept for the cluster that uses it", group)
            raise
        return cluster, cluster.pending_operation

    def _begin_update(self, provider: Provider, request: Request, props: dict[str, Any], state: ClusterState) -> None:
        super()._begin_update(provider, request, props, state)
        changed = state.resource.settings or {}
        group = changed.get("ClusterParameterGroupName")
        if group is None:
            return
        cluster_id = props["ClusterIdentifier"]
        owned = owned_parameter_group_name(cluster_id)
        redshift = client("redshift", provider.session)
        if group == owned:
            # Back to dbscale's own group (a named one was removed): make it before switching.
            ensure_tls_parameter_group(redshift, owned, {**props["Tags"], **cfn_tags(request)}, cluster_name=cluster_id)
        else:
            changed[_FORMER_GROUP] = {"group": owned, "tags": cfn_tags(request)}

    def _delete(self, provider: Provider, request: Request, state: ClusterState) -> Progress:
        progress = super()._delete(provider, request, state)
        cluster_id = request.physical_id or request.failed_create_id
        if progress.done:
            try:
                validate_cluster_identifier(cluster_id)
            except DbscaleError:
                return progress
            group = owned_parameter_group_name(cluster_id)
            if not delete_owned_parameter_group(client("redshift", provider.session), group, cfn_tags(request)):
                LOG.info("parameter group %s is still used by a cluster; kept", group)
        return progress

    def converge(self, cluster: RedshiftProvisioning, props: dict[str, Any]) -> Operation:
        return cluster.rescale(
            new_cluster_size=props["NumberOfNodes"],
            new_paused=props["Paused"],
            new_instance_type=props["NodeType"],
            resize_type=props["ResizeType"],
            wait=False,
            after_pending=True,
        )

    def plan(self, cluster: RedshiftProvisioning, props: dict[str, Any]) -> Any:
        return cluster.plan_rescale(
            props["NumberOfNodes"],
            new_paused=props["Paused"],
            new_instance_type=props["NodeType"],
            resize_type=props["ResizeType"],
        )

    def settings_operation(
        self, cluster: RedshiftProvisioning, changed: dict[str, Any], props: dict[str, Any], *, new_paused: bool | None
    ) -> Operation:
        if "VpcSecurityGroupIds" in changed and changed["VpcSecurityGroupIds"] is None:
            changed["VpcSecurityGroupIds"] = []
        former_group = changed.pop(_FORMER_GROUP, None)
        if "IamRoles" in changed or "DefaultIamRoleArn" in changed:
            changed["IamRoles"] = props["IamRoles"]  # ModifyClusterIamRoles works from the full list
            changed["DefaultIamRoleArn"] = props["DefaultIamRoleArn"]
        # A property removed from the template keeps what the cluster has (AWS has no "unset").
        changed = {k: v for k, v in changed.items() if v is not None}
        return cluster.modify_settings(
            new_paused=new_paused,
            wait=False,
            after_pending=True,
            reboot_for_parameter_changes=props["RebootForParameterChanges"],
            then_delete_parameter_group=former_group,
            **changed,
        )

    def expected_attributes(self, props: dict[str, Any]) -> dict[str, str]:
        return text_attributes(
            {"NodeType": props["NodeType"], "NumberOfNodes": props["NumberOfNodes"], "Paused": props["Paused"]}
        )

    def attributes(self, cluster: RedshiftProvisioning, request: Request) -> dict[str, str]:
        c = cluster.describe()
        endpoint = c.get("Endpoint") or {}
        groups = c.get("ClusterParameterGroups") or []
        return text_attributes(
            {
                "Endpoint.Address": endpoint.get("Address"),
                "Endpoint.Port": endpoint.get("Port"),
                "ClusterIdentifier": c["ClusterIdentifier"],
                "NodeType": c["NodeType"],
                "NumberOfNodes": c["NumberOfNodes"],
                "Paused": c["ClusterStatus"] == "paused",
                "SecretArn": c.get("MasterPasswordSecretArn"),
                "ParameterGroupName": groups[0].get("ParameterGroupName") if groups else None,
                "ParameterApplyStatus": groups[0].get("ParameterApplyStatus") if groups else None,
                "Adopted": not owned_by(tag_dict(c.get("Tags")), request),
            }
        )


provider = Provider(RedshiftClusterResource())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """The Lambda entry point for Custom::RedshiftCluster."""
    return provider.handle(event, context)
