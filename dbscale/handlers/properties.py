"""Custom resource property schemas: CloudFormation sends every value as a string, so coerce and validate.

A schema is a tuple of :class:`Prop`. :func:`parse` returns a dict keyed by property name with
every default filled in, or raises :class:`InvalidRequest` naming the property.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbscale.core.errors import InvalidRequest

# Properties CloudFormation itself adds to ResourceProperties; never part of a schema.
FRAMEWORK_PROPERTIES = frozenset({"ServiceToken", "ServiceTimeout", "CompletionSignalUrl", "CompletionSignalTimeout"})
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


@dataclass(frozen=True)
class Prop:
    """One property: its type (``str``, ``int``, ``float``, ``bool``, ``list``, ``tags``, or ``json``:
    any JSON value, checked by the resource), whether it
    is required, its default, the allowed values, and whether it can change in place."""

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    immutable: bool = False
    minimum: float | None = None
    maximum: float | None = None


def _bool(prop: Prop, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidRequest(f"{prop.name} must be true or false, got {value!r}", field=prop.name)


def _number(prop: Prop, value: Any) -> int | float:
    number: int | float
    if isinstance(value, bool):
        raise InvalidRequest(f"{prop.name} must be a number, got {value!r}", field=prop.name)
    try:
        if prop.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number = int(value) if not isinstance(value, str) else int(value.strip(), 10)
        else:
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
    except (TypeError, ValueError):
        kind = "a whole number" if prop.kind == "int" else "a number"
        raise InvalidRequest(f"{prop.name} must be {kind}, got {value!r}", field=prop.name) from None
    if prop.minimum is not None and number < prop.minimum:
        raise InvalidRequest(f"{prop.name} must be at least {prop.minimum:g}, got {value!r}", field=prop.name)
    if prop.maximum is not None and number > prop.maximum:
        raise InvalidRequest(f"{prop.name} must be at most {prop.maximum:g}, got {value!r}", field=prop.name)
    return number


def _list(prop: Prop, value: Any) -> list[str]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        items = list(value)
    else:
        raise InvalidRequest(f"{prop.name} must be a list of strings, got {value!r}", field=prop.name)
    return items


def _tags(prop: Prop, value: Any) -> dict[str, str]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{prop.name} must be a list of {{Key, Value}} objects", field=prop.name)
    tags: dict[str, str] = {}
    for tag in value:
        if not isinstance(tag, dict) or set(tag) - {"Key", "Value"} or not isinstance(tag.get("Key"), str):
            raise InvalidRequest(f"{prop.name} entries must be {{Key, Value}} objects, got {tag!r}", field=prop.name)
        key = tag["Key"]
        if not key or len(key) > 128 or key.lower().startswith("aws:") or key.startswith("dbscale:"):
            raise InvalidRequest(
                f"{prop.name} key {key!r} is not allowed (1-128 characters, not starting with aws: or dbscale:)",
                field=prop.name,
            )
        if key in tags:
            raise InvalidRequest(f"{prop.name} has the key {key!r} twice", field=prop.name)
        tag_value = tag.get("Value", "")
        if not isinstance(tag_value, str) or len(tag_value) > 256:
            raise InvalidRequest(
                f"{prop.name} value for {key!r} must be a string of at most 256 characters", field=prop.name
            )
        tags[key] = tag_value
    return tags


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
        elif prop.kind == "json":
            values[prop.name] = value
        elif isinstance(value, str):
            values[prop.name] = value.strip()
        else:
            raise InvalidRequest(f"{prop.name} must be a string, got {value!r}", field=prop.name)
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
    try:
        seconds = int(str(value))
    except ValueError:
        raise InvalidRequest(
            f"ServiceTimeout must be a whole number of seconds, got {value!r}", field="ServiceTimeout"
        ) from None
    if not 1 <= seconds <= 3600:
        raise InvalidRequest(f"ServiceTimeout must be from 1 to 3600 seconds, got {seconds}", field="ServiceTimeout")
    return seconds
