"""Cluster shapes: identifiers, Redshift node types and counts, ports, Aurora engines, classes,
readers, Serverless v2 capacity."""

from __future__ import annotations

import re

from ..errors import InvalidRequest
from ..limits import (
    AURORA_BACKUP_RETENTION_DAYS,
    AURORA_ENGINES,
    AURORA_INSTANCE_CLASSES,
    AURORA_MAX_READERS,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    REDSHIFT_NODE_TYPES,
    REDSHIFT_PORT_RANGE,
    REDSHIFT_RA3_PORT_RANGES,
    REDSHIFT_RESIZE_TYPES,
    SERVERLESS_V2_ACU_STEP,
    SERVERLESS_V2_AUTO_PAUSE_SECONDS,
    SERVERLESS_V2_LOWEST_MAX_ACU,
    SERVERLESS_V2_MAX_ACU,
    SERVERLESS_V2_MIN_ACU,
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
