"""The Redshift Data API under moto, answering from a query history that tests write.

moto 5 accepts ``ExecuteStatement`` but leaves every statement ``STARTED`` and returns the same
three canned rows for any SQL. :func:`install` makes statements run: each one's SQL is executed by
SQLite against the ``sys_query_history`` and ``sys_query_detail`` rows a test added for that
cluster (named parameters bound as the strings the Data API sends; SQLite, like Redshift, converts
them when compared with a typed column), the statement goes ``SUBMITTED`` -> ``STARTED`` ->
``FINISHED`` over successive ``DescribeStatement`` calls, and ``GetStatementResult`` returns the
rows in the Data API's shape (``longValue``, ``stringValue``, ``isNull``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_HISTORY_COLUMNS = (
    "query_id INTEGER, user_id INTEGER, query_type TEXT, status TEXT, start_time TEXT, end_time TEXT, "
    "elapsed_time INTEGER, queue_time INTEGER, execution_time INTEGER, query_text TEXT"
)
_DETAIL_COLUMNS = (
    "query_id INTEGER, step_id INTEGER, spilled_block_local_disk INTEGER, spilled_block_remote_disk INTEGER"
)
_STEPS = ("SUBMITTED", "STARTED", "FINISHED")


def _stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class QueryHistory:
    """Per-cluster rows of SYS_QUERY_HISTORY and SYS_QUERY_DETAIL, and the statements that ran."""

    history: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    detail: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    statements: list[dict[str, Any]] = field(default_factory=list)
    fail_with: str | None = None

    def add_query(
        self,
        cluster: str,
        *,
        elapsed_secs: float,
        end_time: datetime,
        status: str = "success",
        query_text: str = "select count(*) from sales",
        spilled_local_blocks: int = 0,
        spilled_remote_blocks: int = 0,
        query_type: str = "SELECT",
        queue_secs: float = 0.0,
    ) -> int:
        """Record one query that ended at ``end_time`` after ``elapsed_secs`` (``queue_secs`` of them queued)."""
        rows = self.history.setdefault(cluster, [])
        query_id = 1000 + len(rows)
        elapsed_us = round(elapsed_secs * 1_000_000)
        start = datetime.fromtimestamp(end_time.timestamp() - elapsed_secs, tz=timezone.utc)
        rows.append(
            (
                query_id,
                100,
                query_type,
                status,
                _stamp(start),
                _stamp(end_time),
                elapsed_us,
                round(queue_secs * 1_000_000),
                elapsed_us - round(queue_secs * 1_000_000),
                query_text,
            )
        )
        details = self.detail.setdefault(cluster, [])
        details.append((query_id, 0, 0, 0))
        if spilled_local_blocks or spilled_remote_blocks:
            details.append((query_id, 1, spilled_local_blocks, spilled_remote_blocks))
        return query_id

    def run(self, cluster: str, sql: str, parameters: list[dict[str, str]] | None) -> tuple[list[str], list[list[Any]]]:
        db = sqlite3.connect(":memory:")
        try:
            db.execute(f"CREATE TABLE sys_query_history ({_HISTORY_COLUMNS})")
            db.execute(f"CREATE TABLE sys_query_detail ({_DETAIL_COLUMNS})")
            db.executemany("INSERT INTO sys_query_history VALUES (?,?,?,?,?,?,?,?,?,?)", self.history.get(cluster, []))
            db.executemany("INSERT INTO sys_query_detail VALUES (?,?,?,?)", self.detail.get(cluster, []))
            cursor = db.execute(sql, {p["name"]: p["value"] for p in parameters or []})
            names = [c[0] for c in cursor.description or []]
            return names, [list(row) for row in cursor.fetchall()]
        finally:
            db.close()


class _WithError:
    """A described statement that also reports AWS's ``Error`` field (moto's Statement has none)."""

    def __init__(self, statement: Any, error: str) -> None:
        self._statement = statement
        self._error = error

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        yield from self._statement
        yield "Error", self._error


def _cell(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


@contextlib.contextmanager
def install() -> Iterator[QueryHistory]:
    """Make moto's Redshift Data API run statements against a :class:`QueryHistory`; yields it."""
    from moto.redshiftdata.models import RedshiftDataAPIServiceBackend, StatementResult

    history = QueryHistory()
    results: dict[str, dict[str, Any]] = {}
    original_execute = RedshiftDataAPIServiceBackend.execute_statement
    original_describe = RedshiftDataAPIServiceBackend.describe_statement
    original_result = RedshiftDataAPIServiceBackend.get_statement_result
    assert getattr(original_execute, "_dbscale_fake", False) is False, "already installed"

    def execute_statement(self: Any, **kwargs: Any) -> Any:
        statement = original_execute(self, **kwargs)
        history.statements.append(dict(kwargs, id=statement.id))
        statement.status = _STEPS[0]
        if history.fail_with is not None:
            results[statement.id] = {"error": history.fail_with}
        else:
            names, rows = history.run(kwargs["cluster_identifier"], kwargs["sql"], kwargs.get("parameters"))
            results[statement.id] = {"names": names, "rows": rows}
        return statement

    def describe_statement(self: Any, statement_id: str) -> Any:
        statement = original_describe(self, statement_id)
        outcome = results.get(statement_id)
        if outcome is not None and statement.status in _STEPS[:-1]:
            if "error" in outcome:
                statement.status = "FAILED"
            else:
                statement.status = _STEPS[_STEPS.index(statement.status) + 1]
                if statement.status == "FINISHED":
                    statement.has_result_set = True
                    statement.result_rows = len(outcome["rows"])
        if outcome is not None and "error" in outcome:
            return _WithError(statement, outcome["error"])
        return statement

    def get_statement_result(self: Any, statement_id: str) -> Any:
        outcome = results.get(statement_id)
        if outcome is None or "rows" not in outcome:
            return original_result(self, statement_id)
        columns = [{"name": n, "nullable": 1, "isCaseSensitive": False, "isSigned": True} for n in outcome["names"]]
        records = [[_cell(v) for v in row] for row in outcome["rows"]]
        return StatementResult(columns, records, len(records))

    execute_statement._dbscale_fake = True  # type: ignore[attr-defined]
    RedshiftDataAPIServiceBackend.execute_statement = execute_statement  # type: ignore[method-assign]
    RedshiftDataAPIServiceBackend.describe_statement = describe_statement  # type: ignore[method-assign]
    RedshiftDataAPIServiceBackend.get_statement_result = get_statement_result  # type: ignore[method-assign]
    try:
        yield history
    finally:
        RedshiftDataAPIServiceBackend.execute_statement = original_execute  # type: ignore[method-assign]
        RedshiftDataAPIServiceBackend.describe_statement = original_describe  # type: ignore[method-assign]
        RedshiftDataAPIServiceBackend.get_statement_result = original_result  # type: ignore[method-assign]
