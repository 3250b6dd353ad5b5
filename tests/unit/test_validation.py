"""dbscale.core.validation: every rule raises InvalidRequest naming the field, and makes no AWS call."""

from __future__ import annotations

from typing import Any

import pytest

from dbscale.core.errors import InvalidRequest
from dbscale.core.limits import AURORA_INSTANCE_CLASSES, REDSHIFT_NODE_TYPES
from dbscale.core.validation import (
    validate_aurora_cluster,
    validate_aurora_engine,
    validate_aurora_instance_class,
    validate_cluster_identifier,
    validate_port,
    validate_reader_count,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_serverless_v2_capacity,
)


@pytest.fixture(autouse=True)
def _no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must not make a client, let alone a call."""
    import boto3

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("validation touched boto3")

    monkeypatch.setattr(boto3.Session, "client", refuse)
    monkeypatch.setattr(boto3, "client", refuse)


# --- identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "analytics", "orders-2", "a1-b2-c3", "x" * 63])
def test_valid_cluster_identifiers_are_returned(name: str) -> None:
    assert validate_cluster_identifier(name) == name


@pytest.mark.parametrize(
    "name", ["", "1abc", "-abc", "abc-", "ab--c", "Abc", "ab_c", "ab.c", "ab c", "é", "x" * 64, None, 7, ["a"]]
)
def test_invalid_cluster_identifiers_name_the_field(name: Any) -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_cluster_identifier(name, field="ClusterName")
    assert err.value.field == "ClusterName"
    assert "ClusterName" in str(err.value)


def test_a_too_long_identifier_says_the_limit() -> None:
    with pytest.raises(InvalidRequest, match="64 characters long; the limit is 63"):
        validate_cluster_identifier("x" * 64)


# --- Redshift node types and ranges ------------------------------------------------------------


def test_every_known_node_type_is_accepted() -> None:
    for name in REDSHIFT_NODE_TYPES:
        assert validate_redshift_node_type(name) == name


@pytest.mark.parametrize("node_type", ["ra3.huge", "RA3.XLPLUS", "dc1.large", "", None, 3])
def test_unknown_node_types_list_the_allowed_ones(node_type: Any) -> None:
    with pytest.raises(InvalidRequest, match=r"allowed: dc2\.large") as err:
        validate_redshift_node_type(node_type, field="NodeType")
    assert err.value.field == "NodeType"


@pytest.mark.parametrize(
    ("node_type", "count", "elastic"),
    [
        ("ra3.xlplus", 1, False),
        ("ra3.xlplus", 16, False),
        ("ra3.xlplus", 32, True),
        ("ra3.4xlarge", 2, False),
        ("ra3.4xlarge", 32, False),
        ("ra3.4xlarge", 64, True),
        ("ra3.16xlarge", 128, False),
        ("dc2.large", 1, False),
        ("dc2.large", 32, False),
        ("dc2.8xlarge", 2, False),
    ],
)
def test_node_counts_within_the_range_of_the_type(node_type: str, count: int, elastic: bool) -> None:
    assert validate_redshift_nodes(node_type, count, elastic=elastic) == (node_type, count)


@pytest.mark.parametrize(
    ("node_type", "count", "elastic", "message"),
    [
        ("ra3.xlplus", 0, False, "allowed 1 to 16"),
        ("ra3.xlplus", 17, False, "allowed 1 to 16"),
        ("ra3.xlplus", 33, True, "allowed 1 to 32"),
        ("ra3.4xlarge", 1, False, "allowed 2 to 32"),
        ("ra3.4xlarge", 65, True, "allowed 2 to 64"),
        ("dc2.8xlarge", 1, False, "allowed 2 to 128"),
        ("ra3.xlplus", -2, False, "allowed 1 to 16"),
    ],
)
def test_node_counts_out_of_range_say_the_range(node_type: str, count: int, elastic: bool, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as err:
        validate_redshift_nodes(node_type, count, elastic=elastic, count_field="NumberOfNodes")
    assert err.value.field == "NumberOfNodes"


@pytest.mark.parametrize("count", ["2", 2.0, True, None, [2]])
def test_node_counts_must_be_whole_numbers(count: Any) -> None:
    with pytest.raises(InvalidRequest, match="whole number") as err:
        validate_redshift_nodes("ra3.xlplus", count)
    assert err.value.field == "number_of_nodes"


def test_the_node_type_is_checked_before_the_count() -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_redshift_nodes("ra3.huge", 0, node_type_field="NodeType")
    assert err.value.field == "NodeType"


@pytest.mark.parametrize(
    ("port", "node_type"),
    [(5439, None), (1150, "dc2.large"), (65535, None), (5431, "ra3.xlplus"), (8215, "ra3.4xlarge")],
)
def test_valid_ports(port: int, node_type: str | None) -> None:
    assert validate_port(port, node_type=node_type) == port


@pytest.mark.parametrize(
    ("port", "node_type"),
    [(1149, None), (65536, None), ("5439", None), (True, None), (5456, "ra3.xlplus"), (1150, "ra3.16xlarge")],
)
def test_invalid_ports(port: Any, node_type: str | None) -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_port(port, field="Port", node_type=node_type)
    assert err.value.field == "Port"


# --- Aurora -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["aurora-postgresql", "aurora-mysql"])
def test_aurora_engines(engine: str) -> None:
    assert validate_aurora_engine(engine) == engine


@pytest.mark.parametrize("engine", ["aurora", "postgres", "mysql", "Aurora-PostgreSQL", "", None])
def test_other_engines_are_refused(engine: Any) -> None:
    with pytest.raises(InvalidRequest, match="allowed: aurora-postgresql, aurora-mysql") as err:
        validate_aurora_engine(engine, field="Engine")
    assert err.value.field == "Engine"


def test_aurora_instance_classes_include_serverless() -> None:
    assert validate_aurora_instance_class("db.serverless") == "db.serverless"
    for name in AURORA_INSTANCE_CLASSES:
        assert validate_aurora_instance_class(name) == name


@pytest.mark.parametrize("instance_class", ["db.r6g.huge", "r6g.large", "db.m5.large", "db.t2.micro", "", None])
def test_unknown_instance_classes_are_refused_with_an_example(instance_class: Any) -> None:
    with pytest.raises(InvalidRequest, match=r"e\.g\. db\.r6g\.large") as err:
        validate_aurora_instance_class(instance_class)
    assert err.value.field == "instance_class"


@pytest.mark.parametrize("count", [0, 1, 15])
def test_reader_counts(count: int) -> None:
    assert validate_reader_count(count) == count


@pytest.mark.parametrize("count", [-1, 16, 1.0, "2", True, None])
def test_bad_reader_counts(count: Any) -> None:
    with pytest.raises(InvalidRequest, match="from 0 to 15") as err:
        validate_reader_count(count, field="ReaderCount")
    assert err.value.field == "ReaderCount"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0, 1, (0.0, 1.0)), (0.5, 256, (0.5, 256.0)), (2, 2, (2.0, 2.0)), (1.5, 4.5, (1.5, 4.5))],
)
def test_serverless_v2_ranges(low: float, high: float, expected: tuple[float, float]) -> None:
    assert validate_serverless_v2_capacity(low, high, instance_class="db.serverless") == expected


@pytest.mark.parametrize(
    ("low", "high", "field", "message"),
    [
        (None, 4, "serverless_v2_min_acu", "is required"),
        (1, None, "serverless_v2_max_acu", "is required"),
        (-0.5, 4, "serverless_v2_min_acu", "out of range"),
        (0, 0.5, "serverless_v2_max_acu", "out of range"),  # max must be at least 1
        (0.5, 256.5, "serverless_v2_max_acu", "out of range"),
        (0.7, 4, "serverless_v2_min_acu", "steps of 0.5"),
        (1, 4.25, "serverless_v2_max_acu", "steps of 0.5"),
        (8, 4, "serverless_v2_min_acu", "greater than"),
        ("1", 4, "serverless_v2_min_acu", "number of ACUs"),
        (True, 4, "serverless_v2_min_acu", "number of ACUs"),
    ],
)
def test_bad_serverless_v2_ranges(low: Any, high: Any, field: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as err:
        validate_serverless_v2_capacity(low, high, instance_class="db.serverless")
    assert err.value.field == field


def test_a_provisioned_class_takes_no_acu_range() -> None:
    assert validate_serverless_v2_capacity(None, None, instance_class="db.r6g.large") is None
    with pytest.raises(InvalidRequest, match=r"applies only to instance class db\.serverless") as err:
        validate_serverless_v2_capacity(None, 4, instance_class="db.r6g.large")
    assert err.value.field == "serverless_v2_max_acu"


def test_validate_aurora_cluster_checks_everything_and_renames_fields() -> None:
    assert validate_aurora_cluster(engine="aurora-mysql", instance_class="db.r6g.large", reader_count=2) == (
        "aurora-mysql",
        "db.r6g.large",
        2,
        None,
    )
    assert validate_aurora_cluster(
        engine="aurora-postgresql", instance_class="db.serverless", serverless_v2_min_acu=0, serverless_v2_max_acu=8
    ) == ("aurora-postgresql", "db.serverless", 0, (0.0, 8.0))
    with pytest.raises(InvalidRequest) as err:
        validate_aurora_cluster(
            engine="aurora-postgresql",
            instance_class="db.serverless",
            serverless_v2_min_acu=4,
            serverless_v2_max_acu=2,
            fields={"serverless_v2_min_acu": "MinCapacity"},
        )
    assert err.value.field == "MinCapacity" and "MinCapacity" in str(err.value)
