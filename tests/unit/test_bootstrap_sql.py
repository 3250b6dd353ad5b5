"""dbscale.core.bootstrap.sql: statement splitting, parameters, identifiers and literals."""

from __future__ import annotations

import pytest

from dbscale.core.bootstrap.sql import (
    parameter_names,
    quote_identifier,
    quote_literal,
    split_statements,
    to_pyformat,
    validate_identifier,
)
from dbscale.core.errors import InvalidRequest


def test_split_keeps_semicolons_in_quotes_and_comments() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE t (a VARCHAR(10) DEFAULT 'x;y');
    /* block; comment */
    INSERT INTO t VALUES ('it''s; fine');  # trailing
    ;
    """
    statements = split_statements(sql, "mysql")
    assert len(statements) == 2
    assert "DEFAULT 'x;y'" in statements[0]
    assert statements[1].startswith("/* block; comment */")
    assert "'it''s; fine'" in statements[1]


def test_split_postgres_dollar_quotes_and_backslashes() -> None:
    sql = "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; SELECT 'a\\'; SELECT 2"
    assert split_statements(sql, "postgresql") == [
        "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
        "SELECT 'a\\'",
        "SELECT 2",
    ]
    # In MySQL a backslash escapes the quote, so the string runs on.
    assert len(split_statements("SELECT 'a\\'; b'; SELECT 2", "mysql")) == 2


def test_split_comment_only_file_is_empty_and_delimiter_is_refused() -> None:
    assert split_statements("-- nothing\n/* here */\n", "postgresql") == []
    with pytest.raises(InvalidRequest, match="DELIMITER"):
        split_statements("DELIMITER //\nCREATE PROCEDURE p() BEGIN END//", "mysql")


def test_parameters_skip_casts_quotes_and_comments() -> None:
    sql = "SELECT :a::text, ':no', x FROM t WHERE b = :b_2 -- :c\n AND d = :a"
    assert parameter_names(sql, "postgresql") == ["a", "b_2", "a"]
    assert to_pyformat("SELECT :a, '50%' LIKE :b", "mysql") == "SELECT %(a)s, '50%%' LIKE %(b)s"


@pytest.mark.parametrize("bad", ["", "1abc", "a-b", "a b", 'a"b', "a`b", "x" * 64, "tëst"])
def test_identifiers_are_validated(bad: str) -> None:
    with pytest.raises(InvalidRequest, match="not a valid name"):
        validate_identifier(bad, field="schema")


def test_quoting_per_dialect() -> None:
    assert quote_identifier("Telemetry_1", "mysql") == "`Telemetry_1`"
    assert quote_identifier("telemetry", "redshift") == '"telemetry"'
    assert quote_literal("o'k\\", "mysql") == "'o''k\\\\'"
    assert quote_literal("o'k\\", "postgresql") == "'o''k\\'"
    with pytest.raises(InvalidRequest, match="dialect"):
        quote_identifier("a", "oracle")
