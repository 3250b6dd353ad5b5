"""Custom::AuroraCluster's references: parameter groups (and their family), subnet group, security
groups, KMS keys, the monitoring role, the restore source, and the account's RDS quotas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine_versions import parameter_group_family
from ..errors import Problem
from .common import iam_role, kms_key, other_region, rds_cluster, security_groups, unless_missing
from .engine import Check, PreflightContext
from .quotas import rds_quota_check

MONITORING_PRINCIPAL = "monitoring.rds.amazonaws.com"
_VERSIONED = ("Engine", "EngineVersion")


def expected_family(props: Mapping[str, Any]) -> str | None:
    """The parameter group family EngineVersion needs (None: no version given, RDS picks one)."""
    version = props.get("EngineVersion")
    return parameter_group_family(props["Engine"], version) if version else None


def _family_note(props: Mapping[str, Any]) -> str:
    family = expected_family(props)
    return f" (family {family} expected for EngineVersion {props['EngineVersion']})" if family else ""


def _family_problem(prop: str, kind: str, name: str, family: str, props: Mapping[str, Any]) -> list[Problem]:
    expected = expected_family(props)
    if expected is not None and family != expected:
        return [
            Problem(
                prop,
                f"{kind} '{name}' is of family {family}, but EngineVersion {props['EngineVersion']} needs {expected}",
                f"give a group of family {expected}",
            )
        ]
    if expected is None and not family.startswith(props["Engine"]):
        return [Problem(prop, f"{kind} '{name}' is of family {family}, not of engine {props['Engine']}", "")]
    return []


def _parameter_group(context: PreflightContext, prop: str, name: str, *, cluster: bool) -> list[Problem]:
    """A cluster (``cluster``) or instance parameter group exists, of the family the engine needs."""
    rds, props = context.client("rds"), context.props
    kind = "DB cluster parameter group" if cluster else "DB parameter group"
    if cluster:
        found = unless_missing(
            lambda: rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=name),
            "DBParameterGroupNotFound",
        )
        groups = (found or {}).get("DBClusterParameterGroups") or []
    else:
        found = unless_missing(
            lambda: rds.describe_db_parameter_groups(DBParameterGroupName=name), "DBParameterGroupNotFound"
        )
        groups = (found or {}).get("DBParameterGroups") or []
    if not groups:
        command = "create-db-cluster-parameter-group" if cluster else "create-db-parameter-group"
        where = f"no {kind} '{name}' in {context.region}{_family_note(props)}"
        return [Problem(prop, where, f"create it (aws rds {command}) or give one that exists")]
    return _family_problem(prop, kind, name, groups[0]["DBParameterGroupFamily"], props)


def cluster_parameter_group(context: PreflightContext, name: str) -> list[Problem]:
    return _parameter_group(context, "DBClusterParameterGroupName", name, cluster=True)


def instance_parameter_group(context: PreflightContext, name: str) -> list[Problem]:
    return _parameter_group(context, "DBInstanceParameterGroupName", name, cluster=False)


def subnet_group_vpc(context: PreflightContext, name: str) -> str | None:
    """The VPC of DB subnet group ``name`` (None: no such group), read once per request."""

    def read() -> str | None:
        rds = context.client("rds")
        found = unless_missing(
            lambda: rds.describe_db_subnet_groups(DBSubnetGroupName=name),
            "DBSubnetGroupNotFoundFault",
            "DBSubnetGroupNotFound",
        )
        groups = (found or {}).get("DBSubnetGroups") or []
        return str(groups[0].get("VpcId") or "") if groups else None

    found = context.once(("rds-subnet-group", name), read)
    return None if found is None else str(found)


def subnet_group(context: PreflightContext, name: str) -> list[Problem]:
    if subnet_group_vpc(context, name) is None:
        return [
            Problem(
                "DBSubnetGroupName",
                f"no DB subnet group '{name}' in {context.region}",
                "create it (aws rds create-db-subnet-group) or give one that exists",
            )
        ]
    return []


def vpc_security_groups(context: PreflightContext, ids: list[str]) -> list[Problem]:
    group = context.props.get("DBSubnetGroupName")
    vpc = subnet_group_vpc(context, group) if group else None
    return security_groups(context, "VpcSecurityGroupIds", ids, vpc)


def _restore_fit(prop: str, value: str, source: Mapping[str, Any], props: Mapping[str, Any]) -> list[Problem]:
    """The restore source's engine and encryption against the properties."""
    problems = []
    engine = source.get("Engine")
    if engine and engine != props["Engine"]:
        problems.append(
            Problem(prop, f"'{value}' is a {engine} source, not {props['Engine']}", f"give Engine {engine}")
        )
    if props["StorageEncrypted"] and not props.get("KmsKeyId") and not source.get("StorageEncrypted"):
        # A restore keeps its source's encryption unless KmsKeyId encrypts the copy.
        problems.append(
            Problem(
                prop,
                f"{prop} '{value}' is not encrypted, so the restored cluster would not be either",
                "give KmsKeyId to encrypt it (StorageEncrypted is true)",
            )
        )
    return problems


def restore_snapshot(context: PreflightContext, value: str) -> list[Problem]:
    prop = "SnapshotIdentifier"
    elsewhere = other_region(context, prop, value, "snapshot")
    if elsewhere:
        return elsewhere
    rds = context.client("rds")
    found = unless_missing(
        lambda: rds.describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=value, IncludeShared=True, IncludePublic=True
        ),
        "DBClusterSnapshotNotFoundFault",
    )
    snapshots = (found or {}).get("DBClusterSnapshots") or []
    if not snapshots:
        return [Problem(prop, f"no DB cluster snapshot '{value}' this account can restore in {context.region}", "")]
    snapshot = snapshots[0]
    if snapshot.get("Status", "available") != "available":
        return [Problem(prop, f"snapshot '{value}' is {snapshot['Status']}, not available", "wait until it is")]
    return _restore_fit(prop, value, snapshot, context.props)


def restore_cluster(context: PreflightContext, value: str) -> list[Problem]:
    prop = "SourceDBClusterIdentifier"
    cluster = rds_cluster(context, value)
    if cluster is None:
        return [Problem(prop, f"no Aurora cluster '{value}' in {context.region}", "give a cluster that exists")]
    return _restore_fit(prop, value, cluster, context.props)


def _key(prop: str) -> Any:
    return lambda context, value: kms_key(context, prop, value)


def checks(props: Mapping[str, Any]) -> list[Check]:
    """The checks of the properties present (none for an absent one), in property order."""
    table: list[tuple[str, Any, tuple[str, ...]]] = [
        ("DBClusterParameterGroupName", cluster_parameter_group, _VERSIONED),
        ("DBInstanceParameterGroupName", instance_parameter_group, _VERSIONED),
        ("DBSubnetGroupName", subnet_group, ()),
        ("VpcSecurityGroupIds", vpc_security_groups, ("DBSubnetGroupName",)),
        ("KmsKeyId", _key("KmsKeyId"), ()),
        ("MasterUserSecretKmsKeyId", _key("MasterUserSecretKmsKeyId"), ()),
        ("PerformanceInsightsKmsKeyId", _key("PerformanceInsightsKmsKeyId"), ()),
        ("MonitoringRoleArn", lambda c, v: iam_role(c, "MonitoringRoleArn", v, MONITORING_PRINCIPAL), ()),
        ("SnapshotIdentifier", restore_snapshot, ("Engine", "StorageEncrypted", "KmsKeyId")),
        ("SourceDBClusterIdentifier", restore_cluster, ("Engine", "StorageEncrypted", "KmsKeyId")),
    ]
    found = [Check(name, props[name], run, depends) for name, run, depends in table if props.get(name)]
    found.append(rds_quota_check(1, 1 + int(props.get("ReaderCount") or 0), instance_property="ReaderCount"))
    return found
