"""SQL text helpers the bootstrap needs and no driver offers: splitting a file into statements,
validating and quoting identifiers, and turning ``:name`` parameters into a driver's style.

Dialects: ``mysql`` (Aurora MySQL, MariaDB, MySQL), ``postgresql`` (Aurora PostgreSQL, PostgreSQL)
and ``redshift``. The scanner knows the quoting rules they share (``'...'``, ``"..."``, MySQL's
backticks, PostgreSQL's ``$tag$...$tag$``, ``--`` and ``/* */`` comments); it is not a parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import InvalidRequest

DIALECTS = ("mysql", "postgresql", "redshift")
IDENTIFIER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
"""Names dbscale writes into SQL: a letter or underscore, then letters, digits, underscores; at
most 63 characters (PostgreSQL's limit; MySQL allows 64, Redshift 127)."""
_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def check_dialect(dialect: str) -> str:
    """``dialect`` when it is one of :data:`DIALECTS`; InvalidRequest otherwise."""
    if dialect not in DIALECTS:
        raise InvalidRequest(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}", field="dialect")
    return dialect


def validate_identifier(name: str, *, field: str = "identifier") -> str:
    """``name`` when it matches :data:`IDENTIFIER_PATTERN`; InvalidRequest naming ``field`` otherwise."""
    if not isinstance(name, str) or not IDENTIFIER_PATTERN.match(name):
        raise InvalidRequest(
            f"{field} {name!r} is not a valid name: use a letter or underscore, then letters, digits or "
            "underscores, at most 63 characters",
            field=field,
        )
    return name


def quote_identifier(name: str, dialect: str, *, field: str = "identifier") -> str:
    """``name`` validated and quoted for ``dialect`` (backticks for MySQL, double quotes otherwise)."""
    validate_identifier(name, field=field)
    if check_dialect(dialect) == "mysql":
        return f"`{name}`"
    return f'"{name}"'


def quote_literal(value: str, dialect: str) -> str:
    """A string literal for the places SQL takes no bind parameter (passwords in CREATE USER).

    Quotes are doubled; backslashes are doubled for MySQL (where they escape by default). Callers
    pass only generated or validated text; this is the second line of defence, not the first.
    """
    check_dialect(dialect)
    if "\x00" in value:
        raise InvalidRequest("a SQL literal cannot contain a NUL character")
    text = value.replace("'", "''")
    if dialect == "mysql":
        text = text.replace("\\", "\\\\")
    return f"'{text}'"


def _scan(sql: str, dialect: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(kind, start, end)`` spans of ``sql``: ``code``, ``quoted`` or ``comment``."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        nxt = sql[i + 1] if i + 1 < n else ""
        end = -1
        kind = ""
        if (ch == "-" and nxt == "-") or (ch == "#" and dialect == "mysql"):
            kind, newline = "comment", sql.find("\n", i)
            end = n if newline < 0 else newline + 1
        elif ch == "/" and nxt == "*":
            kind, close = "comment", sql.find("*/", i + 2)
            end = n if close < 0 else close + 2
        elif ch in ("'", '"') or (ch == "`" and dialect == "mysql"):
            kind, j = "quoted", i + 1
            while j < n:
                if sql[j] == "\\" and dialect == "mysql" and ch != "`":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # a doubled quote stays inside
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif ch == "$" and dialect != "mysql" and (match := _DOLLAR_TAG.match(sql, i)) and not _word_before(sql, i):
            tag = match.group(0)
            close = sql.find(tag, match.end())
            kind, end = "quoted", (n if close < 0 else close + len(tag))
        if kind:
            if start < i:
                yield "code", start, i
            yield kind, i, end
            i = start = end
            continue
        i += 1
    if start < n:
        yield "code", start, n


def _word_before(sql: str, i: int) -> bool:
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")


def split_statements(sql: str, dialect: str) -> list[str]:
    """The statements of a SQL file, split on ``;`` outside quotes and comments, comments kept,
    empty statements dropped. MySQL's client-side ``DELIMITER`` is not supported (InvalidRequest)."""
    check_dialect(dialect)
    statements: list[str] = []
    current: list[str] = []
    for kind, start, end in _scan(sql, dialect):
        piece = sql[start:end]
        if kind != "code":
            current.append(piece)
            continue
        if dialect == "mysql" and re.search(r"(?im)^\s*delimiter\s", piece):
            raise InvalidRequest(
                "DELIMITER is a mysql client command, not SQL; write one statement per ';' (a stored "
                "routine body can be one statement with BEGIN ... END and no inner ';' changes)"
            )
        parts = piece.split(";")
        for index, part in enumerate(parts):
            current.append(part)
            if index < len(parts) - 1:
                statements.append("".join(current))
                current = []
    statements.append("".join(current))
    return [s.strip() for s in statements if _has_code(s, dialect)]


def _has_code(statement: str, dialect: str) -> bool:
    return any(kind != "comment" and statement[s:e].strip() for kind, s, e in _scan(statement, dialect))


def parameter_names(sql: str, dialect: str) -> list[str]:
    """The ``:name`` parameters of ``sql`` in order of appearance (``::`` casts are not parameters)."""
    return [name for name, _, _ in _parameters(sql, dialect)]


def _parameters(sql: str, dialect: str) -> Iterator[tuple[str, int, int]]:
    for kind, start, end in _scan(sql, dialect):
        if kind != "code":
            continue
        i = start
        while i < end:
            if sql[i] == ":":
                if i + 1 < end and sql[i + 1] == ":":
                    i += 2
                    continue
                if i > 0 and sql[i - 1] == ":":
                    i += 1
                    continue
                match = _PARAMETER.match(sql, i + 1)
                if match and match.end() <= end:
                    yield match.group(0), i, match.end()
                    i = match.end()
                    continue
            i += 1


def to_pyformat(sql: str, dialect: str) -> str:
    """``sql`` with ``:name`` parameters as ``%(name)s`` and every other ``%`` doubled (the
    ``pyformat`` style of pymysql, psycopg and pg8000, which interpolate ``%`` inside quoted text
    too). Use it only when parameters are passed: without them the drivers leave ``%`` alone."""
    out: list[str] = []
    position = 0
    for name, start, end in _parameters(sql, dialect):
        out.append(sql[position:start].replace("%", "%%"))
        out.append(f"%({name})s")
        position = end
    out.append(sql[position:].replace("%", "%%"))
    return "".join(out)
