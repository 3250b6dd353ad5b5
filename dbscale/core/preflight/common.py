"""Checks shared by the resource types: KMS keys, IAM roles, security groups, ARNs of another region."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from botocore.exceptions import ClientError

from ..errors import Problem
from .engine import PreflightContext, error_code

KMS_NOT_FOUND = ("NotFoundException",)
T = TypeVar("T")


def unless_missing(read: Callable[[], T], *codes: str) -> T | None:
    """``read()``, or None when AWS answers one of the not-found ``codes``."""
    try:
        return read()
    except ClientError as err:
        if error_code(err) not in codes:
            raise
        return None


def rds_cluster(context: PreflightContext, identifier: str) -> dict[str, Any] | None:
    """The described Aurora cluster (an identifier or ARN), None when there is none."""
    rds = context.client("rds")
    found = unless_missing(lambda: rds.describe_db_clusters(DBClusterIdentifier=identifier), "DBClusterNotFoundFault")
    clusters = (found or {}).get("DBClusters") or []
    return dict(clusters[0]) if clusters else None


def arn_region(value: str) -> str | None:
    """The region of an ARN (``arn:aws:kms:eu-west-1:...`` -> ``eu-west-1``), None for a plain name
    or an ARN without one (IAM)."""
    parts = value.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def other_region(context: PreflightContext, prop: str, value: str, what: str) -> list[Problem]:
    """A problem when ``value`` is an ARN of a region other than the request's (no call made)."""
    region = arn_region(value)
    if region is None or region == context.region:
        return []
    return [
        Problem(
            prop,
            f"{what} '{value}' is in {region}, not in {context.region} where this resource is made",
            f"give one in {context.region}",
        )
    ]


def kms_key(context: PreflightContext, prop: str, value: str) -> list[Problem]:
    """The key exists in this region and is enabled (not disabled, not pending deletion or import)."""
    found = other_region(context, prop, value, "KMS key")
    if found:
        return found
    try:
        key = context.client("kms").describe_key(KeyId=value)["KeyMetadata"]
    except ClientError as err:
        if error_code(err) not in KMS_NOT_FOUND:
            raise
        return [Problem(prop, f"no KMS key '{value}' in {context.region}", "give the ARN or alias of a key there")]
    state = key.get("KeyState", "Enabled")
    if state == "Enabled":
        return []
    if state == "PendingDeletion":
        when = key.get("DeletionDate")
        return [
            Problem(
                prop,
                f"KMS key '{value}' is pending deletion" + (f" (on {when:%Y-%m-%d})" if when else ""),
                "cancel its deletion (aws kms cancel-key-deletion) and enable it, or give another key",
            )
        ]
    return [Problem(prop, f"KMS key '{value}' is {state}", "enable it (aws kms enable-key) or give another key")]


def trusts(document: Any, principal: str) -> bool:
    """True when a role's trust policy lets ``principal`` (a service) assume it."""
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = (document or {}).get("Statement") or []
    for statement in [statements] if isinstance(statements, dict) else statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = (statement.get("Principal") or {}).get("Service") or []
        services = [services] if isinstance(services, str) else services
        if principal in services:
            return True
    return False


def iam_role(context: PreflightContext, prop: str, value: str, principal: str) -> list[Problem]:
    """The role exists and its trust policy lets ``principal`` assume it (one GetRole per role,
    shared by the properties that name it)."""
    name = value.rsplit("/", 1)[-1]

    def read() -> dict[str, Any] | None:
        found = unless_missing(lambda: context.client("iam").get_role(RoleName=name), "NoSuchEntity")
        return None if found is None else dict(found["Role"])

    role = context.once(("iam-role", name), read)
    if role is None:
        return [
            Problem(prop, f"no IAM role '{value}' in this account", "create it, or give the ARN of an existing one")
        ]
    if not trusts(role.get("AssumeRolePolicyDocument"), principal):
        return [
            Problem(
                prop,
                f"IAM role '{value}' does not let {principal} assume it",
                f"add {principal} as a trusted service (Principal.Service) to its trust policy",
            )
        ]
    return []


def security_groups(context: PreflightContext, prop: str, ids: list[str], vpc: str | None) -> list[Problem]:
    """Every group exists in this region (one call for all of them), and in ``vpc`` when it is known."""
    found = context.client("ec2").describe_security_groups(Filters=[{"Name": "group-id", "Values": list(ids)}])
    vpcs = {g["GroupId"]: g.get("VpcId") for g in found.get("SecurityGroups", [])}
    problems = []
    missing = [i for i in ids if i not in vpcs]
    if missing:
        problems.append(
            Problem(prop, f"no security group {', '.join(missing)} in {context.region}", "give groups that exist there")
        )
    elsewhere = [i for i in ids if i in vpcs and vpc is not None and vpcs[i] != vpc]
    if elsewhere:
        problems.append(
            Problem(
                prop,
                f"security group {', '.join(elsewhere)} is not in the subnet group's VPC {vpc}",
                "give groups of that VPC",
            )
        )
    return problems
