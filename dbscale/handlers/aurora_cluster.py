"""Custom::AuroraCluster: ``dbscale.handlers.aurora_cluster.handler``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbscale.core.aurora import RdsProvisioning
from dbscale.core.aws import tag_dict, tag_list
from dbscale.core.limits import (
    AURORA_BACKUP_RETENTION_DAYS,
    AURORA_DEFAULT_MASTER_USERNAME,
    AURORA_ENGINES,
)
from dbscale.core.operation import Operation
from dbscale.core.validation import (
    validate_aurora_cluster,
    validate_aurora_db_name,
    validate_aurora_master_username,
    validate_auto_pause,
    validate_cluster_identifier,
    validate_db_subnet_group_name,
    validate_engine_version,
    validate_kms_key_id,
    validate_parameter_group_name,
    validate_security_group_ids,
)

from .cluster import ClusterResource, owned_by, text_attributes
from .properties import Prop
from .runtime import Provider, Request

SCHEMA: tuple[Prop, ...] = (
    Prop("ClusterIdentifier", required=True),
    Prop("Engine", default="aurora-postgresql", choices=AURORA_ENGINES, immutable=True),
    Prop("EngineVersion"),
    Prop("InstanceClass", required=True),
    Prop("ServerlessV2MinCapacity", "float"),
    Prop("ServerlessV2MaxCapacity", "float"),
    Prop("ServerlessV2SecondsUntilAutoPause", "int"),
    Prop("ReaderCount", "int", default=0),
    Prop("Paused", "bool", default=False),
    Prop("DatabaseName", immutable=True),
    Prop("MasterUsername", immutable=True),
    Prop("DBSubnetGroupName", immutable=True),
    Prop("VpcSecurityGroupIds", "list"),
    Prop("DBClusterParameterGroupName"),
    Prop("StorageEncrypted", "bool", default=True, immutable=True),
    Prop("KmsKeyId", immutable=True),
    Prop("EnableIAMDatabaseAuthentication", "bool", default=False),
    Prop("EnableHttpEndpoint", "bool", default=False),
    Prop("CopyTagsToSnapshot", "bool", default=True),
    Prop(
        "BackupRetentionPeriod",
        "int",
        default=7,
        minimum=AURORA_BACKUP_RETENTION_DAYS[0],
        maximum=AURORA_BACKUP_RETENTION_DAYS[1],
    ),
    Prop("ApplyImmediately", "bool", default=True),
    Prop("SkipFinalSnapshot", "bool", default=False),
    Prop("AdoptExisting", "bool", default=False),
    Prop("WaitForCompletion", "bool", default=True),
    Prop("Autoscaled", "bool", default=False),
    Prop("Tags", "tags", default={}),
)
_FIELDS = {
    "engine": "Engine",
    "instance_class": "InstanceClass",
    "reader_count": "ReaderCount",
    "serverless_v2_min_acu": "ServerlessV2MinCapacity",
    "serverless_v2_max_acu": "ServerlessV2MaxCapacity",
}

# Optional properties AWS constrains, and their checks (each names the property it reads).
_OPTIONAL_CHECKS: dict[str, Callable[..., object]] = {
    "EngineVersion": validate_engine_version,
    "DBSubnetGroupName": validate_db_subnet_group_name,
    "VpcSecurityGroupIds": validate_security_group_ids,
    "DBClusterParameterGroupName": validate_parameter_group_name,
    "KmsKeyId": validate_kms_key_id,
}


SIGNAL_ATTRIBUTES = (
    "Endpoint.Address",
    "Endpoint.Port",
    "ReadEndpoint.Address",
    "ClusterArn",
    "InstanceClass",
    "ReaderCount",
    "Paused",
    "SecretArn",
)
"""Attributes a completion signal carries, in this order (the construct reads them back by position)."""


class AuroraClusterResource(ClusterResource):
    resource_type = "Custom::AuroraCluster"
    service = "Aurora"
    schema = SCHEMA
    size_properties = ("InstanceClass", "ReaderCount", "ServerlessV2MinCapacity", "ServerlessV2MaxCapacity")
    signal_attributes = SIGNAL_ATTRIBUTES
    argument_names = {
        **_FIELDS,
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
    )
    encryption_property = "StorageEncrypted"

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        if props["MasterUsername"] is None and props["Engine"] in AURORA_DEFAULT_MASTER_USERNAME:
            props["MasterUsername"] = AURORA_DEFAULT_MASTER_USERNAME[props["Engine"]]
        return props

    def validate(self, props: dict[str, Any], request: Request) -> None:
        validate_cluster_identifier(props["ClusterIdentifier"], field="ClusterIdentifier")
        validate_aurora_cluster(
            engine=props["Engine"],
            instance_class=props["InstanceClass"],
            reader_count=props["ReaderCount"],
            serverless_v2_min_acu=props["ServerlessV2MinCapacity"],
            serverless_v2_max_acu=props["ServerlessV2MaxCapacity"],
            fields=_FIELDS,
        )
        validate_auto_pause(
            props["ServerlessV2SecondsUntilAutoPause"],
            props["ServerlessV2MinCapacity"],
            field="ServerlessV2SecondsUntilAutoPause",
            min_field="ServerlessV2MinCapacity",
        )
        engine = props["Engine"]
        if props["DatabaseName"] is not None:
            validate_aurora_db_name(props["DatabaseName"], engine=engine, field="DatabaseName")
        if props["MasterUsername"] is not None:
            validate_aurora_master_username(props["MasterUsername"], engine=engine, field="MasterUsername")
        for name, check in _OPTIONAL_CHECKS.items():
            if props[name] is not None:
                check(props[name], field=name)

    def open(self, provider: Provider, cluster_id: str) -> RdsProvisioning:
        return RdsProvisioning(cluster_id, session=provider.session, clock=provider.clock)

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
        ):
            if props[name]:
                options[name] = props[name]
        cluster = RdsProvisioning(
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
            **options,
        )
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
        return cluster.modify_settings(
            apply_immediately=props["ApplyImmediately"],
            new_paused=new_paused,
            wait=False,
            after_pending=True,
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
                "Adopted": not owned_by(tag_dict(c.get("TagList")), request),
            }
        )


provider = Provider(AuroraClusterResource())


def handler(event: dict[str, Any], context: Any) -> None:
    """The Lambda entry point for Custom::AuroraCluster."""
    provider.handle(event, context)
