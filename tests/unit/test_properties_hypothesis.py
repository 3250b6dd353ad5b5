"""Property-based tests of the property parser and the shared validators (issue 11, item 7):
whatever string arrives, the only exception is InvalidRequest naming a property, and every value
that is accepted reads back as what was written."""

# ruff: noqa: RUF001  (non-ASCII digits on purpose: they must be refused)
from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbscale.cfn.schema import Prop, parse
from dbscale.core.clones import parse_timestamp, validate_clone_request
from dbscale.core.errors import InvalidRequest
from dbscale.core.validation import (
    control_character,
    parse_decimal,
    parse_flag,
    parse_integer,
    validate_cluster_identifier,
    validate_tag,
)
from dbscale.handlers import aurora_clone, aurora_cluster, redshift_cluster

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCHEMAS: list[tuple[Prop, ...]] = [redshift_cluster.SCHEMA, aurora_cluster.SCHEMA, aurora_clone.SCHEMA]

# Text that hits the interesting cases: digits of every script, signs, dots, exponents, underscores,
# control characters, and CloudFormation's usual words.
tricky_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("0123456789+-._eE xX٠١٢٣４５\x00\x1b\x7f\x85"), max_size=25),
    st.sampled_from(["true", "False", "yes", "1_6", "١٦", "1e300", "nan", "-inf", "0001-01-01T00:00:00+01:00", ""]),
)
json_value: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | tricky_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["Key", "Value", "x"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def property_sets(draw: st.DrawFn) -> tuple[tuple[Prop, ...], dict[str, Any]]:
    schema = draw(st.sampled_from(SCHEMAS))
    names = [p.name for p in schema] + ["ServiceToken", "Unknown"]
    raw = draw(st.dictionaries(st.sampled_from(names), json_value, max_size=8))
    return schema, raw


@SETTINGS
@given(property_sets())
def test_parse_raises_only_invalid_request_naming_a_property(case: tuple[tuple[Prop, ...], dict[str, Any]]) -> None:
    schema, raw = case
    try:
        values = parse(schema, raw)
    except InvalidRequest as err:
        assert err.field is not None
        assert err.field in {p.name for p in schema} | set(raw)
        assert len(str(err)) < 1024
        return
    for prop in schema:
        value = values[prop.name]
        if isinstance(value, str):
            assert control_character(value) is None
        if prop.kind == "float" and value is not None:
            assert math.isfinite(value)
        if prop.kind == "int" and value is not None:
            assert type(value) is int


@SETTINGS
@given(property_sets())
def test_handler_validation_raises_only_invalid_request(case: tuple[tuple[Prop, ...], dict[str, Any]]) -> None:
    schema, raw = case
    resources = [redshift_cluster.RedshiftClusterResource(), aurora_cluster.AuroraClusterResource()]
    resource = next((r for r in resources if r.schema is schema), None)
    try:
        values = parse(schema, raw)
        if resource is not None:
            values = resource.normalize(values)
            resource.validate(values, _Request("Create"))  # type: ignore[arg-type]
        else:
            validate_clone_request(
                source_cluster_id=values["SourceClusterId"],
                instance_class=values["InstanceClass"],
                clone_cluster_id=values["CloneClusterIdentifier"],
                copy_instance_class=values["CopyInstanceClass"],
                copy_created_since=values["CopyCreatedSince"],
                max_copy_age_hours=values["MaxCopyAgeHours"],
                max_clones_per_source=values["MaxClonesPerSource"],
                serverless_v2_min_acu=values["ServerlessV2MinCapacity"],
                serverless_v2_max_acu=values["ServerlessV2MaxCapacity"],
                fields=aurora_clone.CONSTRUCT_TO_PROPERTY,
            )
    except InvalidRequest as err:
        assert err.field is not None and "_" not in err.field, err.field  # a property name, not a Python one


class _Request:
    def __init__(self, request_type: str) -> None:
        self.request_type = request_type


@SETTINGS
@given(st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1), st.sampled_from(["", "+", " "]))
def test_integers_round_trip(number: int, prefix: str) -> None:
    text = f"{prefix}{number}" if number >= 0 else str(number)
    assert parse_integer(text, field="n") == number


@SETTINGS
@given(tricky_text)
def test_integer_text_is_ascii_digits_or_refused(text: str) -> None:
    try:
        number = parse_integer(text, field="n")
    except InvalidRequest:
        return
    stripped = text.strip(" ").lstrip("+-")
    assert stripped.isascii() and stripped.isdigit()
    assert number == int(text.strip(" "), 10)


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_decimals_round_trip(number: float) -> None:
    text = f"{number:.17f}".rstrip("0")  # plain decimal notation, never an exponent
    assert parse_decimal(text, field="x") == float(text)
    assert parse_decimal(repr(number), field="x") == number if "e" not in repr(number) else True


@SETTINGS
@given(tricky_text)
def test_decimal_text_is_finite_or_refused(text: str) -> None:
    try:
        number = parse_decimal(text, field="x")
    except InvalidRequest:
        return
    assert math.isfinite(number)
    assert text.isascii() and "e" not in text.lower() and "_" not in text


@SETTINGS
@given(st.booleans(), st.sampled_from([str.lower, str.upper, str.title]))
def test_flags_round_trip(flag: bool, case: Any) -> None:
    assert parse_flag(case(str(flag)), field="f") is flag


@SETTINGS
@given(tricky_text)
def test_flag_text_is_true_or_false_or_refused(text: str) -> None:
    try:
        flag = parse_flag(text, field="f")
    except InvalidRequest:
        return
    assert text.strip(" ").lower() == str(flag).lower()


@SETTINGS
@given(st.text(max_size=140), st.text(max_size=270))
def test_tags_accepted_are_kept_as_given(key: str, value: str) -> None:
    try:
        assert validate_tag(key, value) == (key, value)
    except InvalidRequest as err:
        assert err.field == "Tags"
        return
    assert control_character(key + value) is None
    assert 1 <= len(key) <= 128 and len(value) <= 256


@SETTINGS
@given(tricky_text | st.from_regex(r"[a-z][a-z0-9-]{0,70}", fullmatch=True))
def test_identifiers_accepted_are_valid(text: str) -> None:
    try:
        assert validate_cluster_identifier(text, field="ClusterIdentifier") == text
    except InvalidRequest as err:
        assert err.field == "ClusterIdentifier"
        return
    assert text.isascii() and len(text) <= 63 and "--" not in text and not text.endswith("-")


@SETTINGS
@given(tricky_text | st.datetimes().map(lambda d: d.isoformat()) | st.datetimes(timezones=st.timezones()).map(str))
def test_timestamps_raise_only_invalid_request(text: str) -> None:
    try:
        moment = parse_timestamp(text, field="CopyCreatedSince")
    except InvalidRequest as err:
        assert err.field == "CopyCreatedSince"
        return
    assert moment.year >= 2014 and moment.utcoffset() is not None
