"""The RDS Data API and the Redshift Data API under moto, answered by real database servers.

moto 5.2 runs no SQL: its RDS Data API returns queued canned results (and ignores parameters,
the secret and the database), and its Redshift Data API answers every statement with the same
three rows. :func:`install` routes both to the servers of tests/dbservers.py instead, as strictly
as AWS checks a request:

* RDS Data API: the ``resourceArn`` must be a moto Aurora cluster whose HTTP endpoint is enabled
  (``BadRequestException: HttpEndpoint is not enabled for cluster ...`` otherwise); the
  ``secretArn`` must exist, and its ``username``/``password`` must be the cluster's master
  credentials (its managed master secret) or a database user's real ones; one statement per call;
  typed ``SqlParameter`` values; records in the API's shape; ``DatabaseResumingException`` while
  the cluster is auto-paused (``fake.pause(cluster_arn, calls)``).
* moto refuses ``EnableHttpEndpoint`` for everything but Serverless v1; AWS accepts it for
  Serverless v2 and provisioned clusters (Aurora MySQL 3.07+, Aurora PostgreSQL 13.12+/14.9+/
  15.4+/16.1+), so :func:`install` widens moto's check to those versions (an older version is
  ``InvalidParameterCombination``), and adds the ``EnableHttpEndpoint`` / ``DisableHttpEndpoint``
  actions (those clusters' way to change it; moto has neither).
* Redshift Data API: the cluster must exist and be available; the secret must hold the cluster's
  admin credentials (its managed secret) or a user's; statements run on PostgreSQL (Redshift's SQL
  for what the bootstrap sends: schemas, tables, users with MD5 passwords, grants), go
  ``SUBMITTED`` -> ``STARTED`` -> ``FINISHED``/``FAILED`` over ``DescribeStatement`` calls, and
  results come back as the API's ``Records``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.rds.exceptions import DBClusterNotFoundError, InvalidParameterCombination
from moto.rds.models import DBCluster, rds_backends
from moto.rds.responses import RDSResponse
from moto.rdsdata.responses import RDSDataServiceResponse
from moto.redshift.models import redshift_backends
from moto.redshiftdata.models import RedshiftDataAPIServiceBackend, StatementResult
from moto.secretsmanager.models import secretsmanager_backends

from dbscale.core.bootstrap.sql import split_statements, to_pyformat
from tests.dbservers import Server
from tests.fakes.patching import Patcher

_DATA_API_VERSIONS = {
    "aurora-mysql": re.compile(r"^8\.0\.mysql_aurora\.3\.(0[7-9]|[1-9]\d)"),
    "aurora-postgresql": re.compile(
        r"^(13\.(1[2-9]|[2-9]\d)|14\.(9|[1-9]\d)|15\.([4-9]|\d\d)|16\.([1-9]|\d\d)|1[7-9])"
    ),
}
_STEPS = ("SUBMITTED", "STARTED", "FINISHED")


class _RdsDataError(JsonRESTError):
    code = 400


@dataclass
class DataApiFake:
    """Which server answers for which cluster, and the statements that ran (for assertions)."""

    servers: dict[str, Server] = field(default_factory=dict)
    """Cluster ARN (Aurora) or identifier (Redshift) -> the server playing it."""
    statements: list[dict[str, Any]] = field(default_factory=list)
    resuming: dict[str, int] = field(default_factory=dict)

    def attach(self, cluster: str, server: Server) -> None:
        self.servers[cluster] = server

    def pause(self, cluster_arn: str, calls: int) -> None:
        """The next ``calls`` statements on the cluster answer ``DatabaseResumingException``."""
        self.resuming[cluster_arn] = calls


def _secret(account: str, region: str, arn: str) -> dict[str, Any]:
    backend = secretsmanager_backends[account][region]
    try:
        value = backend.get_secret_value(arn, None, None)
    except Exception:
        raise _RdsDataError("BadRequestException", f"Secrets Manager secret {arn} not found") from None
    return dict(json.loads(value["SecretString"]))


def _login(server: Server, credentials: dict[str, Any], master: dict[str, Any], database: str | None) -> Any:
    """A connection as the master (the cluster's own secret) or as the user the secret names."""
    if credentials.get("username") == master.get("username") and credentials.get("password") == master.get("password"):
        return server.connect(database=database)
    return server.connect(user=credentials.get("username"), password=credentials.get("password"), database=database)


def _run(
    connection: Any, dialect: str, sql: str, parameters: dict[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]], int]:
    cursor = connection.cursor()
    try:
        if parameters:
            cursor.execute(to_pyformat(sql, dialect), parameters)
        else:
            cursor.execute(sql)
        names = [c[0] for c in cursor.description] if cursor.description else []
        rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        connection.commit()
        return names, rows, max(cursor.rowcount, 0)
    finally:
        cursor.close()


def _rds_value(parameter: dict[str, Any]) -> Any:
    value = parameter.get("value") or {}
    if value.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in value:
            return value[key]
    raise _RdsDataError("BadRequestException", f"unsupported parameter value {sorted(value)}")


def _field(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, Decimal):
        return {"stringValue": str(value)}  # both APIs return DECIMAL as text
    if isinstance(value, dt.datetime):
        return {"stringValue": value.strftime("%Y-%m-%d %H:%M:%S")}
    if isinstance(value, bytes):
        return {"blobValue": value}
    return {"stringValue": str(value)}


def _one_statement(sql: str, dialect: str, error: type[Exception], code: str) -> None:
    if len(split_statements(sql, dialect)) != 1:
        raise error(code, "Multistatements aren't supported.")  # type: ignore[call-arg]


@contextmanager
def install() -> Iterator[DataApiFake]:
    """Route moto's RDS Data API and Redshift Data API to real servers; yields the routing table."""
    fake = DataApiFake()
    patcher = Patcher()
    original_setter = DBCluster.enable_http_endpoint.fset  # type: ignore[attr-defined]

    def enable_http_endpoint(self: Any, value: bool | None) -> None:
        original_setter(self, value)
        pattern = _DATA_API_VERSIONS.get(self.engine)
        if value and pattern is not None and self.engine_mode != "serverless":
            if not pattern.match(self.engine_version or ""):
                raise InvalidParameterCombination(
                    f"The engine version {self.engine_version} does not support the Data API"
                )
            self._enable_http_endpoint = True

    def http_endpoint_action(enabled: bool) -> Any:
        def action(self: RDSResponse) -> ActionResult:
            arn = self.params.get("ResourceArn")
            cluster = next((c for c in self.backend.clusters.values() if c.db_cluster_arn == arn), None)
            if cluster is None:
                raise DBClusterNotFoundError(str(arn))
            if cluster.engine_mode == "serverless":
                raise InvalidParameterCombination(
                    "Use ModifyDBCluster with EnableHttpEndpoint for Aurora Serverless v1 clusters"
                )
            cluster.enable_http_endpoint = enabled
            return ActionResult({"ResourceArn": arn, "HttpEndpointEnabled": cluster.enable_http_endpoint})

        return action

    def execute_statement(self: RDSDataServiceResponse) -> str:
        body = json.loads(self.body or "{}")
        arn, sql = body.get("resourceArn", ""), body.get("sql", "")
        cluster = next(
            (c for c in rds_backends[self.current_account][self.region].clusters.values() if c.db_cluster_arn == arn),
            None,
        )
        if cluster is None:
            raise _RdsDataError("BadRequestException", f"Invalid cluster arn: {arn}")
        if not cluster.enable_http_endpoint:
            raise _RdsDataError(
                "BadRequestException", f"HttpEndpoint is not enabled for cluster {cluster.db_cluster_identifier}."
            )
        if fake.resuming.get(arn, 0) > 0:
            fake.resuming[arn] -= 1
            raise _RdsDataError("DatabaseResumingException", "The database is resuming after being auto-paused.")
        credentials = _secret(self.current_account, self.region, body.get("secretArn", ""))
        master = _secret(self.current_account, self.region, cluster.master_user_secret.secret_arn)
        dialect = "mysql" if cluster.engine == "aurora-mysql" else "postgresql"
        _one_statement(sql, dialect, _RdsDataError, "BadRequestException")
        server = fake.servers.get(arn)
        if server is None:
            raise _RdsDataError("BadRequestException", f"no test server attached to {arn}")
        parameters = {p["name"]: _rds_value(p) for p in body.get("parameters") or []}
        fake.statements.append({"api": "rds-data", "resourceArn": arn, "sql": sql, "parameters": parameters})
        try:
            connection = _login(server, credentials, master, body.get("database"))
        except Exception as err:
            raise _RdsDataError("BadRequestException", f"Access denied: {err}") from None
        try:
            names, rows, updated = _run(connection, dialect, sql, parameters)
        except Exception as err:
            raise _RdsDataError("BadRequestException", f"Database error: {err}") from None
        finally:
            connection.close()
        result: dict[str, Any] = {"numberOfRecordsUpdated": updated}
        if names:
            result["records"] = [[_field(v) for v in row] for row in rows]
        if body.get("includeResultMetadata") and names:
            result["columnMetadata"] = [{"name": n, "label": n} for n in names]
        return json.dumps(result)

    results: dict[str, dict[str, Any]] = {}
    original_execute = RedshiftDataAPIServiceBackend.execute_statement
    original_describe = RedshiftDataAPIServiceBackend.describe_statement

    def redshift_execute(self: Any, **kwargs: Any) -> Any:
        identifier = kwargs["cluster_identifier"]
        clusters = redshift_backends[self.account_id][self.region_name].clusters
        cluster = clusters.get(identifier)
        if cluster is None:
            raise _RdsDataError("ValidationException", f"Cluster {identifier} not found.")
        if cluster.status != "available":
            raise _RdsDataError("ValidationException", f"Cluster {identifier} is {cluster.status}, not available.")
        _one_statement(kwargs["sql"], "redshift", _RdsDataError, "ValidationException")
        credentials = _secret(self.account_id, self.region_name, kwargs.get("secret_arn") or "")
        master = _secret(self.account_id, self.region_name, cluster.master_password_secret_arn)
        statement = original_execute(self, **kwargs)
        statement.status = _STEPS[0]
        parameters = {p["name"]: p["value"] for p in kwargs.get("parameters") or []}
        fake.statements.append({"api": "redshift-data", "cluster": identifier, "sql": kwargs["sql"]})
        server = fake.servers[identifier]
        try:
            connection = _login(server, credentials, master, None)
            try:
                names, rows, _ = _run(connection, "redshift", kwargs["sql"], parameters)
            finally:
                connection.close()
            results[statement.id] = {"names": names, "rows": rows}
        except Exception as err:
            results[statement.id] = {"error": f"ERROR: {err}".splitlines()[0]}
        return statement

    def redshift_describe(self: Any, statement_id: str) -> Any:
        statement = original_describe(self, statement_id)
        outcome = results.get(statement_id)
        if outcome is not None and statement.status in _STEPS[:-1]:
            if "error" in outcome:
                statement.status = "FAILED"
            else:
                statement.status = _STEPS[_STEPS.index(statement.status) + 1]
                if statement.status == "FINISHED":
                    statement.has_result_set = bool(outcome["names"])
                    statement.result_rows = len(outcome["rows"])
        if outcome is not None and "error" in outcome:
            return _WithError(statement, outcome["error"])
        return statement

    def redshift_result(self: Any, statement_id: str) -> Any:
        outcome = results[statement_id]
        columns = [{"name": n, "nullable": 1, "isCaseSensitive": False, "isSigned": True} for n in outcome["names"]]
        return StatementResult(columns, [[_field(v) for v in row] for row in outcome["rows"]], len(outcome["rows"]))

    patcher.set(DBCluster, "enable_http_endpoint", property(DBCluster.enable_http_endpoint.fget, enable_http_endpoint))  # type: ignore[attr-defined]
    for name in ("enable_http_endpoint", "disable_http_endpoint"):
        if name in vars(RDSResponse):
            raise RuntimeError(f"moto now implements RDS {name}; drop it from {__name__}")
    patcher.set(RDSResponse, "enable_http_endpoint", http_endpoint_action(True))
    patcher.set(RDSResponse, "disable_http_endpoint", http_endpoint_action(False))
    patcher.set(RDSDataServiceResponse, "execute_statement", execute_statement)
    patcher.set(RedshiftDataAPIServiceBackend, "execute_statement", redshift_execute)
    patcher.set(RedshiftDataAPIServiceBackend, "describe_statement", redshift_describe)
    patcher.set(RedshiftDataAPIServiceBackend, "get_statement_result", redshift_result)
    try:
        yield fake
    finally:
        patcher.restore()


class _WithError:
    """A described statement that also reports AWS's ``Error`` field (moto's Statement has none)."""

    def __init__(self, statement: Any, error: str) -> None:
        self._statement = statement
        self._error = error

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        yield from self._statement
        yield "Error", self._error
