"""Custom::AuroraCluster: ``dbscale.handlers.aurora_cluster.handler``."""

from __future__ import annotations

from typing import Any

from dbscale.cfn import LOG, Progress, Provider, Request, parse
from dbscale.core.aurora import RdsProvisioning, describe_db_instance, pending_reboot
from dbscale.core.aurora.settings import (
    delete_parameter_group,
    ensure_tls_parameter_group,
    owned_parameter_group_name,
    supports_performance_insights,
    tls_required,
)
from dbscale.core.aws import aws_errors, client, tag_dict, tag_list
from dbscale.core.clones import parse_timestamp
from dbscale.core.errors import AwsError, ClusterAlreadyExists, DeletionProtected, InvalidRequest
from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import (
    AURORA_DEFAULT_LOG_EXPORTS,
    AURORA_DEFAULT_MASTER_USERNAME,
)
from dbscale.core.operation import Operation

from .aurora_properties import (
    FIELDS,
    INSTANCE_PROPERTIES,
    KEYS_SET_ONCE,
    SCHEMA,
    SIGNAL_ATTRIBUTES,
    instance_settings,
    validate_properties,
)
from .cluster import LOGICAL_ID_TAG_KEY, STACK_TAG_KEY, ClusterResource, ClusterState, owned_by, text_attributes


class AuroraClusterResource(ClusterResource):
    resource_type = "Custom::AuroraCluster"
    service = "Aurora"
    schema = SCHEMA
    size_properties = ("InstanceClass", "ReaderCount", "ServerlessV2MinCapacity", "ServerlessV2MaxCapacity")
    signal_attributes = SIGNAL_ATTRIBUTES
    argument_names = {
        **FIELDS,
        "cluster_name": "ClusterIdentifier",
        "initial_instance_type": "InstanceClass",
        "new_instance_type": "InstanceClass",
        "new_reader_count": "ReaderCount",
        "new_serverless_v2_capacity[0]": "ServerlessV2MinCapacity",
        "new_serverless_v2_capacity[1]": "ServerlessV2MaxCapacity",
        "new_paused": "Paused",
        "apply_immediately": "ApplyImmediately",
        "engine": "Engine",
    }
    settings = (
        "EngineVersion",
        "VpcSecurityGroupIds",
        "DBClusterParameterGroupName",
        "EnableIAMDatabaseAuthentication",
        "CopyTagsToSnapshot",
        "BackupRetentionPeriod",
        "EnableHttpEndpoint",
        "ServerlessV2SecondsUntilAutoPause",
        "DeletionProtection",
        "EnableCloudwatchLogsExports",
        "PreferredBackupWindow",
        "PreferredMaintenanceWindow",
        *(name for name in INSTANCE_PROPERTIES if name != "PerformanceInsightsKmsKeyId"),
    )
    encryption_property = "StorageEncrypted"
    tls_property = "DBClusterParameterGroupName"

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        if props["MasterUsername"] is None and props["Engine"] in AURORA_DEFAULT_MASTER_USERNAME:
            props["MasterUsername"] = AURORA_DEFAULT_MASTER_USERNAME[props["Engine"]]
        if props["EnableCloudwatchLogsExports"] is None and props["Engine"] in AURORA_DEFAULT_LOG_EXPORTS:
            props["EnableCloudwatchLogsExports"] = list(AURORA_DEFAULT_LOG_EXPORTS[props["Engine"]])
        return props

    def validate(self, props: dict[str, Any], request: Request) -> None:
        validate_properties(props)

    def _begin_update(self, provider: Provider, request: Request, props: dict[str, Any], state: ClusterState) -> None:
        try:
            old = self.normalize(parse(self.schema, request.old_properties))
        except InvalidRequest:
            old = {}
        for name in KEYS_SET_ONCE:
            if old.get(name) is not None and old[name] != props[name]:
                raise InvalidRequest(
                    f"{name} cannot change in place (AWS cannot re-encrypt what the key already protects). Set a "
                    "new ClusterIdentifier to replace the cluster, or keep the key.",
                    field=name,
                )
            if old and old.get(name) is None and props[name] is not None:
                LOG.warning(
                    "%s given for an existing cluster: it applies only to what is encrypted from now on (an "
                    "instance turning Performance Insights on); AWS keeps the key of what it already encrypted",
                    name,
                )
        super()._begin_update(provider, request, props, state)

    def adoption_violations(
        self, provider: Provider, cluster: RdsProvisioning, guardrails: Guardrails
    ) -> list[tuple[str, str]]:
        return adoption_violations(client("rds", provider.session), cluster.describe(), guardrails)

    def tls_setting(self, provider: Provider, props: dict[str, Any]) -> tuple[str, str, bool] | None:
        name = props["DBClusterParameterGroupName"]
        if name is None:
            return None  # dbscale makes and owns a group that requires TLS
        return "DBClusterParameterGroupName", name, tls_required(client("rds", provider.session), name, props["Engine"])

    def open(self, provider: Provider, cluster_id: str) -> RdsProvisioning:
        return RdsProvisioning.open(cluster_id, session=provider.session, clock=provider.clock)

    def create(
        self, provider: Provider, props: dict[str, Any], tags: dict[str, str]
    ) -> tuple[RdsProvisioning, Operation | None]:
        options: dict[str, Any] = {
            "MasterUsername": props["MasterUsername"],
            "StorageEncrypted": props["StorageEncrypted"],
            "CopyTagsToSnapshot": props["CopyTagsToSnapshot"],
            "BackupRetentionPeriod": props["BackupRetentionPeriod"],
            "EnableIAMDatabaseAuthentication": props["EnableIAMDatabaseAuthentication"],
            "EnableHttpEndpoint": props["EnableHttpEndpoint"],
            "Tags": tag_list({**props["Tags"], **tags}),
        }
        for name in (
            "DatabaseName",
            "DBSubnetGroupName",
            "VpcSecurityGroupIds",
            "DBClusterParameterGroupName",
            "KmsKeyId",
            "EnableCloudwatchLogsExports",
            "PreferredBackupWindow",
            "PreferredMaintenanceWindow",
            "MasterUserSecretKmsKeyId",
            "DeletionProtection",
        ):
            if props[name]:
                options[name] = props[name]
        restore = None
        if props["SnapshotIdentifier"]:
            restore = {"SnapshotIdentifier": props["SnapshotIdentifier"]}
        elif props["SourceDBClusterIdentifier"]:
            restore = {"SourceDBClusterIdentifier": props["SourceDBClusterIdentifier"]}
            if props["UseLatestRestorableTime"]:
                restore["UseLatestRestorableTime"] = True
            else:
                restore["RestoreToTime"] = parse_timestamp(props["RestoreToTime"], field="RestoreToTime")
        rds = client("rds", provider.session)
        owned_group = None
        if props["DBClusterParameterGroupName"] is None:
            # The family follows EngineVersion (a major or a full version), else AWS's default version.
            owned_group = options["DBClusterParameterGroupName"] = ensure_tls_parameter_group(
                rds,
                owned_parameter_group_name(props["ClusterIdentifier"]),
                props["Engine"],
                props["EngineVersion"],
                tags,
            )
        try:
            cluster = RdsProvisioning.create(
                props["ClusterIdentifier"],
                initial_instance_type=props["InstanceClass"],
                engine=props["Engine"],
                engine_version=props["EngineVersion"],
                reader_count=props["ReaderCount"],
                serverless_v2_min_acu=props["ServerlessV2MinCapacity"],
                serverless_v2_max_acu=props["ServerlessV2MaxCapacity"],
                serverless_v2_seconds_until_auto_pause=props["ServerlessV2SecondsUntilAutoPause"],
                session=provider.session,
                clock=provider.clock,
                wait=False,
                instance_settings=instance_settings(props),
                restore=restore,
                **options,
            )
        except (InvalidRequest, ClusterAlreadyExists):
            # Refused before a cluster was made: the marker physical id will not lead a Delete here.
            if owned_group is not None:
                delete_parameter_group(rds, owned_group)
            raise
        return cluster, cluster.pending_operation

    def converge(self, cluster: RdsProvisioning, props: dict[str, Any]) -> Operation:
        acu = None
        if props["ServerlessV2MaxCapacity"] is not None:
            acu = (props["ServerlessV2MinCapacity"], props["ServerlessV2MaxCapacity"])
        return cluster.rescale(
            immediate=props["ApplyImmediately"],
            new_paused=props["Paused"],
            new_instance_type=props["InstanceClass"],
            new_reader_count=props["ReaderCount"],
            new_serverless_v2_capacity=acu,
            wait=False,
            after_pending=True,
            instance_settings=instance_settings(props),
        )

    def plan(self, cluster: RdsProvisioning, props: dict[str, Any]) -> Any:
        acu = None
        if props["ServerlessV2MaxCapacity"] is not None:
            acu = (props["ServerlessV2MinCapacity"], props["ServerlessV2MaxCapacity"])
        return cluster.plan_rescale(
            props["ApplyImmediately"],
            new_paused=props["Paused"],
            new_instance_type=props["InstanceClass"],
            new_reader_count=props["ReaderCount"],
            new_serverless_v2_capacity=acu,
        )

    def settings_operation(
        self, cluster: RdsProvisioning, changed: dict[str, Any], props: dict[str, Any], *, new_paused: bool | None
    ) -> Operation:
        if "VpcSecurityGroupIds" in changed and changed["VpcSecurityGroupIds"] is None:
            changed["VpcSecurityGroupIds"] = []
        if "EngineVersion" in changed and changed["EngineVersion"] is None:
            del changed["EngineVersion"]  # removing the property keeps the running version
        if "EnableHttpEndpoint" in changed:  # its own API for Serverless v2 and provisioned clusters
            cluster.set_http_endpoint(bool(changed.pop("EnableHttpEndpoint")))
        if "ServerlessV2SecondsUntilAutoPause" in changed:
            # Not yet a step of the operation: sent at once (AWS refuses it on a stopped cluster).
            seconds = changed.pop("ServerlessV2SecondsUntilAutoPause")
            if seconds is not None:  # removing the property keeps the running delay
                cluster.set_auto_pause(
                    seconds,
                    capacity=(props["ServerlessV2MinCapacity"], props["ServerlessV2MaxCapacity"]),
                    apply_immediately=props["ApplyImmediately"],
                )
        if "DBClusterParameterGroupName" in changed and changed["DBClusterParameterGroupName"] is None:
            # Back to the secure default: dbscale's own group, made again if it is gone.
            changed["DBClusterParameterGroupName"] = ensure_tls_parameter_group(
                cluster._client,
                owned_parameter_group_name(cluster.cluster_name),
                props["Engine"],
                cluster.describe().get("EngineVersion"),
                # The cluster's own stack tags: Delete then recognizes the group as this resource's.
                {k: v for k, v in cluster.tags.items() if k in (STACK_TAG_KEY, LOGICAL_ID_TAG_KEY)},
            )
        instance_changed = [name for name in INSTANCE_PROPERTIES if name in changed]
        for name in INSTANCE_PROPERTIES:
            changed.pop(name, None)
        for name in ("PreferredBackupWindow", "PreferredMaintenanceWindow"):
            if name in changed and changed[name] is None:
                del changed[name]  # removing the property keeps the running window
        return cluster.modify_settings(
            apply_immediately=props["ApplyImmediately"],
            new_paused=new_paused,
            wait=False,
            after_pending=True,
            instance_settings=instance_settings(props) if instance_changed else None,
            reboot=props["RebootForParameterChanges"],
            **changed,
        )

    def expected_attributes(self, props: dict[str, Any]) -> dict[str, str]:
        expected: dict[str, object] = {"ReaderCount": props["ReaderCount"], "Paused": props["Paused"]}
        if props.get("InstanceClass"):
            expected["InstanceClass"] = props["InstanceClass"]
        return text_attributes(expected)

    def attributes(self, cluster: RdsProvisioning, request: Request) -> dict[str, str]:
        c = cluster.describe()
        members = c.get("DBClusterMembers", [])
        writer_class = cluster.instance_type
        return text_attributes(
            {
                "Endpoint.Address": c.get("Endpoint"),
                "Endpoint.Port": c.get("Port"),
                "ReadEndpoint.Address": c.get("ReaderEndpoint"),
                "ClusterArn": c.get("DBClusterArn"),
                "ClusterResourceId": c.get("DbClusterResourceId"),
                "InstanceClass": writer_class,
                "ReaderCount": sum(1 for m in members if not m.get("IsClusterWriter")),
                "Paused": c["Status"] == "stopped",
                "SecretArn": (c.get("MasterUserSecret") or {}).get("SecretArn"),
                "HttpEndpointEnabled": bool(c.get("HttpEndpointEnabled")),
                "DeletionProtection": bool(c.get("DeletionProtection")),
                "DBClusterParameterGroupName": c.get("DBClusterParameterGroup"),
                "EnabledCloudwatchLogsExports": ",".join(c.get("EnabledCloudwatchLogsExports") or []),
                "PerformanceInsightsEnabled": performance_insights(cluster, c),
                "PendingReboot": pending_reboot(cluster._client, c),
                "Adopted": not owned_by(tag_dict(c.get("TagList")), request),
            }
        )

    def _delete(self, provider: Provider, request: Request, state: ClusterState) -> Progress:
        try:
            progress = super()._delete(provider, request, state)
        except DeletionProtected:
            raise DeletionProtected(
                f"Aurora cluster '{request.physical_id}' has DeletionProtection on, so it was not deleted and "
                "nothing was changed. To delete it, set DeletionProtection to false and update the stack first, "
                "then delete the resource (or the stack) again."
            ) from None
        if progress.done:
            delete_owned_cluster_parameter_group(provider, request)
        return progress


def adoption_violations(rds: Any, c: dict[str, Any], guardrails: Guardrails) -> list[tuple[str, str]]:
    """(guardrail, what the cluster runs with) for each setting of the described cluster ``c`` that
    ``guardrails`` refuse (AdoptExisting)."""
    found: list[tuple[str, str]] = []
    if not c.get("StorageEncrypted") and not guardrails.allow_unencrypted:
        found.append(("allow_unencrypted", "unencrypted storage"))
    if not guardrails.allow_public_access:
        for member in c.get("DBClusterMembers") or []:
            instance = describe_db_instance(rds, member["DBInstanceIdentifier"])
            if instance.get("PubliclyAccessible"):
                found.append(("allow_public_access", f"public instance '{member['DBInstanceIdentifier']}'"))
                break
    group = c.get("DBClusterParameterGroup")
    if group and not guardrails.allow_tls_off and not tls_required(rds, group, c["Engine"]):
        found.append(("allow_tls_off", f"cluster parameter group '{group}' that leaves TLS optional"))
    return found


def performance_insights(cluster: RdsProvisioning, c: dict[str, Any]) -> str:
    """``true``/``false`` from the writer, or ``unsupported`` when its class has no Performance Insights."""
    writer = cluster._writer(c)
    if writer is None:
        return "false"
    if not writer.get("PerformanceInsightsEnabled") and not supports_performance_insights(
        c["Engine"], writer["DBInstanceClass"]
    ):
        return "unsupported"
    return "true" if writer.get("PerformanceInsightsEnabled") else "false"


def delete_owned_cluster_parameter_group(provider: Provider, request: Request) -> None:
    """Delete the TLS parameter group this resource made for its cluster (after the cluster: a
    group in use cannot be deleted), also after a Create that failed before the cluster existed."""
    cluster_id = request.physical_id or request.failed_create_id
    if not cluster_id:
        return
    name = owned_parameter_group_name(cluster_id)
    rds = client("rds", provider.session)
    try:
        with aws_errors(f"look up cluster parameter group '{name}'"):
            groups = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name)
            arn = groups["DBClusterParameterGroups"][0]["DBClusterParameterGroupArn"]
            tags = tag_dict(rds.list_tags_for_resource(ResourceName=arn).get("TagList"))
    except AwsError:
        return  # no such group (or not ours to read): nothing of ours to delete
    if owned_by(tags, request):
        delete_parameter_group(rds, name)
        LOG.info("deleted cluster parameter group %s, made by this resource for its cluster", name)


provider = Provider(AuroraClusterResource())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """The Lambda entry point for Custom::AuroraCluster."""
    return provider.handle(event, context)
