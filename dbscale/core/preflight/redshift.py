"""Custom::RedshiftCluster's references: parameter group (and its family), subnet group, security
groups, KMS keys, IAM roles (trusting Redshift), and the snapshot a restore starts from.

dbscale's own TLS parameter group (the default, named from the cluster) is made by dbscale and not
checked; nor are the account's node quotas (see :mod:`.quotas`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ..errors import Problem
from .common import iam_role, kms_key, security_groups, unless_missing
from .engine import Check, PreflightContext, error_code

REDSHIFT_PRINCIPAL = "redshift.amazonaws.com"
REDSHIFT_FAMILY = "redshift-1.0"


def parameter_group(context: PreflightContext, name: str) -> list[Problem]:
    prop = "ClusterParameterGroupName"
    try:
        groups = context.client("redshift").describe_cluster_parameter_groups(ParameterGroupName=name)
    except ClientError as err:
        if error_code(err) not in ("ClusterParameterGroupNotFound", "ClusterParameterGroupNotFoundFault"):
            raise
        groups = {}
    found = groups.get("ParameterGroups") or []
    if not found:
        return [
            Problem(
                prop,
                f"no cluster parameter group '{name}' in {context.region} (family {REDSHIFT_FAMILY} expected)",
                "create it (aws redshift create-cluster-parameter-group) or leave the property out for dbscale's own",
            )
        ]
    family = found[0].get("ParameterGroupFamily")
    if family and family != REDSHIFT_FAMILY:
        return [Problem(prop, f"cluster parameter group '{name}' is of family {family}, not {REDSHIFT_FAMILY}", "")]
    return []


def subnet_group_vpc(context: PreflightContext, name: str) -> str | None:
    """The VPC of cluster subnet group ``name`` (None: no such group), read once per request."""

    def read() -> str | None:
        redshift = context.client("redshift")
        groups = unless_missing(
            lambda: redshift.describe_cluster_subnet_groups(ClusterSubnetGroupName=name),
            "ClusterSubnetGroupNotFoundFault",
            "ClusterSubnetGroupNotFound",
        )
        found = (groups or {}).get("ClusterSubnetGroups") or []
        return str(found[0].get("VpcId") or "") if found else None

    found = context.once(("redshift-subnet-group", name), read)
    return None if found is None else str(found)


def subnet_group(context: PreflightContext, name: str) -> list[Problem]:
    if subnet_group_vpc(context, name) is None:
        return [
            Problem(
                "ClusterSubnetGroupName",
                f"no cluster subnet group '{name}' in {context.region}",
                "create it (aws redshift create-cluster-subnet-group) or give one that exists",
            )
        ]
    return []


def vpc_security_groups(context: PreflightContext, ids: list[str]) -> list[Problem]:
    group = context.props.get("ClusterSubnetGroupName")
    vpc = subnet_group_vpc(context, group) if group else None
    return security_groups(context, "VpcSecurityGroupIds", ids, vpc)


def iam_roles(context: PreflightContext, roles: list[str]) -> list[Problem]:
    return [problem for role in roles for problem in iam_role(context, "IamRoles", role, REDSHIFT_PRINCIPAL)]


def default_role(context: PreflightContext, role: str) -> list[Problem]:
    return iam_role(context, "DefaultIamRoleArn", role, REDSHIFT_PRINCIPAL)


def snapshot(context: PreflightContext, value: str) -> list[Problem]:
    """The snapshot exists where this account can restore it (of the given cluster and owner), and
    is available."""
    props = context.props
    query = {"SnapshotIdentifier": value}
    if props.get("SnapshotClusterIdentifier"):
        query["ClusterIdentifier"] = props["SnapshotClusterIdentifier"]
    if props.get("OwnerAccount"):
        query["OwnerAccount"] = props["OwnerAccount"]
    try:
        found = context.client("redshift").describe_cluster_snapshots(**query)["Snapshots"]
    except ClientError as err:
        if error_code(err) not in ("ClusterSnapshotNotFound", "ClusterSnapshotNotFoundFault", "ClusterNotFound"):
            raise
        found = []
    if not found:
        of = f" of cluster '{query['ClusterIdentifier']}'" if "ClusterIdentifier" in query else ""
        return [
            Problem(
                "SnapshotIdentifier",
                f"no snapshot '{value}'{of} this account can restore in {context.region}",
                "give a snapshot that exists (aws redshift describe-cluster-snapshots)",
            )
        ]
    status = found[0].get("Status", "available")
    if status != "available":
        return [Problem("SnapshotIdentifier", f"snapshot '{value}' is {status}, not available", "wait until it is")]
    return []


def _key(prop: str) -> Any:
    return lambda context, value: kms_key(context, prop, value)


def checks(props: Mapping[str, Any], *, owned_parameter_group: str | None = None) -> list[Check]:
    """The checks of the properties present (none for an absent one, nor for dbscale's own
    parameter group ``owned_parameter_group``)."""
    table: list[tuple[str, Any, tuple[str, ...]]] = [
        ("ClusterParameterGroupName", parameter_group, ()),
        ("ClusterSubnetGroupName", subnet_group, ()),
        ("VpcSecurityGroupIds", vpc_security_groups, ("ClusterSubnetGroupName",)),
        ("KmsKeyId", _key("KmsKeyId"), ()),
        ("MasterPasswordSecretKmsKeyId", _key("MasterPasswordSecretKmsKeyId"), ()),
        ("IamRoles", iam_roles, ()),
        ("DefaultIamRoleArn", default_role, ()),
        ("SnapshotIdentifier", snapshot, ("SnapshotClusterIdentifier", "OwnerAccount")),
    ]
    return [
        Check(name, props[name], run, depends)
        for name, run, depends in table
        if props.get(name) and not (name == "ClusterParameterGroupName" and props[name] == owned_parameter_group)
    ]
