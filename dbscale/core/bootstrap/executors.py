"""One small interface for running SQL, and its three implementations.

* :class:`DbApiExecutor`: a PEP 249 connection (pymysql, psycopg 3, pg8000), for local servers,
  tests and the example's ingest function.
* :class:`RdsDataExecutor`: the RDS Data API (Aurora with its HTTP endpoint enabled), signed in
  with a Secrets Manager secret.
* :class:`RedshiftDataExecutor`: the Redshift Data API (asynchronous: submit, poll, fetch).

Parameters are always ``:name`` in the SQL text, the Data APIs' own style; the DB-API executor
converts them for the driver. Executors never log SQL text or parameters.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..aws import aws_errors, client
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import AwsError, DatabaseResuming, OperationTimeout, StatementFailed
from .sql import check_dialect, parameter_names, to_pyformat

if TYPE_CHECKING:
    import boto3

SqlValue = str | int | float | bool | None
Row = tuple[Any, ...]

REDSHIFT_STATEMENT_TIMEOUT_SECONDS = 600.0
"""How long :class:`RedshiftDataExecutor` waits for one statement (seconds)."""
_REDSHIFT_POLL_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)


@runtime_checkable
class StatementExecutor(Protocol):
    """Runs one SQL statement at a time, committed when it returns.

    ``dialect`` is ``mysql``, ``postgresql`` or ``redshift``. ``execute`` returns the result rows
    (an empty list for statements without a result set) and raises :class:`StatementFailed` when
    the database refuses the statement.
    """

    @property
    def dialect(self) -> str: ...

    def execute(self, sql: str, parameters: Mapping[str, SqlValue] | None = None) -> list[Row]: ...


def _check_parameters(sql: str, dialect: str, parameters: Mapping[str, SqlValue] | None) -> None:
    names = set(parameter_names(sql, dialect))
    given = set(parameters or {})
    if names != given:
        missing, extra = sorted(names - given), sorted(given - names)
        raise StatementFailed(f"statement parameters do not match: missing {missing}, unused {extra}")


class DbApiExecutor:
    """A :class:`StatementExecutor` over a PEP 249 connection in the ``pyformat`` parameter style.

    Each statement is committed as it completes (MySQL commits DDL implicitly anyway). The
    connection stays the caller's: close it yourself.
    """

    def __init__(self, connection: Any, dialect: str) -> None:
        self._connection = connection
        self._dialect = check_dialect(dialect)

    @property
    def dialect(self) -> str:
        return self._dialect

    def execute(self, sql: str, parameters: Mapping[str, SqlValue] | None = None) -> list[Row]:
        _check_parameters(sql, self._dialect, parameters)
        cursor = self._connection.cursor()
        try:
            if parameters:
                cursor.execute(to_pyformat(sql, self._dialect), dict(parameters))
            else:
                cursor.execute(sql)
            rows = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            self._connection.commit()
            return rows
        except Exception as err:
            self._rollback()
            if _is_driver_error(err):
                raise StatementFailed(_driver_message(err)) from None
            raise
        finally:
            cursor.close()

    def _rollback(self) -> None:
        # The connection may be gone; the original error is what matters.
        with contextlib.suppress(Exception):
            self._connection.rollback()


def _is_driver_error(err: BaseException) -> bool:
    # PEP 249 drivers derive every database error from their module's Error class.
    return any(cls.__name__ == "Error" and cls.__module__.split(".")[0] in _DRIVERS for cls in type(err).__mro__)


_DRIVERS = frozenset({"pymysql", "psycopg", "pg8000", "MySQLdb", "mysql"})


def _driver_message(err: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(err, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):  # pymysql: (errno, message)
        return f"database error {args[0]}: {args[1]}"
    return f"database error: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}"


# --- the RDS Data API ----------------------------------------------------------------------


def rds_data_parameter(name: str, value: SqlValue) -> dict[str, Any]:
    """One ``SqlParameter`` of the RDS Data API."""
    if value is None:
        return {"name": name, "value": {"isNull": True}}
    if isinstance(value, bool):
        return {"name": name, "value": {"booleanValue": value}}
    if isinstance(value, int):
        return {"name": name, "value": {"longValue": value}}
    if isinstance(value, float):
        return {"name": name, "value": {"doubleValue": value}}
    return {"name": name, "value": {"stringValue": str(value)}}


def _rds_field(field: Mapping[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in field:
            return field[key]
    if "blobValue" in field:
        blob = field["blobValue"]
        return blob if isinstance(blob, bytes) else base64.b64decode(blob)
    if "arrayValue" in field:
        array = field["arrayValue"]
        for key in ("stringValues", "longValues", "doubleValues", "booleanValues"):
            if key in array:
                return list(array[key])
        return [_rds_field({"arrayValue": a}) for a in array.get("arrayValues", [])]
    return None


class RdsDataExecutor:
    """A :class:`StatementExecutor` over the RDS Data API.

    :param resource_arn: the Aurora cluster's ARN (its HTTP endpoint must be enabled).
    :param secret_arn: a secret with the user's ``username`` and ``password`` (the cluster's
        managed master user secret, for the bootstrap).
    :param dialect: ``mysql`` or ``postgresql``.
    :param database: the database to connect to. Default None: the engine's default.
    A paused Serverless v2 cluster answers ``DatabaseResumingException``: raised as
    :class:`DatabaseResuming` so the caller decides how long to wait.
    """

    def __init__(
        self,
        resource_arn: str,
        secret_arn: str,
        dialect: str,
        *,
        database: str | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        self._resource_arn = resource_arn
        self._secret_arn = secret_arn
        self._dialect = check_dialect(dialect)
        self._database = database
        self._session = session

    @property
    def dialect(self) -> str:
        return self._dialect

    def execute(self, sql: str, parameters: Mapping[str, SqlValue] | None = None) -> list[Row]:
        _check_parameters(sql, self._dialect, parameters)
        # continueAfterTimeout: a statement past the Data API's 45 s call limit (an index on a big
        # table) finishes in the database instead of being cancelled half way.
        request: dict[str, Any] = {
            "resourceArn": self._resource_arn,
            "secretArn": self._secret_arn,
            "sql": sql,
            "continueAfterTimeout": True,
        }
        if self._database:
            request["database"] = self._database
        if parameters:
            request["parameters"] = [rds_data_parameter(k, v) for k, v in parameters.items()]
        try:
            with aws_errors("run a statement through the RDS Data API"):
                response = client("rds-data", self._session).execute_statement(**request)
        except AwsError as err:
            if err.code == "DatabaseResumingException":
                raise DatabaseResuming(
                    "the Aurora cluster is resuming from auto-pause; the statement will be retried"
                ) from None
            if err.code in ("BadRequestException", "DatabaseErrorException"):
                raise StatementFailed(str(err)) from None
            if err.code == "StatementTimeoutException":
                raise StatementFailed(
                    "the statement ran longer than the RDS Data API's 45 s call limit; it goes on in the "
                    "database: once it has finished, run again (statements written to run twice are skipped)"
                ) from None
            raise
        return [tuple(_rds_field(f) for f in record) for record in response.get("records") or []]


# --- the Redshift Data API -------------------------------------------------------------------


def _redshift_value(value: SqlValue) -> str:
    # The Redshift Data API takes every parameter as a string and has no NULL parameter.
    if value is None:
        raise StatementFailed("the Redshift Data API has no NULL parameter; write NULL in the SQL text")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _redshift_field(field: Mapping[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in field:
            return field[key]
    if "blobValue" in field:
        blob = field["blobValue"]
        return blob if isinstance(blob, bytes) else base64.b64decode(blob)
    return None


class RedshiftDataExecutor:
    """A :class:`StatementExecutor` over the Redshift Data API (a provisioned cluster).

    :param cluster_identifier: the cluster.
    :param secret_arn: a secret with ``username`` and ``password`` (the cluster's managed admin
        secret, for the bootstrap).
    :param database: the database. Default ``dev``.
    :param timeout_seconds: how long one statement may run. Default 600.
    """

    def __init__(
        self,
        cluster_identifier: str,
        secret_arn: str,
        *,
        database: str = "dev",
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        timeout_seconds: float = REDSHIFT_STATEMENT_TIMEOUT_SECONDS,
    ) -> None:
        self._cluster = cluster_identifier
        self._secret_arn = secret_arn
        self._database = database
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._timeout = timeout_seconds

    @property
    def dialect(self) -> str:
        return "redshift"

    def execute(self, sql: str, parameters: Mapping[str, SqlValue] | None = None) -> list[Row]:
        _check_parameters(sql, "redshift", parameters)
        api = client("redshift-data", self._session)
        request: dict[str, Any] = {
            "ClusterIdentifier": self._cluster,
            "SecretArn": self._secret_arn,
            "Database": self._database,
            "Sql": sql,
        }
        if parameters:
            request["Parameters"] = [{"name": k, "value": _redshift_value(v)} for k, v in parameters.items()]
        with aws_errors(f"run a statement on Redshift cluster '{self._cluster}' through the Data API"):
            statement_id = api.execute_statement(**request)["Id"]
        description = self._wait(api, statement_id)
        if not description.get("HasResultSet"):
            return []
        rows: list[Row] = []
        token: str | None = None
        while True:
            page_request = {"Id": statement_id, **({"NextToken": token} if token else {})}
            with aws_errors("read a Redshift Data API result"):
                page = api.get_statement_result(**page_request)
            rows.extend(tuple(_redshift_field(f) for f in record) for record in page.get("Records") or [])
            token = page.get("NextToken")
            if not token:
                return rows

    def _wait(self, api: Any, statement_id: str) -> dict[str, Any]:
        started = self._clock.now()
        attempt = 0
        while True:
            with aws_errors("read a Redshift Data API statement's status"):
                description: dict[str, Any] = api.describe_statement(Id=statement_id)
            status = description.get("Status")
            if status == "FINISHED":
                return description
            if status in ("FAILED", "ABORTED"):
                raise StatementFailed(f"Redshift refused the statement ({status}): {description.get('Error', '')}")
            if self._clock.now() - started > self._timeout:
                with aws_errors("cancel a Redshift Data API statement"):
                    api.cancel_statement(Id=statement_id)
                raise OperationTimeout(
                    f"a statement on Redshift cluster '{self._cluster}' ran longer than {self._timeout:g} s and "
                    "was cancelled"
                )
            self._clock.sleep(_REDSHIFT_POLL_SECONDS[min(attempt, len(_REDSHIFT_POLL_SECONDS) - 1)])
            attempt += 1


def plain(value: Any) -> Any:
    """A result cell as a JSON-friendly value (Decimal -> float, dates -> ISO text)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def plain_rows(rows: Sequence[Row]) -> list[list[Any]]:
    """Rows of :func:`plain` values."""
    return [[plain(v) for v in row] for row in rows]
