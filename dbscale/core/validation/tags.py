"""Tags: AWS's characters, lengths and reserved prefixes."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from ..errors import InvalidRequest
from ..limits import (
    TAG_ALLOWED_PUNCTUATION,
    TAG_KEY_MAX_LENGTH,
    TAG_RESERVED_KEY_PREFIXES,
    TAG_VALUE_MAX_LENGTH,
)
from .values import (
    describe_value,
    validate_text,
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
            f"{field} key {describe_value(key_text)} is not allowed (1-{TAG_KEY_MAX_LENGTH} characters, "
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
                f"{field} {what} {describe_value(text)} is not allowed: use letters, numbers, spaces and "
                f"{' '.join(TAG_ALLOWED_PUNCTUATION)}",
                field=field,
            )
    return key_text, value_text


def validate_tags(tags: Mapping[str, str] | None, *, field: str = "tags", user: bool = True) -> dict[str, str]:
    """Check a mapping of tags (see :func:`validate_tag`); None is no tags."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise InvalidRequest(
            f"{field} must be a mapping of tag keys to values, got {describe_value(tags)}", field=field
        )
    return dict(validate_tag(key, value, field=field, user=user) for key, value in tags.items())
