"""Input that must be refused or read exactly (issue 11, item 7): strict numbers and flags, no control
characters, AWS's character sets and limits, bounded times, and messages in the caller's names."""

# ruff: noqa: RUF001  (non-ASCII digits on purpose: they must be refused)
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dbscale.cfn.schema import parse, service_timeout_seconds
from dbscale.core.clones import parse_timestamp, validate_clone_request
from dbscale.core.errors import InvalidRequest
from dbscale.core.validation import (
    parse_decimal,
    parse_flag,
    parse_integer,
    renamed,
    validate_aurora_db_name,
    validate_aurora_master_username,
    validate_aws_options,
    validate_copy_age_hours,
    validate_db_subnet_group_name,
    validate_engine_version,
    validate_kms_key_id,
    validate_parameter_group_name,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_subnet_group_name,
    validate_security_group_ids,
    validate_tag,
    validate_text,
)
from dbscale.handlers import aurora_clone, aurora_cluster, clone_pool, redshift_cluster

# --- numbers and flags --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["1_6", "١٦", "１６", "16.0", "1e1", "0x10", "", " ", "+", "16a", "²", "1" * 19, "\x0016", "16\n", "٣"],
    ids=repr,
)
def test_integers_are_ascii_digits_only(text: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_integer(text, field="NumberOfNodes")
    assert err.value.field == "NumberOfNodes"


@pytest.mark.parametrize(
    ("text", "value"), [("16", 16), (" 16 ", 16), ("+3", 3), ("-1", -1), ("007", 7), (4, 4), (4.0, 4)]
)
def test_integers_read_exactly(text: Any, value: int) -> None:
    assert parse_integer(text, field="n") == value


@pytest.mark.parametrize(
    "text",
    [
        "1e300",
        "1e3",
        "inf",
        "-inf",
        "nan",
        "NaN",
        "Infinity",
        "0.5_0",
        "٠.٥",
        "1.2.3",
        ".",
        "",
        "0x1p3",
        "1" * 65,
        True,
    ],
    ids=repr,
)
def test_decimals_are_plain_ascii_decimals(text: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_decimal(text, field="MaxCopyAgeHours")


@pytest.mark.parametrize(
    ("text", "value"), [("0.5", 0.5), ("4", 4.0), (".5", 0.5), ("5.", 5.0), ("-0.5", -0.5), (2, 2.0)]
)
def test_decimals_read_exactly(text: Any, value: float) -> None:
    assert parse_decimal(text, field="x") == value


@pytest.mark.parametrize(("text", "value"), [("true", True), ("FALSE", False), (" True ", True), (False, False)])
def test_flags_read_true_and_false(text: Any, value: bool) -> None:
    assert parse_flag(text, field="Paused") is value


@pytest.mark.parametrize("text", ["yes", "no", "1", "0", "on", "t", "", "tru\x00e", 1, None], ids=repr)
def test_flags_refuse_everything_else(text: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_flag(text, field="Paused")


def test_number_of_nodes_with_an_underscore_is_refused_not_read_as_16() -> None:
    schema = redshift_cluster.SCHEMA
    props = {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus"}
    for text in ("1_6", "١٦"):
        with pytest.raises(InvalidRequest) as err:
            parse(schema, {**props, "NumberOfNodes": text})
        assert err.value.field == "NumberOfNodes"
    assert parse(schema, {**props, "NumberOfNodes": "16"})["NumberOfNodes"] == 16


def test_service_timeout_is_strict() -> None:
    assert service_timeout_seconds({"ServiceTimeout": "300"}) == 300
    for text in ("3_00", "٣٠٠", "3e2"):
        with pytest.raises(InvalidRequest) as err:
            service_timeout_seconds({"ServiceTimeout": text})
        assert err.value.field == "ServiceTimeout"


# --- control characters -------------------------------------------------------------------------

CONTROL = ["\x00", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\t", "\n", "\ud800"]


@pytest.mark.parametrize("char", CONTROL, ids=lambda c: f"U+{ord(c):04X}")
def test_control_characters_are_refused_in_every_string_property(char: str) -> None:
    cases = [
        (
            redshift_cluster.SCHEMA,
            {"ClusterIdentifier": "warehouse", "NodeType": "ra3.xlplus", "NumberOfNodes": "2"},
            ["ClusterIdentifier", "DBName", "MasterUsername", "ClusterSubnetGroupName", "KmsKeyId", "NodeType"],
        ),
        (
            aurora_cluster.SCHEMA,
            {"ClusterIdentifier": "orders", "InstanceClass": "db.r6g.large"},
            ["DBClusterParameterGroupName", "DBSubnetGroupName", "EngineVersion", "DatabaseName", "MasterUsername"],
        ),
    ]
    for schema, base, names in cases:
        for name in names:
            with pytest.raises(InvalidRequest) as err:
                parse(schema, {**base, name: f"abc{char}def"})
            assert err.value.field == name
        with pytest.raises(InvalidRequest) as err:
            parse(schema, {**base, "VpcSecurityGroupIds": [f"sg-0123{char}"]})
        assert err.value.field == "VpcSecurityGroupIds"
        for tag in ({"Key": f"team{char}", "Value": "x"}, {"Key": "team", "Value": f"da{char}ta"}):
            with pytest.raises(InvalidRequest) as err:
                parse(schema, {**base, "Tags": [tag]})
            assert err.value.field == "Tags"


def test_validate_text_names_the_character() -> None:
    with pytest.raises(InvalidRequest, match="U\\+001B") as err:
        validate_text("a\x1bb", field="DBName")
    assert err.value.field == "DBName"


# --- AWS's character sets and limits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("team", "data"),
        ("Équipe", "données"),
        ("cost center", "a/b=c+d-e@f:g_h.i"),
        ("k" * 128, "v" * 256),
        ("n", ""),
        ("部署", "データ"),
        ("٣", "١"),
    ],
)
def test_tags_allow_what_aws_allows(key: str, value: str) -> None:
    assert validate_tag(key, value) == (key, value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("", "x"),
        ("k" * 129, "x"),
        ("team", "v" * 257),
        ("aws:owner", "x"),
        ("AWS:owner", "x"),
        ("dbscale:x", "y"),
        ("team!", "x"),
        ("team", "a;b"),
        ("team", "<script>"),
        ("team", "emoji 🙂"),
        ("team", "zero\u200bwidth"),
        ("t\x00", "x"),
    ],
)
def test_tags_refuse_what_aws_refuses(key: str, value: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_tag(key, value)
    assert err.value.field == "Tags"


NAME_CASES = [
    (validate_redshift_db_name, {}, ["dev", "sales_2024", "_tmp"], ["Dev", "1db", "my-db", "a" * 65, "", "dé"]),
    (
        validate_redshift_master_username,
        {},
        ["admin", "a.b+c@d-e_f"],
        ["Admin", "1admin", "public", "a:b", "a/b", "a" * 129],
    ),
    (validate_aurora_db_name, {"engine": "aurora-postgresql"}, ["orders", "Orders_1"], ["1orders", "my-db", "a" * 64]),
    (validate_aurora_db_name, {"engine": "aurora-mysql"}, ["a" * 64], ["a" * 65]),
    (validate_aurora_master_username, {"engine": "aurora-mysql"}, ["admin", "a" * 16], ["a" * 17, "ad-min", "_admin"]),
    (validate_aurora_master_username, {"engine": "aurora-postgresql"}, ["postgres", "a" * 63], ["a" * 64]),
    (validate_redshift_subnet_group_name, {}, ["my-subnets", "Sub1"], ["my_subnets", "a b", "a" * 256]),
    (validate_db_subnet_group_name, {}, ["my-subnets", "my_subnets.1 a"], ["1abc", "a/b", "a" * 256]),
    (
        validate_parameter_group_name,
        {},
        ["my-params", "Params1"],
        ["my--params", "my-params-", "1params", "a_b", "a" * 256],
    ),
    (
        validate_kms_key_id,
        {},
        ["alias/mykey", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ["my key", "k" * 2049, "ключ"],
    ),
    (validate_engine_version, {}, ["16.4", "8.0.mysql_aurora.3.08.0"], ["16 4", ".16", "v" * 65]),
]


@pytest.mark.parametrize(("check", "kwargs", "good", "bad"), NAME_CASES, ids=[c[0].__name__ for c in NAME_CASES])
def test_names_follow_aws_rules(check: Any, kwargs: dict[str, Any], good: list[str], bad: list[str]) -> None:
    for value in good:
        assert check(value, field="Prop", **kwargs) == value
    for value in bad:
        with pytest.raises(InvalidRequest) as err:
            check(value, field="Prop", **kwargs)
        assert err.value.field == "Prop", value


def test_security_group_ids() -> None:
    assert validate_security_group_ids(["sg-0123abcd", "sg-0123456789abcdef0"]) == [
        "sg-0123abcd",
        "sg-0123456789abcdef0",
    ]
    for bad in (["sg-123"], ["sg-0123ABCD"], ["subnet-0123abcd"], "sg-0123abcd"):
        with pytest.raises(InvalidRequest):
            validate_security_group_ids(bad)


def test_aws_options_given_to_the_python_api_are_checked() -> None:
    validate_aws_options(
        {"DBName": "dev", "Tags": [{"Key": "dbscale:cfn-stack-id", "Value": "arn:aws:x"}], "Port": 5439}
    )
    for options, field in (
        ({"DBName": "de\x00v"}, "DBName"),
        ({"DBClusterParameterGroupName": "pg\x1b"}, "DBClusterParameterGroupName"),
        ({"Tags": [{"Key": "team", "Value": "a\x00"}]}, "Tags"),
        ({"Tags": [{"Key": "aws:x", "Value": "a"}]}, "Tags"),
        ({"MasterUsername": "ad\x7fmin"}, "MasterUsername"),
        ({"AvailabilityZone": "us-east-1a\n"}, "AvailabilityZone"),
    ):
        with pytest.raises(InvalidRequest) as err:
            validate_aws_options(options)
        assert err.value.field == field


# --- times and ages are bounded -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0001-01-01", "2013-12-31T23:59:59Z", "2025\x00-01-01"],
)
def test_timestamps_out_of_range_are_invalid_requests(text: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_timestamp(text, field="CopyCreatedSince")
    assert err.value.field == "CopyCreatedSince"


def test_timestamps_in_range_are_read_as_utc() -> None:
    assert parse_timestamp("2025-01-15T13:00:00+01:00") == datetime(2025, 1, 15, 12, tzinfo=timezone.utc)
    assert parse_timestamp("2014-01-01") == datetime(2014, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("hours", [0, -1, 87_601, 1e300, float("inf"), float("nan"), True])
def test_copy_age_is_bounded(hours: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_copy_age_hours(hours, field="MaxCopyAgeHours")
    assert err.value.field == "MaxCopyAgeHours"
    assert validate_copy_age_hours(87_600) == 87_600
    assert timedelta(hours=87_600)  # the bound is a valid timedelta


def test_clone_pool_configuration_bounds_the_age() -> None:
    env = {"SOURCE_CLUSTER_ID": "prod", "MIN_SPARE_SLOTS": "1"}
    for text in ("1e300", "100000", "inf"):
        with pytest.raises(InvalidRequest) as err:
            clone_pool.configuration({"detail": {"MaxCopyAgeHours": text}}, env)
        assert err.value.field == "MaxCopyAgeHours"


# --- messages name the caller's inputs -----------------------------------------------------------


def test_renamed_maps_the_field_and_the_argument_names_in_the_message() -> None:
    err = InvalidRequest(
        "instance class db.serverless needs a range; pass serverless_v2_min_acu and serverless_v2_max_acu",
        field="serverless_v2_max_acu",
    )
    out = renamed(err, aurora_clone.CONSTRUCT_TO_PROPERTY)
    assert out.field == "ServerlessV2MaxCapacity"
    assert "serverless_v2" not in str(out)
    assert "ServerlessV2MinCapacity and ServerlessV2MaxCapacity" in str(out)
    subscripted = renamed(
        InvalidRequest("new_serverless_v2_capacity[0] 3 is big", field="new_serverless_v2_capacity[0]"),
        aurora_cluster.AuroraClusterResource.argument_names,
    )
    assert (subscripted.field, str(subscripted)) == ("ServerlessV2MinCapacity", "ServerlessV2MinCapacity 3 is big")


def test_clone_request_reasons_name_properties() -> None:
    base = {"source_cluster_id": "prod", "instance_class": "db.r6g.large", "fields": aurora_clone.CONSTRUCT_TO_PROPERTY}
    for extra, field in (
        ({"copy_created_since": "0001-01-01T00:00:00+01:00"}, "CopyCreatedSince"),
        ({"max_copy_age_hours": 1e300}, "MaxCopyAgeHours"),
        (
            {"instance_class": "db.serverless", "serverless_v2_max_acu": 1000.0, "serverless_v2_min_acu": 1.0},
            "ServerlessV2MaxCapacity",
        ),
    ):
        with pytest.raises(InvalidRequest) as err:
            validate_clone_request(**{**base, **extra})  # type: ignore[arg-type]
        assert err.value.field == field
        assert "_" not in str(err.value).split(" ")[0], str(err.value)


def test_clone_pool_errors_name_its_configuration(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes import FakeClock

    monkeypatch.setattr(clone_pool, "clock", FakeClock())
    event = {"detail": {"SourceClusterId": "prod", "MinSpareSlots": "1", "CopyCreatedSince": "2099-01-01"}}
    with pytest.raises(InvalidRequest) as err:
        clone_pool.handler(event, None)
    assert err.value.field == "CopyCreatedSince"
    assert str(err.value).startswith("CopyCreatedSince 2099-01-01T00:00:00Z is in the future"), str(err.value)
