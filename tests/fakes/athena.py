"""Athena under moto, with the query statistics moto leaves out.

moto 5 records query executions but reports every one as scanning 0 bytes, with its submission
and completion at the moment it was started, and has no ``BatchGetQueryExecution``.
:func:`install` adds ``BatchGetQueryExecution`` (as AWS answers it: up to 50 IDs) and makes
``GetQueryExecution`` report what :func:`add_query_execution` recorded: bytes scanned, state,
statement type, catalog and times. ``ListQueryExecutions`` answers as AWS does: newest
submission first, at most ``MaxResults`` (1-50, default 50) IDs a page with a ``NextToken``; moto
returns every ID, oldest first, in one page.

botocore 1.44 moved Athena from the ``json`` protocol (``POST /`` with ``X-Amz-Target``) to
``rest-json`` (``GET /query-executions/{QueryExecutionId}``, ``POST /batch-get-query-executions``
…), which moto 5.2.6 does not route (``404: Not yet implemented``). :func:`install` serves both:
every path under Athena's endpoint goes to moto's Athena responses, which find the operation and
parse its parameters (URI, query string, body) from the same botocore model the client used.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .patching import Patcher

BATCH_LIMIT = 50
LIST_PAGE_LIMIT = 50  # ListQueryExecutions: MaxResults 1-50, default 50
_OVERRIDES: dict[str, dict[str, Any]] = {}


def _backend(region: str = "us-east-1") -> Any:
    from moto.athena.models import athena_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    return athena_backends[DEFAULT_ACCOUNT_ID][region]


def _execution_json(backend: Any, exec_id: str) -> dict[str, Any]:
    execution = backend.get_query_execution(exec_id)
    extra = _OVERRIDES.get(exec_id, {})
    query = execution.query
    statement_type = extra.get("statement_type") or (
        "DDL" if query.upper().startswith(("ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW")) else "DML"
    )
    status: dict[str, Any] = {
        "State": extra.get("state") or execution.status,
        "SubmissionDateTime": extra.get("submitted", execution.start_time),
    }
    completed = extra.get("completed", execution.end_time)
    if completed is not None:
        status["CompletionDateTime"] = completed
    return {
        "QueryExecutionId": exec_id,
        "Query": query,
        "StatementType": statement_type,
        "ResultConfiguration": execution.config or {},
        "QueryExecutionContext": execution.context or {},
        "Status": status,
        "Statistics": {
            "EngineExecutionTimeInMillis": extra.get("engine_ms", 0),
            "DataScannedInBytes": extra.get("data_scanned_bytes", 0),
            "TotalExecutionTimeInMillis": extra.get("engine_ms", 0),
        },
        "WorkGroup": execution.workgroup.name if execution.workgroup else "primary",
    }


def _submitted(backend: Any, exec_id: str) -> float:
    submitted = _OVERRIDES.get(exec_id, {}).get("submitted", backend.executions[exec_id].start_time)
    return float(submitted)


@contextlib.contextmanager
def install() -> Iterator[None]:
    """Add BatchGetQueryExecution to moto and report recorded statistics from both Get calls."""
    from moto.athena import urls
    from moto.athena.responses import AthenaResponse

    assert not hasattr(AthenaResponse, "batch_get_query_execution"), "moto now has BatchGetQueryExecution"
    original_init = AthenaResponse.__init__

    def init(self: Any) -> None:
        original_init(self)
        # Parameters from the botocore model, whatever its protocol: rest-json carries the IDs in
        # the path and the query string, where moto's body-only lookup finds nothing.
        self.automated_parameter_parsing = True

    def get_query_execution(self: Any) -> str:
        exec_id = self._get_param("QueryExecutionId")
        return json.dumps({"QueryExecution": _execution_json(self.athena_backend, exec_id)})

    def batch_get_query_execution(self: Any) -> str | tuple[str, dict[str, int]]:
        ids = self._get_param("QueryExecutionIds") or []
        if not 1 <= len(ids) <= BATCH_LIMIT:
            return self.error(f"QueryExecutionIds must hold 1 to {BATCH_LIMIT} IDs", 400)
        found, missing = [], []
        for exec_id in ids:
            if exec_id in self.athena_backend.executions:
                found.append(_execution_json(self.athena_backend, exec_id))
            else:
                missing.append(
                    {
                        "QueryExecutionId": exec_id,
                        "ErrorCode": "INVALID_INPUT",
                        "ErrorMessage": "QueryExecution not found",
                    }
                )
        return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})

    def list_query_executions(self: Any) -> str | tuple[str, dict[str, int]]:
        limit = int(self._get_param("MaxResults") or LIST_PAGE_LIMIT)
        if not 1 <= limit <= LIST_PAGE_LIMIT:
            return self.error(f"MaxResults must be 1 to {LIST_PAGE_LIMIT}", 400)
        executions = self.athena_backend.list_query_executions(self._get_param("WorkGroup"))
        newest_first = sorted(executions, key=lambda exec_id: _submitted(self.athena_backend, exec_id), reverse=True)
        start = int(self._get_param("NextToken") or 0)
        page: dict[str, Any] = {"QueryExecutionIds": newest_first[start : start + limit]}
        if start + limit < len(newest_first):
            page["NextToken"] = str(start + limit)
        return json.dumps(page)

    patcher = Patcher()
    for name, value in {
        "__init__": init,
        "get_query_execution": get_query_execution,
        "batch_get_query_execution": batch_get_query_execution,
        "list_query_executions": list_query_executions,
    }.items():
        patcher.set(AthenaResponse, name, value)
    rest_json = "{0}/.+$"  # rest-json: the operation is in the path
    urls.url_paths[rest_json] = AthenaResponse.dispatch
    _OVERRIDES.clear()
    try:
        yield
    finally:
        del urls.url_paths[rest_json]
        patcher.restore()
        _OVERRIDES.clear()


def add_query_execution(
    athena: Any,
    *,
    catalog: str,
    data_scanned_bytes: int,
    submitted: datetime,
    completed: datetime | None,
    state: str = "SUCCEEDED",
    query: str = "SELECT * FROM sales",
    workgroup: str = "primary",
    statement_type: str | None = None,
    database: str = "default",
) -> str:
    """Start a query through moto's API, then record what AWS would report for it; returns its ID."""
    exec_id: str = athena.start_query_execution(
        QueryString=query,
        QueryExecutionContext={"Catalog": catalog, "Database": database},
        WorkGroup=workgroup,
    )["QueryExecutionId"]
    _OVERRIDES[exec_id] = {
        "data_scanned_bytes": int(data_scanned_bytes),
        "submitted": submitted.timestamp(),
        "completed": completed.timestamp() if completed is not None else None,
        "state": state,
        "statement_type": statement_type,
    }
    return exec_id
