"""can_boot_redshift: what the Athena catalog was billed, next to what Redshift would cost."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors
from ..limits import (
    ATHENA_MIN_BYTES_PER_QUERY,
    ATHENA_USD_PER_TB,
    REDSHIFT_NODE_TYPES,
    TB,
)

if TYPE_CHECKING:
    pass

from .checks import Check
from .metrics import MetricWindow
from .plans import ScalingContext
from .results import CheckResult, format_number, format_usd

_MB = 1000**2
"""Athena rounds the bytes it bills up to the next megabyte (decimal, like its TB)."""
_ATHENA_CHARGED_STATES = frozenset({"SUCCEEDED", "CANCELLED"})
"""Athena bills succeeded and cancelled queries for the data they scanned; failed queries are free."""
_ATHENA_BATCH = 50
"""BatchGetQueryExecution takes at most 50 query execution IDs."""


class AthenaChecks(ScalingContext):
    """The Athena check of :class:`ProvisionScaling`: can_boot_redshift."""

    # --- can_boot_redshift --------------------------------------------------------------------

    def _plan_can_boot(
        self, check: Check, window: MetricWindow, cache: dict[tuple[str, float, float], list[dict[str, Any]]]
    ) -> CheckResult:
        assert check.node_type is not None and check.node_count is not None
        key = (check.workgroup, window.start, window.end)
        if key not in cache:
            cache[key] = self._athena_executions(check.workgroup, window)
        catalog = check.cluster
        charged: list[int] = []
        free = 0
        scanned = 0
        for execution in cache[key]:
            context = execution.get("QueryExecutionContext") or {}
            if str(context.get("Catalog") or "AwsDataCatalog").lower() != catalog.lower():
                continue
            state = (execution.get("Status") or {}).get("State")
            stats = execution.get("Statistics") or {}
            if state not in _ATHENA_CHARGED_STATES or execution.get("StatementType") != "DML":
                free += 1
                continue
            data_scanned = int(stats.get("DataScannedInBytes") or 0)
            scanned += data_scanned
            charged.append(max(math.ceil(data_scanned / _MB) * _MB, ATHENA_MIN_BYTES_PER_QUERY))
        billed = sum(charged)
        athena_usd = billed / TB * ATHENA_USD_PER_TB
        node_price = self._node_prices.get(check.node_type, REDSHIFT_NODE_TYPES[check.node_type].usd_per_node_hour)
        redshift_usd = node_price * check.node_count * window.minutes / 60
        verdict = athena_usd >= redshift_usd
        reason = (
            f"Athena catalog '{catalog}' (workgroup '{check.workgroup}') was billed for "
            f"{format_number(billed)} bytes in {len(charged)} queries "
            f"in the last {format_number(window.minutes)} minutes: "
            f"{format_usd(athena_usd)} at {format_usd(ATHENA_USD_PER_TB)} per TB, "
            f"{'at least' if verdict else 'less than'} the {format_usd(redshift_usd)} that {check.node_count} x "
            f"{check.node_type} would cost for the same time ({format_usd(node_price)} per node-hour): "
            f"{'booting Redshift pays off' if verdict else 'Athena is cheaper'}."
        )
        return CheckResult(
            check="can_boot_redshift",
            cluster=catalog,
            value=athena_usd,
            threshold=redshift_usd,
            verdict=verdict,
            datapoints=len(charged),
            window_minutes=window.minutes,
            source=f"Athena GetQueryExecution Statistics.DataScannedInBytes (workgroup '{check.workgroup}')",
            reason=reason,
            unit="USD",
            comparison=">=",
            window_end=window.end,
            details={
                "bytes_scanned": scanned,
                "bytes_billed": billed,
                "queries_charged": len(charged),
                "queries_free": free,
                "athena_usd_per_tb": ATHENA_USD_PER_TB,
                "node_type": check.node_type,
                "node_count": check.node_count,
                "usd_per_node_hour": node_price,
                "price_source": "given" if check.node_type in self._node_prices else "limits table",
                "athena_usd": athena_usd,
                "redshift_usd": redshift_usd,
            },
        )

    def _athena_executions(self, workgroup: str, window: MetricWindow) -> list[dict[str, Any]]:
        """The workgroup's query executions that completed inside the window.

        ListQueryExecutions pages go from the newest submission back; listing stops after a page
        whose queries were all submitted and completed before the window.
        """
        athena = self._client("athena")
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {"WorkGroup": workgroup}
        while True:
            with aws_errors(f"list Athena query executions of workgroup '{workgroup}'"):
                page = athena.list_query_executions(**request)
            ids = list(page.get("QueryExecutionIds", []))
            all_before = bool(ids)
            for first in range(0, len(ids), _ATHENA_BATCH):
                for execution in self._athena_batch(ids[first : first + _ATHENA_BATCH]):
                    status = execution.get("Status") or {}
                    submitted = status.get("SubmissionDateTime")
                    completed = status.get("CompletionDateTime")
                    if submitted is None or submitted.timestamp() >= window.start:
                        all_before = False
                    if completed is None:
                        all_before = False
                        continue
                    if completed.timestamp() >= window.start:
                        all_before = False
                    if window.start <= completed.timestamp() < window.end:
                        found.append(execution)
            token = page.get("NextToken")
            if not token or all_before:
                return found
            request["NextToken"] = token

    def _athena_batch(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        athena = self._client("athena")
        with aws_errors("read Athena query executions"):
            response = athena.batch_get_query_execution(QueryExecutionIds=ids)
        executions: list[dict[str, Any]] = list(response.get("QueryExecutions", []))
        for unprocessed in response.get("UnprocessedQueryExecutionIds", []):
            with aws_errors("read an Athena query execution"):
                executions.append(
                    athena.get_query_execution(QueryExecutionId=unprocessed["QueryExecutionId"])["QueryExecution"]
                )
        return executions
