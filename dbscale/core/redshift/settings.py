"""Redshift cluster settings beyond size and state: their checks (AWS's documented rules), the
parameter group dbscale makes to require TLS, and the reads that decide whether a named group does.

Every check raises :class:`~dbscale.core.errors.InvalidRequest` naming the property (AWS's name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import windows
from ..aws import aws_errors, tag_dict, tag_list
from ..errors import AwsError, InvalidRequest
from ..limits import (
    CREATED_BY_TAG_KEY,
    CREATED_BY_TAG_VALUE,
    REDSHIFT_AUTOMATED_SNAPSHOT_RETENTION_DAYS,
    REDSHIFT_LOG_DESTINATIONS,
    REDSHIFT_LOG_EXPORTS,
    REDSHIFT_LOG_S3_KEY_PREFIX_MAX_LENGTH,
    REDSHIFT_MAINTENANCE_WINDOW_MIN_MINUTES,
    REDSHIFT_MANUAL_SNAPSHOT_KEEP_FOREVER,
    REDSHIFT_MANUAL_SNAPSHOT_RETENTION_DAYS,
    REDSHIFT_MAX_IAM_ROLES,
    REDSHIFT_PARAMETER_GROUP_FAMILY,
    REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX,
    REDSHIFT_TLS_PARAMETERS,
    S3_BUCKET_NAME_LENGTH,
)
from ..validation import validate_text

_MAINTENANCE_TRACK = re.compile(r"[a-z][a-z0-9_]{0,255}", re.ASCII)
# IAM: a path of up to 512 characters ('/' first and last) and a name of up to 64.
_IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,575}", re.ASCII)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", re.ASCII)
_ACCOUNT = re.compile(r"\d{12}", re.ASCII)


def validate_automated_snapshot_retention(days: int, *, node_type: str, field: str) -> int:
    """0-35 days; 0 (no automated snapshots) is refused for RA3 node types, as AWS does."""
    low, high = REDSHIFT_AUTOMATED_SNAPSHOT_RETENTION_DAYS
    if not low <= days <= high:
        raise InvalidRequest(f"{field} must be from {low} to {high} days, got {days}", field=field)
    if days == 0 and node_type.startswith("ra3."):
        raise InvalidRequest(
            f"{field} 0 turns automated snapshots off, which RA3 node types ({node_type}) do not allow; use 1 to 35",
            field=field,
        )
    return days


def validate_manual_snapshot_retention(days: int, *, field: str) -> int:
    """-1 (keep manual snapshots until deleted) or 1-3653 days."""
    low, high = REDSHIFT_MANUAL_SNAPSHOT_RETENTION_DAYS
    if days != REDSHIFT_MANUAL_SNAPSHOT_KEEP_FOREVER and not low <= days <= high:
        raise InvalidRequest(f"{field} must be -1 (keep forever) or from {low} to {high} days, got {days}", field=field)
    return days


def validate_maintenance_window(value: str, *, field: str) -> str:
    """``ddd:hh24:mi-ddd:hh24:mi`` in UTC (e.g. ``sun:05:00-sun:05:30``), at least 30 minutes long
    (:func:`dbscale.core.windows.validate_maintenance_window`). Returned in lowercase, the form
    DescribeClusters reports."""
    text = value.strip().lower()
    windows.validate_maintenance_window(text, field=field, minimum_minutes=REDSHIFT_MAINTENANCE_WINDOW_MIN_MINUTES)
    return text


def validate_maintenance_track(value: str, *, field: str) -> str:
    """``current``, ``trailing`` or a named (preview) track: lowercase letters, digits and ``_``."""
    if not _MAINTENANCE_TRACK.fullmatch(value):
        raise InvalidRequest(
            f"{field} {value!r} is not a maintenance track: use current, trailing or a track name "
            "(lowercase letters, digits and _)",
            field=field,
        )
    return value


def validate_iam_roles(roles: list[str], default_role: str | None, *, field: str, default_field: str) -> None:
    """IAM role ARNs (at most 50, no repeats); a default role must be one of them."""
    if len(roles) > REDSHIFT_MAX_IAM_ROLES:
        raise InvalidRequest(f"{field} has {len(roles)} roles; the limit is {REDSHIFT_MAX_IAM_ROLES}", field=field)
    if len(set(roles)) != len(roles):
        raise InvalidRequest(f"{field} lists a role twice", field=field)
    for role in roles:
        if not _IAM_ROLE_ARN.fullmatch(role):
            raise InvalidRequest(f"{field} {role!r} is not an IAM role ARN", field=field)
    if default_role is not None and default_role not in roles:
        raise InvalidRequest(
            f"{default_field} {default_role!r} must also be listed in {field} (AWS sets as default only a "
            "role associated with the cluster)",
            field=default_field,
        )


def validate_account_id(value: str, *, field: str) -> str:
    """A 12-digit AWS account id."""
    if not _ACCOUNT.fullmatch(value):
        raise InvalidRequest(f"{field} {value!r} is not an AWS account id (12 digits)", field=field)
    return value


def validate_multi_az(multi_az: bool, *, node_type: str, number_of_nodes: int, encrypted: bool, field: str) -> None:
    """Multi-AZ needs an encrypted RA3 cluster of at least two nodes (Amazon Redshift Management
    Guide, "Multi-AZ deployment": RA3 only, no unencrypted and no single-node Multi-AZ clusters)."""
    if not multi_az:
        return
    if not node_type.startswith("ra3."):
        raise InvalidRequest(f"{field} true needs an RA3 node type, not {node_type}", field=field)
    if number_of_nodes < 2:
        raise InvalidRequest(f"{field} true needs at least 2 nodes (no single-node Multi-AZ clusters)", field=field)
    if not encrypted:
        raise InvalidRequest(f"{field} true needs an encrypted cluster", field=field)


# --- logging -----------------------------------------------------------------------------------

DEFAULT_LOGGING: Mapping[str, Any] = {"LogDestinationType": "cloudwatch", "LogExports": list(REDSHIFT_LOG_EXPORTS)}
"""dbscale's default LoggingProperties: every log type to CloudWatch Logs."""


def normalize_logging(value: Mapping[str, Any] | None, *, field: str = "LoggingProperties") -> dict[str, Any]:
    """Check a ``LoggingProperties`` object and fill in its defaults.

    ``LogDestinationType`` defaults to ``cloudwatch``; ``LogExports`` to all three log types
    (``connectionlog``, ``userlog``, ``useractivitylog``); an empty ``LogExports`` turns logging
    off. ``s3`` needs ``BucketName`` (and may have ``S3KeyPrefix``); ``cloudwatch`` takes neither.
    The result lists ``LogExports`` sorted, so equal settings compare equal.
    """
    if value is None:
        value = DEFAULT_LOGGING
    destination = value.get("LogDestinationType") or "cloudwatch"
    if destination not in REDSHIFT_LOG_DESTINATIONS:
        raise InvalidRequest(
            f"{field}.LogDestinationType '{destination}' is not one of {', '.join(REDSHIFT_LOG_DESTINATIONS)}",
            field=field,
        )
    exports = value.get("LogExports")
    if isinstance(exports, str):
        exports = [item.strip() for item in exports.split(",") if item.strip()]
    exports = list(REDSHIFT_LOG_EXPORTS) if exports is None else list(exports)
    unknown = sorted(set(exports) - set(REDSHIFT_LOG_EXPORTS))
    if unknown:
        raise InvalidRequest(
            f"{field}.LogExports has {', '.join(unknown)}; allowed: {', '.join(REDSHIFT_LOG_EXPORTS)}", field=field
        )
    if len(set(exports)) != len(exports):
        raise InvalidRequest(f"{field}.LogExports lists a log type twice", field=field)
    result: dict[str, Any] = {"LogDestinationType": destination, "LogExports": sorted(exports)}
    bucket, prefix = value.get("BucketName"), value.get("S3KeyPrefix")
    if destination == "cloudwatch":
        for name, given in (("BucketName", bucket), ("S3KeyPrefix", prefix)):
            if given:
                raise InvalidRequest(f"{field}.{name} goes only with LogDestinationType s3", field=field)
        return result
    if exports and not bucket:
        raise InvalidRequest(f"{field}.BucketName is required with LogDestinationType s3", field=field)
    if bucket:
        low, high = S3_BUCKET_NAME_LENGTH
        if not (low <= len(bucket) <= high and _BUCKET.fullmatch(bucket)) or ".." in bucket:
            raise InvalidRequest(
                f"{field}.BucketName {bucket!r} is not an S3 bucket name ({low}-{high} lowercase letters, digits, "
                "dots and hyphens)",
                field=field,
            )
        result["BucketName"] = bucket
    if prefix:
        validate_text(prefix, field=f"{field}.S3KeyPrefix", max_length=REDSHIFT_LOG_S3_KEY_PREFIX_MAX_LENGTH)
        bad = sorted({ch for ch in prefix if not (ch.isalnum() or ch.isspace() or ch in "_.:/=+\\-@")})
        if bad:
            raise InvalidRequest(
                f"{field}.S3KeyPrefix may not contain {' '.join(bad)} (letters, digits, spaces and _ . : / = + \\ - @ "
                "only)",
                field=field,
            )
        result["S3KeyPrefix"] = prefix
    return result


def logging_in_effect(status: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeLoggingStatus answer in :func:`normalize_logging`'s form (off: no exports)."""
    if not status.get("LoggingEnabled"):
        return {"LogDestinationType": status.get("LogDestinationType") or "cloudwatch", "LogExports": []}
    destination = status.get("LogDestinationType") or "s3"
    exports = status.get("LogExports")
    result: dict[str, Any] = {
        "LogDestinationType": destination,
        "LogExports": sorted(exports) if exports else list(REDSHIFT_LOG_EXPORTS),
    }
    if destination == "s3":
        result["BucketName"] = status.get("BucketName") or None
        if status.get("S3KeyPrefix"):
            result["S3KeyPrefix"] = status["S3KeyPrefix"]
        result = {k: v for k, v in result.items() if v is not None}
    return result


def logging_matches(wanted: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """True when the cluster logs as ``wanted`` (off is off, whatever the destination)."""
    current = logging_in_effect(status)
    if not wanted["LogExports"]:
        return not current["LogExports"] or not status.get("LoggingEnabled")
    return current == dict(wanted)


def send_logging(redshift: Any, cluster_name: str, wanted: Mapping[str, Any]) -> None:
    """EnableLogging (or DisableLogging when ``wanted`` has no exports)."""
    with aws_errors(f"change the logging of Redshift cluster '{cluster_name}'"):
        if not wanted["LogExports"]:
            redshift.disable_logging(ClusterIdentifier=cluster_name)
            return
        params: dict[str, Any] = {"ClusterIdentifier": cluster_name, "LogDestinationType": wanted["LogDestinationType"]}
        if wanted["LogDestinationType"] == "cloudwatch":
            params["LogExports"] = list(wanted["LogExports"])
        else:
            params["BucketName"] = wanted["BucketName"]
            if wanted.get("S3KeyPrefix"):
                params["S3KeyPrefix"] = wanted["S3KeyPrefix"]
        redshift.enable_logging(**params)


# --- parameter groups --------------------------------------------------------------------------


def owned_parameter_group_name(cluster_name: str) -> str:
    """The name of the parameter group dbscale makes for ``cluster_name``."""
    return f"{cluster_name}{REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX}"


def parameter_values(redshift: Any, group_name: str, *, field: str = "ClusterParameterGroupName") -> dict[str, str]:
    """Every parameter of a cluster parameter group (all pages of DescribeClusterParameters).

    A group that does not exist is an :class:`InvalidRequest` naming ``field``."""
    values: dict[str, str] = {}
    try:
        with aws_errors(f"read the parameters of Redshift parameter group '{group_name}'"):
            for page in redshift.get_paginator("describe_cluster_parameters").paginate(ParameterGroupName=group_name):
                for parameter in page.get("Parameters", []):
                    values[parameter["ParameterName"]] = str(parameter.get("ParameterValue", ""))
    except AwsError as err:
        if err.code in ("ClusterParameterGroupNotFound", "ClusterParameterGroupNotFoundFault"):
            raise InvalidRequest(f"{field} '{group_name}' does not exist", field=field) from None
        raise
    return values


def requires_tls(parameters: Mapping[str, str]) -> bool:
    """True when a group's ``require_ssl`` is on (Redshift reads ``true``, case-insensitively)."""
    return parameters.get("require_ssl", "false").strip().lower() == "true"


def describe_parameter_group(redshift: Any, group_name: str) -> dict[str, Any] | None:
    """The group as DescribeClusterParameterGroups returns it; None when there is none."""
    try:
        with aws_errors(f"describe Redshift parameter group '{group_name}'"):
            found = redshift.describe_cluster_parameter_groups(ParameterGroupName=group_name)["ParameterGroups"]
    except AwsError as err:
        if err.code in ("ClusterParameterGroupNotFound", "ClusterParameterGroupNotFoundFault"):
            return None
        raise
    return dict(found[0]) if found else None


def ensure_tls_parameter_group(redshift: Any, group_name: str, tags: Mapping[str, str], *, cluster_name: str) -> None:
    """Make (or find, made earlier with the same ``tags``) dbscale's parameter group and set
    :data:`~dbscale.core.limits.REDSHIFT_TLS_PARAMETERS` on it. A group of that name that does not
    carry ``tags`` (someone else's) is an :class:`InvalidRequest` naming ClusterParameterGroupName."""
    all_tags = {**tags, CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}
    found = describe_parameter_group(redshift, group_name)
    if found is None:
        try:
            with aws_errors(f"create Redshift parameter group '{group_name}'"):
                redshift.create_cluster_parameter_group(
                    ParameterGroupName=group_name,
                    ParameterGroupFamily=REDSHIFT_PARAMETER_GROUP_FAMILY,
                    Description=f"dbscale: TLS and user activity logging for Redshift cluster {cluster_name}",
                    Tags=tag_list(all_tags),
                )
        except AwsError as err:
            if err.code not in ("ClusterParameterGroupAlreadyExists", "ClusterParameterGroupAlreadyExistsFault"):
                raise
            found = describe_parameter_group(redshift, group_name)  # a retried create that went through
    if found is not None:
        current = tag_dict(found.get("Tags"))
        if any(current.get(k) != v for k, v in all_tags.items()):
            raise InvalidRequest(
                f"a Redshift parameter group named '{group_name}' exists and was not made by this resource; delete or "
                "rename it, or name a parameter group of your own in ClusterParameterGroupName",
                field="ClusterParameterGroupName",
            )
    with aws_errors(f"set the parameters of Redshift parameter group '{group_name}'"):
        redshift.modify_cluster_parameter_group(
            ParameterGroupName=group_name,
            Parameters=[{"ParameterName": k, "ParameterValue": v} for k, v in REDSHIFT_TLS_PARAMETERS.items()],
        )


def delete_owned_parameter_group(redshift: Any, group_name: str, tags: Mapping[str, str]) -> bool:
    """Delete dbscale's group ``group_name`` if it exists and carries ``tags``; True when it is gone.

    False (kept, nothing raised) when a cluster still uses it: AWS refuses then."""
    found = describe_parameter_group(redshift, group_name)
    if found is None:
        return True
    current = tag_dict(found.get("Tags"))
    wanted = {**tags, CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}
    if any(current.get(k) != v for k, v in wanted.items()):
        return True  # not ours: never deleted
    try:
        with aws_errors(f"delete Redshift parameter group '{group_name}'"):
            redshift.delete_cluster_parameter_group(ParameterGroupName=group_name)
    except AwsError as err:
        if err.code in ("ClusterParameterGroupNotFound", "ClusterParameterGroupNotFoundFault"):
            return True
        if err.code in ("InvalidClusterParameterGroupState", "InvalidClusterParameterGroupStateFault"):
            return False
        raise
    return True
