"""Names AWS constrains: databases, users, subnet and parameter groups, security groups, KMS keys, engine versions."""

from __future__ import annotations

import re

from ..errors import InvalidRequest
from ..limits import (
    AURORA_DB_NAME_MAX_LENGTH,
    AURORA_MASTER_USERNAME_MAX_LENGTH,
    ENGINE_VERSION_MAX_LENGTH,
    GROUP_NAME_MAX_LENGTH,
    KMS_KEY_ID_MAX_LENGTH,
    REDSHIFT_DB_NAME_MAX_LENGTH,
    REDSHIFT_MASTER_USERNAME_MAX_LENGTH,
    SECURITY_GROUP_ID_HEX_LENGTHS,
)
from .values import (
    describe_value,
    validate_text,
)

# --- names AWS constrains ----------------------------------------------------------------------


def _named(value: object, field: str, pattern: re.Pattern[str], max_length: int, rule: str) -> str:
    text = validate_text(value, field=field)
    if not text:
        raise InvalidRequest(f"{field} must not be empty; {rule}", field=field)
    if len(text) > max_length:
        raise InvalidRequest(f"{field} is {len(text)} characters long; the limit is {max_length}", field=field)
    if not pattern.fullmatch(text):
        raise InvalidRequest(f"{field} {text!r} is not allowed: {rule}", field=field)
    return text


_REDSHIFT_DB_NAME = re.compile(r"[a-z_][a-z0-9_$]*", re.ASCII)
_REDSHIFT_USERNAME = re.compile(r"[a-z][a-z0-9_+.@-]*", re.ASCII)
_RDS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)
_REDSHIFT_SUBNET_GROUP = re.compile(r"[A-Za-z0-9-]+", re.ASCII)
_RDS_SUBNET_GROUP = re.compile(r"[A-Za-z][A-Za-z0-9._ -]*", re.ASCII)
_PARAMETER_GROUP = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)", re.ASCII)
_SECURITY_GROUP_ID = re.compile(
    "sg-(?:" + "|".join(f"[0-9a-f]{{{n}}}" for n in SECURITY_GROUP_ID_HEX_LENGTHS) + ")", re.ASCII
)
_KMS_KEY_ID = re.compile(r"[\x21-\x7e]+", re.ASCII)
_ENGINE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)


def validate_redshift_db_name(value: object, *, field: str = "DBName") -> str:
    """Redshift's first database: 1-64 lowercase letters, digits, ``_`` or ``$``, not a digit first."""
    return _named(
        value,
        field,
        _REDSHIFT_DB_NAME,
        REDSHIFT_DB_NAME_MAX_LENGTH,
        "use lowercase letters, digits, _ or $, starting with a letter or _",
    )


def validate_redshift_master_username(value: object, *, field: str = "MasterUsername") -> str:
    """Redshift's admin user: 1-128 of lowercase letters, digits, ``_ + . @ -``, a letter first, not PUBLIC."""
    name = _named(
        value,
        field,
        _REDSHIFT_USERNAME,
        REDSHIFT_MASTER_USERNAME_MAX_LENGTH,
        "use lowercase letters, digits, _ + . @ or -, starting with a letter",
    )
    if name == "public":
        raise InvalidRequest(f"{field} cannot be 'public'", field=field)
    return name


def validate_aurora_db_name(value: object, *, engine: str, field: str = "DatabaseName") -> str:
    """Aurora's initial database: a letter first, then letters, digits and ``_``; 63 (PostgreSQL) or 64 (MySQL)."""
    return _named(
        value,
        field,
        _RDS_NAME,
        AURORA_DB_NAME_MAX_LENGTH.get(engine, 63),
        "use letters, digits and _, starting with a letter",
    )


def validate_aurora_master_username(value: object, *, engine: str, field: str = "MasterUsername") -> str:
    """Aurora's master user: a letter first, then letters, digits and ``_``; 63 (PostgreSQL) or 16 (MySQL)."""
    return _named(
        value,
        field,
        _RDS_NAME,
        AURORA_MASTER_USERNAME_MAX_LENGTH.get(engine, 16),
        "use letters, digits and _, starting with a letter",
    )


def validate_redshift_subnet_group_name(value: object, *, field: str = "ClusterSubnetGroupName") -> str:
    """A Redshift cluster subnet group name: 1-255 letters, digits or hyphens."""
    return _named(value, field, _REDSHIFT_SUBNET_GROUP, GROUP_NAME_MAX_LENGTH, "use letters, digits and hyphens")


def validate_db_subnet_group_name(value: object, *, field: str = "DBSubnetGroupName") -> str:
    """An RDS DB subnet group name: 1-255 letters, digits, periods, underscores, spaces or hyphens; a letter first."""
    return _named(
        value,
        field,
        _RDS_SUBNET_GROUP,
        GROUP_NAME_MAX_LENGTH,
        "use letters, digits, periods, underscores, spaces and hyphens, starting with a letter",
    )


def validate_parameter_group_name(value: object, *, field: str = "DBClusterParameterGroupName") -> str:
    """A parameter group name: 1-255 letters, digits and single hyphens, a letter first, no hyphen last."""
    return _named(
        value,
        field,
        _PARAMETER_GROUP,
        GROUP_NAME_MAX_LENGTH,
        "use letters, digits and single hyphens, starting with a letter and not ending with a hyphen",
    )


def validate_security_group_ids(value: object, *, field: str = "VpcSecurityGroupIds") -> list[str]:
    """A list of VPC security group ids (``sg-`` and 8 or 17 lowercase hex digits)."""
    if not isinstance(value, (list, tuple)):
        raise InvalidRequest(f"{field} must be a list of security group ids, got {describe_value(value)}", field=field)
    for item in value:
        text = validate_text(item, field=field)
        if not _SECURITY_GROUP_ID.fullmatch(text):
            raise InvalidRequest(
                f"{field} {text!r} is not a security group id (sg- and 8 or 17 hex digits)", field=field
            )
    return list(value)


def validate_kms_key_id(value: object, *, field: str = "KmsKeyId") -> str:
    """A KMS key id, key ARN, alias name or alias ARN: 1-2048 printable ASCII characters, no spaces."""
    return _named(value, field, _KMS_KEY_ID, KMS_KEY_ID_MAX_LENGTH, "use a key id, key ARN, alias or alias ARN")


def validate_engine_version(value: object, *, field: str = "EngineVersion") -> str:
    """An engine version such as ``16.4``: ASCII letters, digits, ``.``, ``_`` and ``-``, at most 64."""
    return _named(
        value,
        field,
        _ENGINE_VERSION,
        ENGINE_VERSION_MAX_LENGTH,
        "use a version such as 16.4 or 8.0.mysql_aurora.3.08.0",
    )
