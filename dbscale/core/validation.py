"""Input validation shared by the core, the handlers and the constructs (one copy of each rule).

Every function raises :class:`InvalidRequest` naming the field and the allowed values, and makes
no AWS call. ``field`` lets each caller name the input the way its user wrote it (``node_type`` in
Python, ``NodeType`` in CloudFormation).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping

from .errors import InvalidRequest
from .limits import (
    AURORA_BACKUP_RETENTION_DAYS,
    AURORA_DB_NAME_MAX_LENGTH,
    AURORA_ENGINES,
    AURORA_INSTANCE_CLASSES,
    AURORA_MASTER_USERNAME_MAX_LENGTH,
    AURORA_MAX_READERS,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    ENGINE_VERSION_MAX_LENGTH,
    GROUP_NAME_MAX_LENGTH,
    KMS_KEY_ID_MAX_LENGTH,
    MAX_COPY_AGE_HOURS,
    REDSHIFT_DB_NAME_MAX_LENGTH,
    REDSHIFT_MASTER_USERNAME_MAX_LENGTH,
    REDSHIFT_NODE_TYPES,
    REDSHIFT_PORT_RANGE,
    REDSHIFT_RA3_PORT_RANGES,
    REDSHIFT_RESIZE_TYPES,
    REQUEST_INTEGER_MAX_DIGITS,
    REQUEST_NUMBER_MAX_LENGTH,
    SECURITY_GROUP_ID_HEX_LENGTHS,
    SERVERLESS_V2_ACU_STEP,
    SERVERLESS_V2_AUTO_PAUSE_SECONDS,
    SERVERLESS_V2_LOWEST_MAX_ACU,
    SERVERLESS_V2_MAX_ACU,
    SERVERLESS_V2_MIN_ACU,
    TAG_ALLOWED_PUNCTUATION,
    TAG_KEY_MAX_LENGTH,
    TAG_RESERVED_KEY_PREFIXES,
    TAG_VALUE_MAX_LENGTH,
)

_IDENTIFIER = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*$")


def validate_cluster_identifier(value: object, *, field: str = "cluster_name") -> str:
    """Check a Redshift or Aurora cluster identifier and return it.

    Rules (shared by both services): 1-63 characters; lowercase letters, digits and hyphens; a
    letter first; no two consecutive hyphens; no hyphen last.
    """
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{field} is required and must be a non-empty string", field=field)
    if len(value) > CLUSTER_IDENTIFIER_MAX_LENGTH:
        raise InvalidRequest(
            f"{field} '{value}' is {len(value)} characters long; the limit is {CLUSTER_IDENTIFIER_MAX_LENGTH}",
            field=field,
        )
    if not _IDENTIFIER.fullmatch(value) or value.endswith("-"):
        raise InvalidRequest(
            f"{field} '{value}' is not a valid cluster identifier: use lowercase letters, digits "
            "and single hyphens, starting with a letter and not ending with a hyphen",
            field=field,
        )
    return value


def validate_redshift_node_type(node_type: object, *, field: str = "node_type") -> str:
    """Check that ``node_type`` is a provisioned Redshift node type dbscale knows."""
    if node_type not in REDSHIFT_NODE_TYPES:
        raise InvalidRequest(
            f"{field} '{node_type}' is not a Redshift node type; allowed: {', '.join(REDSHIFT_NODE_TYPES)}",
            field=field,
        )
    assert isinstance(node_type, str)
    return node_type


def validate_redshift_nodes(
    node_type: object,
    number_of_nodes: object,
    *,
    node_type_field: str = "node_type",
    count_field: str = "number_of_nodes",
    elastic: bool = False,
) -> tuple[str, int]:
    """Check a node type and node count against that type's limits; return them typed.

    With ``elastic=True`` the upper bound is the larger one elastic resize can reach (RA3).
    """
    spec = REDSHIFT_NODE_TYPES[validate_redshift_node_type(node_type, field=node_type_field)]
    if isinstance(number_of_nodes, bool) or not isinstance(number_of_nodes, int):
        raise InvalidRequest(f"{count_field} must be a whole number, got {number_of_nodes!r}", field=count_field)
    upper = spec.elastic_max_nodes if elastic else spec.max_nodes
    if not spec.min_nodes <= number_of_nodes <= upper:
        raise InvalidRequest(
            f"{count_field} {number_of_nodes} is out of range for {spec.name}: allowed "
            f"{spec.min_nodes} to {upper} nodes",
            field=count_field,
        )
    return spec.name, number_of_nodes


def validate_port(port: object, *, field: str = "port", node_type: str | None = None) -> int:
    """Check a Redshift port: 1150-65535, and for RA3 node types 5431-5455 or 8191-8215."""
    low, high = REDSHIFT_PORT_RANGE
    if isinstance(port, bool) or not isinstance(port, int) or not low <= port <= high:
        raise InvalidRequest(f"{field} must be a whole number from {low} to {high}, got {port!r}", field=field)
    ra3 = node_type is not None and node_type.startswith("ra3.")
    if ra3 and not any(start <= port <= end for start, end in REDSHIFT_RA3_PORT_RANGES):
        allowed = " or ".join(f"{start}-{end}" for start, end in REDSHIFT_RA3_PORT_RANGES)
        raise InvalidRequest(f"{field} {port} is not allowed for {node_type}: use {allowed}", field=field)
    return port


def validate_aurora_engine(engine: object, *, field: str = "engine") -> str:
    """Check that ``engine`` is an Aurora engine (``aurora-postgresql`` or ``aurora-mysql``)."""
    if engine not in AURORA_ENGINES:
        raise InvalidRequest(f"{field} '{engine}' is not supported; allowed: {', '.join(AURORA_ENGINES)}", field=field)
    assert isinstance(engine, str)
    return engine


def validate_aurora_instance_class(instance_class: object, *, field: str = "instance_class") -> str:
    """Check an Aurora DB instance class (``db.serverless`` means Serverless v2)."""
    if instance_class != AURORA_SERVERLESS_INSTANCE_CLASS and instance_class not in AURORA_INSTANCE_CLASSES:
        families = sorted({name.rsplit(".", 1)[0] for name in AURORA_INSTANCE_CLASSES})
        raise InvalidRequest(
            f"{field} '{instance_class}' is not an Aurora instance class; allowed: "
            f"{AURORA_SERVERLESS_INSTANCE_CLASS} or a size of {', '.join(families)} "
            f"(e.g. db.r6g.large)",
            field=field,
        )
    assert isinstance(instance_class, str)
    return instance_class


def validate_reader_count(reader_count: object, *, field: str = "reader_count") -> int:
    """Check the number of Aurora Replicas (0-15)."""
    if (
        isinstance(reader_count, bool)
        or not isinstance(reader_count, int)
        or not 0 <= reader_count <= AURORA_MAX_READERS
    ):
        raise InvalidRequest(
            f"{field} must be a whole number from 0 to {AURORA_MAX_READERS}, got {reader_count!r}",
            field=field,
        )
    return reader_count


def validate_serverless_v2_capacity(
    min_acu: object,
    max_acu: object,
    *,
    instance_class: str,
    min_field: str = "serverless_v2_min_acu",
    max_field: str = "serverless_v2_max_acu",
) -> tuple[float, float] | None:
    """Check a Serverless v2 ACU range and return it, or None when the cluster is provisioned.

    ``db.serverless`` requires both bounds: min 0-256 (0 enables auto-pause), max 1-256,
    min <= max, both in steps of 0.5 ACU. A provisioned class accepts no range.
    """
    if instance_class != AURORA_SERVERLESS_INSTANCE_CLASS:
        if min_acu is not None or max_acu is not None:
            field = min_field if min_acu is not None else max_field
            raise InvalidRequest(
                f"{field} applies only to instance class {AURORA_SERVERLESS_INSTANCE_CLASS}, not {instance_class}",
                field=field,
            )
        return None
    values: list[float] = []
    for value, field, low in (
        (min_acu, min_field, SERVERLESS_V2_MIN_ACU),
        (max_acu, max_field, SERVERLESS_V2_LOWEST_MAX_ACU),
    ):
        if value is None:
            raise InvalidRequest(
                f"{field} is required with instance class {AURORA_SERVERLESS_INSTANCE_CLASS}",
                field=field,
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRequest(f"{field} must be a number of ACUs, got {value!r}", field=field)
        number = float(value)
        if not low <= number <= SERVERLESS_V2_MAX_ACU or (number / SERVERLESS_V2_ACU_STEP) % 1:
            raise InvalidRequest(
                f"{field} {value} is out of range: allowed {low:g} to {SERVERLESS_V2_MAX_ACU:g} ACUs "
                f"in steps of {SERVERLESS_V2_ACU_STEP:g}",
                field=field,
            )
        values.append(number)
    if values[0] > values[1]:
        raise InvalidRequest(f"{min_field} {values[0]:g} is greater than {max_field} {values[1]:g}", field=min_field)
    return values[0], values[1]


def validate_auto_pause(
    seconds: object,
    min_acu: object,
    *,
    field: str = "serverless_v2_seconds_until_auto_pause",
    min_field: str = "serverless_v2_min_acu",
) -> int | None:
    """Check the Serverless v2 auto-pause delay: None, or whole seconds from 300 to 86400, and
    only with a minimum of 0 ACUs (the only minimum that pauses)."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or float(seconds) % 1:
        raise InvalidRequest(f"{field} must be a whole number of seconds, got {seconds!r}", field=field)
    low, high = SERVERLESS_V2_AUTO_PAUSE_SECONDS
    if not low <= seconds <= high:
        raise InvalidRequest(f"{field} {seconds:g} is out of range: allowed {low} to {high} seconds", field=field)
    if min_acu is None or min_acu != 0:
        raise InvalidRequest(
            f"{field} needs {min_field} 0 (a cluster only auto-pauses at a 0-ACU minimum), got {min_acu!r}",
            field=field,
        )
    return int(seconds)


def validate_aurora_cluster(
    *,
    engine: object,
    instance_class: object,
    reader_count: object = 0,
    serverless_v2_min_acu: object = None,
    serverless_v2_max_acu: object = None,
    fields: dict[str, str] | None = None,
) -> tuple[str, str, int, tuple[float, float] | None]:
    """Check an Aurora cluster's shape; return (engine, instance_class, reader_count, acu_range).

    ``fields`` renames the inputs in messages, keyed by the Python argument name.
    """
    names = {
        "engine": "engine",
        "instance_class": "instance_class",
        "reader_count": "reader_count",
        "serverless_v2_min_acu": "serverless_v2_min_acu",
        "serverless_v2_max_acu": "serverless_v2_max_acu",
        **(fields or {}),
    }
    checked_engine = validate_aurora_engine(engine, field=names["engine"])
    checked_class = validate_aurora_instance_class(instance_class, field=names["instance_class"])
    readers = validate_reader_count(reader_count, field=names["reader_count"])
    acu = validate_serverless_v2_capacity(
        serverless_v2_min_acu,
        serverless_v2_max_acu,
        instance_class=checked_class,
        min_field=names["serverless_v2_min_acu"],
        max_field=names["serverless_v2_max_acu"],
    )
    return checked_engine, checked_class, readers, acu


def validate_resize_type(value: object, *, field: str = "resize_type") -> str:
    """Check a Redshift resize type: ``auto``, ``elastic`` or ``classic``."""
    if value not in REDSHIFT_RESIZE_TYPES:
        raise InvalidRequest(f"{field} '{value}' is not one of {', '.join(REDSHIFT_RESIZE_TYPES)}", field=field)
    assert isinstance(value, str)
    return value


def validate_backup_retention(days: object, *, field: str = "backup_retention") -> int:
    """Check an Aurora automated backup retention: a whole number of days, 1-35."""
    low, high = AURORA_BACKUP_RETENTION_DAYS
    whole: int | None = None
    if isinstance(days, int) and not isinstance(days, bool):
        whole = days
    elif isinstance(days, float) and days.is_integer():
        whole = int(days)
    if whole is None or not low <= whole <= high:
        raise InvalidRequest(f"{field} must be a whole number of days from {low} to {high}, got {days!r}", field=field)
    return whole


# --- text, numbers and flags as requests carry them ------------------------------------------

# CloudFormation sends every property as a string; these read one strictly. Python's int() and
# float() are too lenient for that: int("1_6") is 16, int("١٦") (Arabic-Indic digits) is 16,
# float("1e400") is inf, float("nan") is a number. Only ASCII digits are accepted here.
_INTEGER_TEXT = re.compile(rf"[+-]?[0-9]{{1,{REQUEST_INTEGER_MAX_DIGITS}}}", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_TRUE_TEXT, _FALSE_TEXT = "true", "false"


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (C0, DEL, C1, or a lone surrogate), else None."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs"):
            return char
    return None


def validate_text(value: object, *, field: str, max_length: int | None = None) -> str:
    """Check that ``value`` is a string without control characters (and at most ``max_length``)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string, got {_describe(value)}", field=field)
    bad = control_character(value)
    if bad is not None:
        raise InvalidRequest(f"{field} contains the control character U+{ord(bad):04X}; remove it", field=field)
    if max_length is not None and len(value) > max_length:
        raise InvalidRequest(f"{field} is {len(value)} characters long; the limit is {max_length}", field=field)
    return value


def parse_integer(value: object, *, field: str) -> int:
    """A whole number from an int (not a bool) or from ASCII text ``[+-]?[0-9]+`` (spaces around allowed).

    Underscores, non-ASCII digits, exponents and fractions are refused, as are more than 18 digits.
    An integral float (``2.0``, as JSON may carry it) is accepted.
    """
    if isinstance(value, bool):
        raise InvalidRequest(f"{field} must be a whole number, got {value!r}", field=field)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip(" ")):
        return int(value.strip(" "), 10)
    raise InvalidRequest(f"{field} must be a whole number, got {_describe(value)}", field=field)


def parse_decimal(value: object, *, field: str) -> float:
    """A finite number from an int or float (not a bool) or from ASCII decimal text such as ``0.5``.

    Exponents (``1e3``), ``inf``, ``nan``, underscores and non-ASCII digits are refused, as is
    text longer than 64 characters.
    """
    if isinstance(value, bool):
        raise InvalidRequest(f"{field} must be a number, got {value!r}", field=field)
    number: float | None = None
    if isinstance(value, int):
        number = float(value) if abs(value) < 10**REQUEST_INTEGER_MAX_DIGITS else None
    elif isinstance(value, float):
        number = value if math.isfinite(value) else None
    elif isinstance(value, str):
        text = value.strip(" ")
        if len(text) <= REQUEST_NUMBER_MAX_LENGTH and _DECIMAL_TEXT.fullmatch(text):
            number = float(text)
    if number is None:
        raise InvalidRequest(f"{field} must be a decimal number such as 2 or 0.5, got {_describe(value)}", field=field)
    return number


def parse_flag(value: object, *, field: str) -> bool:
    """A bool from a bool or from the text ``true``/``false`` (any case, spaces around allowed)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip(" ").lower()
        if text in (_TRUE_TEXT, _FALSE_TEXT):
            return text == _TRUE_TEXT
    raise InvalidRequest(f"{field} must be true or false, got {_describe(value)}", field=field)


def validate_flag(value: object, *, field: str, optional: bool = False) -> bool | None:
    """Check a Python bool argument: ``True`` or ``False`` (or None when ``optional``), never a truthy value."""
    if isinstance(value, bool) or (optional and value is None):
        return value
    allowed = "True, False or None" if optional else "True or False"
    raise InvalidRequest(f"{field} must be {allowed}, got {_describe(value)}", field=field)


def validate_positive_number(value: object, *, field: str) -> float:
    """Check a finite number above 0 (an int or float, not a bool), e.g. a timeout in minutes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{field} must be a number greater than 0, got {_describe(value)}", field=field)
    return float(value)


def validate_copy_age_hours(value: object, *, field: str = "max_copy_age_hours") -> float:
    """Check a copy age limit in hours: above 0, at most 87,600 (10 years)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_COPY_AGE_HOURS:
        raise InvalidRequest(
            f"{field} must be greater than 0 and at most {MAX_COPY_AGE_HOURS:,.0f} hours (10 years), "
            f"got {_describe(value)}",
            field=field,
        )
    return float(value)


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
        raise InvalidRequest(f"{field} must be a list of security group ids, got {_describe(value)}", field=field)
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


# --- tags ------------------------------------------------------------------------------------


def _tag_text_ok(text: str) -> bool:
    return all(unicodedata.category(char)[0] in "LZN" or char in TAG_ALLOWED_PUNCTUATION for char in text)


def validate_tag(key: object, value: object, *, field: str = "Tags", user: bool = True) -> tuple[str, str]:
    """Check one tag: key 1-128 and value 0-256 characters of Unicode letters, numbers, spaces
    and ``_ . : / = + - @``; the key not starting with ``aws:``, nor, for a ``user`` tag (one a
    user declares, not one dbscale writes), with ``dbscale:``."""
    reserved = TAG_RESERVED_KEY_PREFIXES if user else TAG_RESERVED_KEY_PREFIXES[:1]
    key_text = validate_text(key, field=field)
    if not key_text or len(key_text) > TAG_KEY_MAX_LENGTH or key_text.lower().startswith(reserved):
        raise InvalidRequest(
            f"{field} key {_describe(key_text)} is not allowed (1-{TAG_KEY_MAX_LENGTH} characters, "
            f"not starting with {' or '.join(reserved)})",
            field=field,
        )
    value_text = validate_text(value, field=field)
    if len(value_text) > TAG_VALUE_MAX_LENGTH:
        raise InvalidRequest(
            f"{field} value for {key_text!r} is {len(value_text)} characters long; the limit is {TAG_VALUE_MAX_LENGTH}",
            field=field,
        )
    for what, text in (("key", key_text), ("value", value_text)):
        if not _tag_text_ok(text):
            raise InvalidRequest(
                f"{field} {what} {_describe(text)} is not allowed: use letters, numbers, spaces and "
                f"{' '.join(TAG_ALLOWED_PUNCTUATION)}",
                field=field,
            )
    return key_text, value_text


def validate_tags(tags: Mapping[str, str] | None, *, field: str = "tags", user: bool = True) -> dict[str, str]:
    """Check a mapping of tags (see :func:`validate_tag`); None is no tags."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidRequest(f"{field} must be a mapping of tag keys to values, got {_describe(tags)}", field=field)
    return dict(validate_tag(key, value, field=field, user=user) for key, value in tags.items())


# --- messages in the caller's names ------------------------------------------------------------


def renamed(err: InvalidRequest, names: Mapping[str, str]) -> InvalidRequest:
    """``err`` in the caller's names: its ``field`` mapped through ``names`` (Python argument ->
    the caller's name, e.g. a CloudFormation property), and each argument name with an underscore
    or a subscript in ``names`` replaced in its message. The one place core messages are renamed."""
    field = names.get(err.field, err.field) if err.field else err.field
    spelled = sorted((k for k in names if "_" in k or "[" in k), key=len, reverse=True)
    message = str(err)
    if spelled:
        pattern = re.compile(r"(?<![\w\[])(" + "|".join(re.escape(k) for k in spelled) + r")(?![\w\[])")
        message = pattern.sub(lambda m: names[m.group(1)], message)
    if field == err.field and message == str(err):
        return err
    return InvalidRequest(message, field=field)


# --- AWS request parameters given through the Python API ----------------------------------------

# Parameters of CreateCluster/ModifyCluster and CreateDBCluster/ModifyDBCluster (AWS's names) with
# one meaning across both services, and their checks; every other string is checked as text.
_AWS_OPTION_CHECKS: Mapping[str, Callable[..., object]] = {
    "DBName": validate_redshift_db_name,
    "ClusterSubnetGroupName": validate_redshift_subnet_group_name,
    "ClusterParameterGroupName": validate_parameter_group_name,
    "DBSubnetGroupName": validate_db_subnet_group_name,
    "DBClusterParameterGroupName": validate_parameter_group_name,
    "VpcSecurityGroupIds": validate_security_group_ids,
    "KmsKeyId": validate_kms_key_id,
    "EngineVersion": validate_engine_version,
}


def validate_aws_options(options: Mapping[str, object]) -> None:
    """Check create/modify parameters in AWS's names before they reach AWS: the names above by
    their rules, ``Tags`` as tags, and every other string (or list of strings) for control characters."""
    for name, value in options.items():
        check = _AWS_OPTION_CHECKS.get(name)
        if check is not None:
            check(value, field=name)
        elif name == "Tags":
            if not isinstance(value, (list, tuple)) or not all(isinstance(t, Mapping) for t in value):
                message = f"Tags must be a list of {{Key, Value}} objects, got {_describe(value)}"
                raise InvalidRequest(message, field="Tags")
            for tag in value:
                validate_tag(tag.get("Key"), tag.get("Value", ""), field=name, user=False)
        elif isinstance(value, str):
            validate_text(value, field=name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, str):
                    validate_text(item, field=name)
