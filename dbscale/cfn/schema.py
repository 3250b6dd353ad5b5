"""Custom resource property schemas: CloudFormation sends every value as a string, so coerce and validate.

A schema is a tuple of :class:`Prop`. :func:`parse` returns a dict keyed by property name with
every default filled in, or raises :class:`InvalidRequest` naming the property.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbscale.core.errors import InvalidRequest
from dbscale.core.validation import parse_decimal, parse_flag, parse_integer, validate_tag, validate_text

# Properties CloudFormation itself adds to ResourceProperties; never part of a schema.
FRAMEWORK_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout", "CompletionSignalUrl", "CompletionSignalTimeout"})
MAX_LIST_ITEMS = 64
"""A list property holds at most 64 items (AWS allows 5 security groups per cluster)."""


@dataclass(frozen=True)
class Prop:
    """One property: its type (``str``, ``int``, ``float``, ``bool``, ``list``, ``tags``, ``object``:
    an object whose ``keys`` are the only ones allowed, each a string or a list of strings, or
    ``json``: any JSON value, checked by the resource), whether it
    is required, its default, the allowed values, and whether it can change in place."""

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    immutable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    keys: tuple[str, ...] | None = None


def _bool(prop: Prop, value: Any) -> bool:
    return bool(parse_flag(value, field=prop.name))


def _number(prop: Prop, value: Any) -> int | float:
    read = parse_integer if prop.kind == "int" else parse_decimal
    number: int | float = read(value, field=prop.name)
    if prop.minimum is not None and number < prop.minimum:
        raise InvalidRequest(f"{prop.name} must be at least {prop.minimum:g}, got {value!r}", field=prop.name)
    if prop.maximum is not None and number > prop.maximum:
        raise InvalidRequest(f"{prop.name} must be at most {prop.maximum:g}, got {value!r}", field=prop.name)
    return number


def _list(prop: Prop, value: Any) -> list[str]:
    if isinstance(value, str):
        items = [item.strip(" ") for item in validate_text(value, field=prop.name).split(",") if item.strip(" ")]
    elif isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        items = [validate_text(item, field=prop.name) for item in value]
    else:
        raise InvalidRequest(f"{prop.name} must be a list of strings, got {value!r}", field=prop.name)
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidRequest(f"{prop.name} has {len(items)} items; the limit is {MAX_LIST_ITEMS}", field=prop.name)
    return items


def _tags(prop: Prop, value: Any) -> dict[str, str]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{prop.name} must be a list of {{Key, Value}} objects", field=prop.name)
    tags: dict[str, str] = {}
    for tag in value:
        if not isinstance(tag, dict) or set(tag) - {"Key", "Value"} or not isinstance(tag.get("Key"), str):
            raise InvalidRequest(f"{prop.name} entries must be {{Key, Value}} objects, got {tag!r}", field=prop.name)
        key, tag_value = validate_tag(tag["Key"], tag.get("Value", ""), field=prop.name)
        if key in tags:
            raise InvalidRequest(f"{prop.name} has the key {key!r} twice", field=prop.name)
        tags[key] = tag_value
    return tags


def _object(prop: Prop, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{prop.name} must be an object with keys {', '.join(prop.keys or ())}", field=prop.name)
    unknown = sorted(set(value) - set(prop.keys or ()))
    if unknown:
        raise InvalidRequest(
            f"{prop.name} has unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"allowed: {', '.join(prop.keys or ())}",
            field=prop.name,
        )
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        inner = Prop(f"{prop.name}.{key}", "list")
        if isinstance(item, list):
            parsed[key] = _list(inner, item) if item else []
        elif isinstance(item, str):
            parsed[key] = validate_text(item, field=inner.name).strip(" ") or None
        else:
            raise InvalidRequest(f"{inner.name} must be a string or a list of strings, got {item!r}", field=prop.name)
    return parsed


def parse(schema: tuple[Prop, ...], raw: dict[str, Any] | None) -> dict[str, Any]:
    """Coerce and validate ``raw`` ResourceProperties against ``schema``; fill in defaults."""
    raw = dict(raw or {})
    known = {prop.name for prop in schema}
    unknown = sorted(set(raw) - known - FRAMEWORK_PROPERTIES)
    if unknown:
        raise InvalidRequest(
            f"unknown propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(known))}",
            field=unknown[0],
        )
    values: dict[str, Any] = {}
    for prop in schema:
        value = raw.get(prop.name)
        if value is None or value == "":
            if prop.required:
                raise InvalidRequest(f"{prop.name} is required", field=prop.name)
            values[prop.name] = prop.default
            continue
        if prop.kind == "bool":
            values[prop.name] = _bool(prop, value)
        elif prop.kind in ("int", "float"):
            values[prop.name] = _number(prop, value)
        elif prop.kind == "list":
            values[prop.name] = _list(prop, value)
        elif prop.kind == "tags":
            values[prop.name] = _tags(prop, value)
        elif prop.kind == "object":
            values[prop.name] = _object(prop, value)
        elif prop.kind == "json":
            values[prop.name] = value
        else:
            values[prop.name] = validate_text(value, field=prop.name).strip(" ")
        if prop.choices is not None and values[prop.name] not in prop.choices:
            raise InvalidRequest(
                f"{prop.name} '{values[prop.name]}' is not one of {', '.join(prop.choices)}", field=prop.name
            )
    return values


def immutable_changes(schema: tuple[Prop, ...], old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The immutable properties whose parsed values differ between ``old`` and ``new``."""
    return [prop.name for prop in schema if prop.immutable and old.get(prop.name) != new.get(prop.name)]


def service_timeout_seconds(raw: dict[str, Any] | None, default: int = 3600) -> int:
    """CloudFormation's ServiceTimeout for the resource (seconds, 1-3600; default 3600)."""
    value = (raw or {}).get("ServiceTimeout")
    if value in (None, ""):
        return default
    seconds = parse_integer(value, field="ServiceTimeout")
    if not 1 <= seconds <= 3600:
        raise InvalidRequest(f"ServiceTimeout must be from 1 to 3600 seconds, got {seconds}", field="ServiceTimeout")
    return seconds
