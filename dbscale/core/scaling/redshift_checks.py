"""The Redshift checks: CloudWatch utilization and query history through the Data API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from statistics import fmean
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors
from ..errors import AwsError, OperationTimeout

if TYPE_CHECKING:
    pass

from .checks import REDSHIFT_QUEUE_SQL, REDSHIFT_SLOW_SQL, REDSHIFT_SPILL_SQL, Check
from .metrics import MetricKey, MetricWindow, Series, redshift_metric
from .plans import MetricPlan, Plan, RedshiftState, ScalingContext, StatementPlan, answered, no_data_result
from .results import CheckResult, format_number

_DATA_API_DONE = frozenset({"FINISHED", "FAILED", "ABORTED"})


def _sql_time(epoch: float) -> str:
    """``epoch`` as a UTC timestamp literal for the query history SQL."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _long(cell: Mapping[str, Any]) -> int:
    """A Data API result cell as an int (0 for NULL)."""
    if cell.get("isNull"):
        return 0
    for key in ("longValue", "doubleValue", "stringValue"):
        if key in cell:
            return int(float(cell[key]))
    return 0


class RedshiftChecks(ScalingContext):
    """The Redshift checks of :class:`ProvisionScaling`: utilization, slow query share, queue wait."""

    # --- Redshift -----------------------------------------------------------------------------

    def _plan_redshift(self, check: Check, state: RedshiftState, window: MetricWindow) -> Plan:
        if check.kind == "redshift_slow_percentage":
            return self._plan_query_share(
                check,
                state,
                window,
                REDSHIFT_SLOW_SQL,
                source="Redshift SYS_QUERY_HISTORY.elapsed_time via the Redshift Data API",
                did=f"ran longer than {format_number(check.threshold)} s",
                counted="slow_queries",
                details={"running_time_threshold_secs": check.threshold},
                parameters={"threshold_us": str(round(check.threshold * 1_000_000))},
            )
        if check.kind == "redshift_queue_wait":
            return self._plan_queue_wait(check, state, window)
        if check.utilization_type == "memory":
            return self._plan_query_share(
                check,
                state,
                window,
                REDSHIFT_SPILL_SQL,
                source="Redshift SYS_QUERY_DETAIL spilled_block_local_disk + spilled_block_remote_disk per query "
                "via the Redshift Data API (Redshift publishes no memory metric)",
                did="spilled to disk for lack of memory",
                aside=", Redshift's measure of memory pressure",
                counted="spilled_queries",
                details={"measure": "share of queries that spilled to disk"},
                unmeasured=", so memory pressure cannot be measured",
            )
        metric = "CPUUtilization" if check.utilization_type == "cpu" else "PercentageDiskSpaceUsed"
        key = redshift_metric(state.name, metric, window)

        def finish(data: Mapping[MetricKey, Series]) -> CheckResult:
            values = [v for _, v in data.get(key, [])]
            label = "CPU utilization" if check.utilization_type == "cpu" else "disk space used"
            if not values:
                return no_data_result(
                    check,
                    window,
                    key.describe(),
                    f"Redshift cluster '{state.name}' ({state.status}) "
                    f"published no {metric} datapoints in the last {format_number(window.minutes)} minutes",
                )
            value = fmean(values)
            return answered(
                check,
                window,
                value,
                len(values),
                key.describe() + f", Average per {window.period} s",
                f"Redshift cluster '{state.name}': {label} averaged {format_number(value)}% over {len(values)} "
                f"datapoints in the last {format_number(window.minutes)} minutes",
                {"metric": metric},
            )

        return MetricPlan([key], finish)

    def _plan_queue_wait(self, check: Check, state: RedshiftState, window: MetricWindow) -> StatementPlan:
        """The longest WLM queue wait of the window's queries (0 when nothing queued): the backlog, in time."""
        source = "Redshift SYS_QUERY_HISTORY.queue_time via the Redshift Data API"

        def finish(row: list[int]) -> CheckResult:
            queued, longest_us = row[0], row[1]
            value = longest_us / 1_000_000
            return answered(
                check,
                window,
                value,
                queued,
                source,
                f"Redshift cluster '{state.name}': {queued} queries waited in a queue in the last "
                f"{format_number(window.minutes)} minutes, the longest {format_number(value)} s",
                {"queued_queries": queued, "measure": "longest WLM queue wait"},
            )

        parameters = {"window_start": _sql_time(window.start), "window_end": _sql_time(window.end)}
        return StatementPlan(check, window, state, REDSHIFT_QUEUE_SQL, parameters, finish)

    def _plan_query_share(
        self,
        check: Check,
        state: RedshiftState,
        window: MetricWindow,
        sql: str,
        *,
        source: str,
        did: str,
        counted: str,
        details: Mapping[str, Any],
        parameters: Mapping[str, str] | None = None,
        aside: str = "",
        unmeasured: str = "",
    ) -> StatementPlan:
        """A statement whose row is (queries that finished in the window, how many of them ``did`` something);
        the check's value is that share in percent, its details name the count ``counted``."""

        def finish(row: list[int]) -> CheckResult:
            queries, matched = row[0], row[1]
            if queries == 0:
                return no_data_result(
                    check,
                    window,
                    source,
                    f"no query finished on Redshift cluster '{state.name}' in the last {format_number(window.minutes)} "
                    f"minutes{unmeasured}",
                )
            value = 100.0 * matched / queries
            return answered(
                check,
                window,
                value,
                queries,
                source,
                f"Redshift cluster '{state.name}': {matched} of the {queries} queries that finished in the last "
                f"{format_number(window.minutes)} minutes {did} ({format_number(value)}%{aside})",
                {"queries": queries, counted: matched, **details},
            )

        window_parameters = {"window_start": _sql_time(window.start), "window_end": _sql_time(window.end)}
        return StatementPlan(check, window, state, sql, {**window_parameters, **(parameters or {})}, finish)

    def _run_statements(self, plans: list[StatementPlan], strict: bool) -> None:
        """Submit every statement, then poll them together until all have finished.

        In the fleet form (``strict=False``) a statement that cannot be submitted or does not finish
        in time is marked failed (its result says so) instead of failing the whole fleet.
        """
        if not plans:
            return
        data = self._client("redshift-data")
        for plan in plans:
            request: dict[str, Any] = {
                "ClusterIdentifier": plan.state.name,
                "Database": self._redshift_database or plan.state.database or "dev",
                "Sql": plan.sql,
                "Parameters": [{"name": k, "value": v} for k, v in plan.parameters.items()],
                "StatementName": "dbscale-check",
            }
            secret = self._redshift_secret_arn or (None if self._redshift_db_user else plan.state.secret_arn)
            if secret:
                request["SecretArn"] = secret
            else:
                request["DbUser"] = self._redshift_db_user or plan.state.user or "admin"
            try:
                with aws_errors(f"run a statement on Redshift cluster '{plan.state.name}'"):
                    plan.statement_id = str(data.execute_statement(**request)["Id"])
            except AwsError as err:
                if strict:
                    raise
                plan.status, plan.error = "FAILED", str(err)
        started = self._clock.now()
        deadline = started + self._data_api_timeout
        delay = 0.25
        while True:
            for plan in plans:
                if plan.status in _DATA_API_DONE:
                    continue
                with aws_errors(f"describe a statement on Redshift cluster '{plan.state.name}'"):
                    described = data.describe_statement(Id=plan.statement_id)
                plan.status = str(described.get("Status", ""))
                plan.error = str(described.get("Error", ""))
            pending = [p for p in plans if p.status not in _DATA_API_DONE]
            if not pending:
                return
            if self._clock.now() >= deadline:
                if strict:
                    raise OperationTimeout(_unfinished(pending[0], self._data_api_timeout))
                for plan in pending:
                    plan.error = _unfinished(plan, self._data_api_timeout)
                    plan.status = "TIMEOUT"
                return
            if self._on_wait is not None:
                self._on_wait(_waiting(pending, self._clock.now() - started, self._data_api_timeout))
            self._clock.sleep(min(delay, max(0.0, deadline - self._clock.now())))
            delay = min(delay * 2, 5.0)

    def _finish_statement(self, plan: StatementPlan, strict: bool) -> CheckResult:
        if plan.status == "TIMEOUT":
            return no_data_result(
                plan.check, plan.window, "Redshift Data API", plan.error, note="no data (query unfinished)"
            )
        if plan.status != "FINISHED":
            message = (
                f"the Redshift Data API statement for {statement_label(plan)} on cluster '{plan.state.name}' ended "
                f"{plan.status}: {plan.error or 'no error message'}"
            )
            if strict:
                raise AwsError(message, code=f"Statement{plan.status.title()}", operation_name="ExecuteStatement")
            return no_data_result(plan.check, plan.window, "Redshift Data API", message, note="no data (query failed)")
        data = self._client("redshift-data")
        with aws_errors(f"read a statement result from Redshift cluster '{plan.state.name}'"):
            records = data.get_statement_result(Id=plan.statement_id).get("Records", [])
        row = [_long(cell) for cell in (records[0] if records else [])]
        return plan.finish(row + [0] * (2 - len(row)))


def statement_label(plan: StatementPlan) -> str:
    """What a check's statement reads, e.g. ``the slow-query share (SYS_QUERY_HISTORY)``."""
    if plan.check.kind == "redshift_slow_percentage":
        return "the slow-query share (SYS_QUERY_HISTORY)"
    if plan.check.kind == "redshift_queue_wait":
        return "the queue wait (SYS_QUERY_HISTORY)"
    if plan.check.utilization_type == "memory":
        return "the memory check's spilled queries (SYS_QUERY_DETAIL)"
    return f"the {plan.check.kind} check"


def _unfinished(plan: StatementPlan, timeout: float) -> str:
    """The sentence for a statement that did not finish in ``timeout`` seconds: which one, its Id and status."""
    return (
        f"the Redshift Data API statement for {statement_label(plan)} on cluster '{plan.state.name}' did not "
        f"finish within {format_number(timeout)} s (statement {plan.statement_id}, status {plan.status or 'unknown'}); "
        "a longer --query-timeout (data_api_timeout_seconds) waits longer"
    )


def _waiting(pending: list[StatementPlan], elapsed: float, timeout: float) -> str:
    """``waiting for 2 Redshift Data API statements on 'sales' (...): 4 s of 30 s``."""
    labels = list(dict.fromkeys(f"{statement_label(p)} {p.status or 'SUBMITTED'}" for p in pending))
    clusters = ", ".join(dict.fromkeys(f"'{p.state.name}'" for p in pending))
    count = f"{len(pending)} Redshift Data API statement{'s' if len(pending) != 1 else ''}"
    return f"waiting for {count} on {clusters} ({'; '.join(labels)}): {elapsed:.0f} s of {format_number(timeout)} s"
