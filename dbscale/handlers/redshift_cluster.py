"""Custom::RedshiftCluster: ``dbscale.handlers.redshift_cluster.handler``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbscale.core.aws import tag_dict, tag_list
from dbscale.core.limits import REDSHIFT_DEFAULT_PORT
from dbscale.core.operation import Operation
from dbscale.core.redshift import RESIZE_TYPES, RedshiftProvisioning
from dbscale.core.validation import (
    validate_cluster_identifier,
    validate_kms_key_id,
    validate_port,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_nodes,
    validate_redshift_subnet_group_name,
    validate_security_group_ids,
)

from .cluster import ClusterResource, owned_by, text_attributes
from .properties import Prop
from .runtime import Provider, Request

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
)

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
    settings = ("VpcSecurityGroupIds", "Port", "PubliclyAccessible")
    encryption_property = "Encrypted"
    public_property = "PubliclyAccessible"
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

    def open(self, provider: Provider, cluster_id: str) -> RedshiftProvisioning:
        return RedshiftProvisioning(cluster_id, session=provider.session, clock=provider.clock)

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
        for name in ("ClusterSubnetGroupName", "VpcSecurityGroupIds", "KmsKeyId"):
            if props[name]:
                options[name] = props[name]
        cluster = RedshiftProvisioning(
            props["ClusterIdentifier"],
            initial_instance_type=props["NodeType"],
            initial_cluster_size=props["NumberOfNodes"],
            session=provider.session,
            clock=provider.clock,
            wait=False,
            **options,
        )
        return cluster, cluster.pending_operation

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
        return cluster.modify_settings(new_paused=new_paused, wait=False, after_pending=True, **changed)

    def expected_attributes(self, props: dict[str, Any]) -> dict[str, str]:
        return text_attributes(
            {"NodeType": props["NodeType"], "NumberOfNodes": props["NumberOfNodes"], "Paused": props["Paused"]}
        )

    def attributes(self, cluster: RedshiftProvisioning, request: Request) -> dict[str, str]:
        c = cluster.describe()
        endpoint = c.get("Endpoint") or {}
        return text_attributes(
            {
                "Endpoint.Address": endpoint.get("Address"),
                "Endpoint.Port": endpoint.get("Port"),
                "ClusterIdentifier": c["ClusterIdentifier"],
                "NodeType": c["NodeType"],
                "NumberOfNodes": c["NumberOfNodes"],
                "Paused": c["ClusterStatus"] == "paused",
                "SecretArn": c.get("MasterPasswordSecretArn"),
                "Adopted": not owned_by(tag_dict(c.get("Tags")), request),
            }
        )


provider = Provider(RedshiftClusterResource())


def handler(event: dict[str, Any], context: Any) -> None:
    """The Lambda entry point for Custom::RedshiftCluster."""
    provider.handle(event, context)
