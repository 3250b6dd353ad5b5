"""Text, numbers and flags as requests carry them (CloudFormation sends every value as a string): read strictly."""

from __future__ import annotations

import math
import re
import unicodedata

from ..errors import InvalidRequest
from ..limits import (
    MAX_COPY_AGE_HOURS,
    REQUEST_INTEGER_MAX_DIGITS,
    REQUEST_NUMBER_MAX_LENGTH,
)

# --- text, numbers and flags as requests carry them ------------------------------------------

# CloudFormation sends every property as a string; these read one strictly. Python's int() and
# float() are too lenient for that: int("1_6") is 16, int("١٦") (Arabic-Indic digits) is 16,
# float("1e400") is inf, float("nan") is a number. Only ASCII digits are accepted here.
_INTEGER_TEXT = re.compile(rf"[+-]?[0-9]{{1,{REQUEST_INTEGER_MAX_DIGITS}}}", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_TRUE_TEXT, _FALSE_TEXT = "true", "false"


def describe_value(value: object) -> str:
    """``repr(value)``, cut to 80 characters, for messages."""
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
        raise InvalidRequest(f"{field} must be a string, got {describe_value(value)}", field=field)
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
    raise InvalidRequest(f"{field} must be a whole number, got {describe_value(value)}", field=field)


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
        raise InvalidRequest(
            f"{field} must be a decimal number such as 2 or 0.5, got {describe_value(value)}", field=field
        )
    return number


def parse_flag(value: object, *, field: str) -> bool:
    """A bool from a bool or from the text ``true``/``false`` (any case, spaces around allowed)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip(" ").lower()
        if text in (_TRUE_TEXT, _FALSE_TEXT):
            return text == _TRUE_TEXT
    raise InvalidRequest(f"{field} must be true or false, got {describe_value(value)}", field=field)


def validate_flag(value: object, *, field: str, optional: bool = False) -> bool | None:
    """Check a Python bool argument: ``True`` or ``False`` (or None when ``optional``), never a truthy value."""
    if isinstance(value, bool) or (optional and value is None):
        return value
    allowed = "True, False or None" if optional else "True or False"
    raise InvalidRequest(f"{field} must be {allowed}, got {describe_value(value)}", field=field)


def validate_positive_number(value: object, *, field: str) -> float:
    """Check a finite number above 0 (an int or float, not a bool), e.g. a timeout in minutes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidRequest(f"{field} must be a number greater than 0, got {describe_value(value)}", field=field)
    return float(value)


def validate_copy_age_hours(value: object, *, field: str = "max_copy_age_hours") -> float:
    """Check a copy age limit in hours: above 0, at most 87,600 (10 years)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_COPY_AGE_HOURS:
        raise InvalidRequest(
            f"{field} must be greater than 0 and at most {MAX_COPY_AGE_HOURS:,.0f} hours (10 years), "
            f"got {describe_value(value)}",
            field=field,
        )
    return float(value)
