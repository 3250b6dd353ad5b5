"""The synth-time checks of ``RedshiftCluster``'s settings: each one where its values are known (a
token waits for the handler's check at deploy time), through the same ``dbscale.core`` rules the
handler applies, so both refuse the same input with the same words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import REDSHIFT_LOG_EXPORTS
from dbscale.core.redshift.settings import (
    normalize_logging,
    validate_account_id,
    validate_automated_snapshot_retention,
    validate_maintenance_track,
    validate_maintenance_window,
    validate_manual_snapshot_retention,
    validate_multi_az,
)
from dbscale.core.validation import (
    validate_cluster_identifier,
    validate_parameter_group_name,
    validate_port,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_resize_type,
)

from ._support import checked, fail, unresolved, warn
from .providers import RedshiftClusterProvider


def check_cluster(
    owner: Construct,
    node_type: str,
    number_of_nodes: int,
    port: int,
    resize_type: str,
    database_name: str,
    master_username: str,
) -> None:
    """The size (a single node is warned: no elastic resize, no redundancy), port, resize type and names."""
    if not unresolved(node_type, number_of_nodes):
        checked(owner, validate_redshift_nodes, node_type, number_of_nodes)
        if number_of_nodes == 1:
            warn(
                owner,
                "singleNode",
                "number_of_nodes is 1: a single-node cluster keeps no second copy of its data on "
                "another node and cannot be resized elastically (resizes are classic, with downtime)",
            )
    elif not unresolved(node_type):
        checked(owner, validate_redshift_node_type, node_type)
    if not unresolved(port):
        checked(owner, validate_port, port)
    if not unresolved(resize_type):
        checked(owner, validate_resize_type, resize_type)
    for check, value, name in (
        (validate_redshift_db_name, database_name, "database_name"),
        (validate_redshift_master_username, master_username, "master_username"),
    ):
        if not unresolved(value):
            checked(owner, check, value, field=name)


def check_tls(
    owner: Construct, provider: RedshiftClusterProvider, parameter_group_name: str | None, require_tls: bool
) -> None:
    """The parameter group's name; TLS off needs a group of one's own, and widens the stack's
    provider to allow it (for every cluster it serves, so it is warned)."""
    if parameter_group_name is not None and not unresolved(parameter_group_name):
        checked(owner, validate_parameter_group_name, parameter_group_name, field="parameter_group_name")
    if require_tls:
        return
    if parameter_group_name is None:
        raise fail(
            owner,
            "require_tls=False needs a parameter_group_name: dbscale's own parameter group always requires TLS",
            field="require_tls",
        )
    provider.allow(Guardrails(allow_tls_off=True))
    warn(
        owner,
        "tlsOff",
        f"require_tls is False: parameter group {parameter_group_name} may let clients connect without "
        "TLS, and this stack's Redshift provider now allows that for every cluster it serves",
    )


def logging_properties(
    owner: Construct, log_exports: Sequence[str] | None, log_bucket: s3.IBucket | None, log_key_prefix: str | None
) -> dict[str, Any]:
    """``LoggingProperties``: the logs to CloudWatch Logs, or to ``log_bucket`` (whose policy is
    given Redshift's write access); checked with the handler's rules where known."""
    logging: dict[str, Any] = {"LogExports": list(REDSHIFT_LOG_EXPORTS if log_exports is None else log_exports)}
    if log_bucket is not None:
        logging.update(LogDestinationType="s3", BucketName=log_bucket.bucket_name)
        if log_key_prefix:
            logging["S3KeyPrefix"] = log_key_prefix
        log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="RedshiftAuditLogging",
                principals=[iam.ServicePrincipal("redshift.amazonaws.com")],
                actions=["s3:PutObject", "s3:GetBucketAcl"],
                resources=[log_bucket.bucket_arn, log_bucket.arn_for_objects("*")],
            )
        )
    else:
        if log_key_prefix:
            raise fail(owner, "log_key_prefix goes only with log_bucket", field="log_key_prefix")
        logging["LogDestinationType"] = "cloudwatch"
    if not unresolved(*logging.values(), *logging.get("LogExports", [])):
        checked(owner, normalize_logging, {**logging, "BucketName": "checked-at-deploy"} if log_bucket else logging)
    return logging


def check_maintenance(
    owner: Construct,
    node_type: str,
    automated_snapshot_retention_days: int,
    manual_snapshot_retention_days: int | None,
    preferred_maintenance_window: str | None,
    maintenance_track_name: str | None,
) -> None:
    """Snapshot retention (automated: by node type), the maintenance window and the track."""
    if not unresolved(automated_snapshot_retention_days, node_type):
        checked(
            owner,
            validate_automated_snapshot_retention,
            automated_snapshot_retention_days,
            node_type=node_type,
            field="automated_snapshot_retention_days",
        )
    if manual_snapshot_retention_days is not None and not unresolved(manual_snapshot_retention_days):
        checked(
            owner,
            validate_manual_snapshot_retention,
            manual_snapshot_retention_days,
            field="manual_snapshot_retention_days",
        )
    if preferred_maintenance_window is not None and not unresolved(preferred_maintenance_window):
        checked(owner, validate_maintenance_window, preferred_maintenance_window, field="preferred_maintenance_window")
    if maintenance_track_name is not None and not unresolved(maintenance_track_name):
        checked(owner, validate_maintenance_track, maintenance_track_name, field="maintenance_track_name")


def check_multi_az(owner: Construct, multi_az: bool, node_type: str, number_of_nodes: int) -> None:
    """Multi-AZ needs RA3 nodes, at least two of them, and encryption (always on here)."""
    if not unresolved(node_type, number_of_nodes):
        checked(
            owner,
            validate_multi_az,
            multi_az,
            node_type=node_type,
            number_of_nodes=number_of_nodes,
            encrypted=True,
            field="multi_az",
        )


def check_restore(
    owner: Construct,
    snapshot_identifier: str | None,
    snapshot_cluster_identifier: str | None,
    owner_account: str | None,
) -> None:
    """The snapshot to restore: its cluster and owner account go only with a snapshot identifier."""
    if snapshot_identifier is None:
        if snapshot_cluster_identifier is not None or owner_account is not None:
            raise fail(owner, "snapshot_cluster_identifier and owner_account go only with snapshot_identifier")
        return
    if snapshot_cluster_identifier is not None and not unresolved(snapshot_cluster_identifier):
        checked(owner, validate_cluster_identifier, snapshot_cluster_identifier, field="snapshot_cluster_identifier")
    if owner_account is not None and not unresolved(owner_account):
        checked(owner, validate_account_id, owner_account, field="owner_account")
