"""ProvisionScaling: the seed's checks, plain and explained, and the fleet form."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ClusterNotFound, InvalidRequest
from ..validation import validate_cluster_identifier

if TYPE_CHECKING:
    import boto3

from .athena import AthenaChecks
from .aurora_checks import AuroraChecks
from .checks import REDSHIFT_KINDS, Check, require_positive
from .metrics import MetricKey, Series, fetch_metric_series, metric_window
from .plans import AURORA_SERVICE, REDSHIFT_SERVICE, MetricPlan, Plan, Service, StatementPlan, StateT, plan_on
from .redshift_checks import RedshiftChecks
from .results import CheckResult


class ProvisionScaling(AthenaChecks, RedshiftChecks, AuroraChecks):
    """Scaling checks on one Athena catalog, one Redshift cluster and one Aurora cluster.

    ``athena_workgroup`` is where ``can_boot_redshift`` looks for the catalog's queries.
    ``redshift_database``/``redshift_secret_arn``/``redshift_db_user`` say how the Redshift checks
    that read query history connect through the Redshift Data API; by default the cluster's
    database, and its AWS-managed master secret when it has one (else temporary credentials for
    the master user). ``data_api_timeout_seconds`` (default 300 s) bounds the wait for those
    statements; ``on_wait``, when given, is called with a sentence naming the statements still
    running, their status and the time waited, before each pause of that wait (every 0.25-5 s).
    ``redshift_node_prices`` (node type -> USD per node-hour, or the ``PriceQuote`` values of
    :func:`dbscale.core.pricing.redshift_node_prices`) replaces the table's US East prices in
    ``can_boot_redshift``.
    """

    def __init__(
        self,
        athena_catalog_name: str | None = None,
        redshift_cluster_name: str | None = None,
        aurora_cluster_name: str | None = None,
        *,
        athena_workgroup: str = "primary",
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        redshift_database: str | None = None,
        redshift_secret_arn: str | None = None,
        redshift_db_user: str | None = None,
        data_api_timeout_seconds: float = 300.0,
        redshift_node_prices: Mapping[str, Any] | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        if redshift_cluster_name is not None:
            validate_cluster_identifier(redshift_cluster_name, field="redshift_cluster_name")
        if aurora_cluster_name is not None:
            validate_cluster_identifier(aurora_cluster_name, field="aurora_cluster_name")
        if athena_catalog_name is not None and (not isinstance(athena_catalog_name, str) or not athena_catalog_name):
            raise InvalidRequest("athena_catalog_name must be a non-empty string", field="athena_catalog_name")
        if not isinstance(athena_workgroup, str) or not athena_workgroup:
            raise InvalidRequest("athena_workgroup must be a non-empty string", field="athena_workgroup")
        self.athena_catalog_name = athena_catalog_name
        self.redshift_cluster_name = redshift_cluster_name
        self.aurora_cluster_name = aurora_cluster_name
        self.athena_workgroup = athena_workgroup
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._redshift_database = redshift_database
        self._redshift_secret_arn = redshift_secret_arn
        self._redshift_db_user = redshift_db_user
        self._data_api_timeout = require_positive(data_api_timeout_seconds, "data_api_timeout_seconds")
        self._on_wait = on_wait
        self._node_prices: dict[str, float] = {}
        for node_type, price in (redshift_node_prices or {}).items():
            value = getattr(price, "usd_per_node_hour", price)
            self._node_prices[node_type] = require_positive(value, f"redshift_node_prices[{node_type!r}]")
        self._clients: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (
            f"ProvisionScaling(athena_catalog_name={self.athena_catalog_name!r}, "
            f"redshift_cluster_name={self.redshift_cluster_name!r}, "
            f"aurora_cluster_name={self.aurora_cluster_name!r}, athena_workgroup={self.athena_workgroup!r})"
        )

    # --- the seed's checks, plain and explained ---------------------------------------------

    def can_boot_redshift(self, node_type: str, node_count: int, window_minutes: float) -> bool:
        """True when Athena's spend on the catalog over the window is at least what the given
        Redshift cluster would cost for the same window (node price x node count)."""
        return bool(self.can_boot_redshift_result(node_type, node_count, window_minutes).verdict)

    def can_boot_redshift_result(self, node_type: str, node_count: int, window_minutes: float) -> CheckResult:
        catalog = self._require(self.athena_catalog_name, "athena_catalog_name")
        check = Check.can_boot_redshift(catalog, node_type, node_count, window_minutes, workgroup=self.athena_workgroup)
        return self._evaluate([check], strict=True)[0]

    def check_redshift_utilization(
        self, check_overused: bool, utilization_type: str, utilization_threshold: float, window_minutes: float
    ) -> bool | None:
        """Whether the Redshift cluster's ``cpu``, ``memory`` or ``disk`` utilization (percent) is
        over (``check_overused=True``) or under the threshold; None when there is no data."""
        return self.check_redshift_utilization_result(
            check_overused, utilization_type, utilization_threshold, window_minutes
        ).verdict

    def check_redshift_utilization_result(
        self, check_overused: bool, utilization_type: str, utilization_threshold: float, window_minutes: float
    ) -> CheckResult:
        cluster = self._require(self.redshift_cluster_name, "redshift_cluster_name")
        check = Check.redshift_utilization(
            cluster, check_overused, utilization_type, utilization_threshold, window_minutes
        )
        return self._evaluate([check], strict=True)[0]

    def check_aurora_utilization(
        self,
        check_overused: bool,
        utilization_type: str,
        utilization_threshold: float,
        window_minutes: float,
        node_type: str | None = None,
    ) -> bool | None:
        """Whether the Aurora cluster's ``cpu``, ``memory`` or ``disk`` utilization (percent) is over
        or under the threshold; None when there is no data. Memory needs ``node_type`` (the DB
        instance class, ``db.serverless`` for Serverless v2)."""
        return self.check_aurora_utilization_result(
            check_overused, utilization_type, utilization_threshold, window_minutes, node_type
        ).verdict

    def check_aurora_utilization_result(
        self,
        check_overused: bool,
        utilization_type: str,
        utilization_threshold: float,
        window_minutes: float,
        node_type: str | None = None,
    ) -> CheckResult:
        cluster = self._require(self.aurora_cluster_name, "aurora_cluster_name")
        check = Check.aurora_utilization(
            cluster, check_overused, utilization_type, utilization_threshold, window_minutes, node_type
        )
        return self._evaluate([check], strict=True)[0]

    def get_redshift_slow_percentage(self, running_time_threshold_secs: float, window_minutes: float) -> float | None:
        """Percent of the Redshift queries that finished in the window and ran longer than the
        threshold, counted per query from SYS_QUERY_HISTORY; None when there is no data."""
        return self.get_redshift_slow_percentage_result(running_time_threshold_secs, window_minutes).value

    def get_redshift_slow_percentage_result(
        self, running_time_threshold_secs: float, window_minutes: float, *, percent_threshold: float = 0.0
    ) -> CheckResult:
        cluster = self._require(self.redshift_cluster_name, "redshift_cluster_name")
        check = Check.redshift_slow_percentage(
            cluster, running_time_threshold_secs, window_minutes, percent_threshold=percent_threshold
        )
        return self._evaluate([check], strict=True)[0]

    def is_aurora_slow(self, latency_threshold_ms: float, window_minutes: float) -> bool | None:
        """Whether the Aurora cluster's statement latency, averaged over its writer and readers and
        weighted by each statement type's throughput, exceeds the threshold; None when there is no data."""
        return self.is_aurora_slow_result(latency_threshold_ms, window_minutes).verdict

    def is_aurora_slow_result(self, latency_threshold_ms: float, window_minutes: float) -> CheckResult:
        cluster = self._require(self.aurora_cluster_name, "aurora_cluster_name")
        return self._evaluate([Check.aurora_slow(cluster, latency_threshold_ms, window_minutes)], strict=True)[0]

    def get_aurora_slow_percentage(self, running_time_threshold_secs: float, window_minutes: float) -> float | None:
        """Percent of the Aurora statements that finished in the window and ran longer than the
        threshold, counted per statement from the slow query log exported to CloudWatch Logs (see
        :func:`aurora_slow_query_setup`); None when there is no data."""
        return self.get_aurora_slow_percentage_result(running_time_threshold_secs, window_minutes).value

    def get_aurora_slow_percentage_result(
        self, running_time_threshold_secs: float, window_minutes: float, *, percent_threshold: float = 0.0
    ) -> CheckResult:
        cluster = self._require(self.aurora_cluster_name, "aurora_cluster_name")
        check = Check.aurora_slow_percentage(
            cluster, running_time_threshold_secs, window_minutes, percent_threshold=percent_threshold
        )
        return self._evaluate([check], strict=True)[0]

    # --- the fleet form -----------------------------------------------------------------------

    def evaluate(self, checks: Iterable[Check]) -> list[CheckResult]:
        """Run many checks on many clusters; results come back in the order of ``checks``.

        Clusters are described once per service, all CloudWatch metrics are fetched together in
        ``GetMetricData`` calls of up to 500 metrics, and Redshift Data API statements are
        submitted together before any is waited on. A cluster that does not exist gives a result
        with ``verdict=None`` and the note ``"no data (cluster not found)"``.
        """
        return self._evaluate(list(checks), strict=False)

    def _evaluate(self, checks: list[Check], *, strict: bool) -> list[CheckResult]:
        now = self._clock.now()
        redshift = self._describe(REDSHIFT_SERVICE, checks, strict)
        aurora = self._describe(AURORA_SERVICE, checks, strict)
        athena_cache: dict[tuple[str, float, float], list[dict[str, Any]]] = {}
        plans: list[Plan] = []
        for check in checks:
            window = metric_window(now, check.window_minutes)
            if check.kind == "can_boot_redshift":
                plans.append(self._plan_can_boot(check, window, athena_cache))
            elif check.kind in REDSHIFT_KINDS:
                plans.append(plan_on(REDSHIFT_SERVICE, redshift, check, window, self._plan_redshift))
            else:
                plans.append(plan_on(AURORA_SERVICE, aurora, check, window, self._plan_aurora))
        series = self._fetch_metrics([key for plan in plans if isinstance(plan, MetricPlan) for key in plan.keys])
        self._run_statements([plan for plan in plans if isinstance(plan, StatementPlan)], strict)
        results: list[CheckResult] = []
        for plan in plans:
            if isinstance(plan, CheckResult):
                results.append(plan)
            elif isinstance(plan, MetricPlan):
                results.append(plan.finish(series))
            else:
                results.append(self._finish_statement(plan, strict))
        return results

    # --- describing clusters ------------------------------------------------------------------

    def _describe(self, service: Service[StateT], checks: list[Check], strict: bool) -> dict[str, StateT]:
        """The clusters of ``service`` that ``checks`` look at, by name."""
        names = {c.cluster for c in checks if c.kind in service.kinds}
        if not names:
            return {}
        api = self._client(service.client)
        found: dict[str, StateT] = {}
        if len(names) <= 3:
            for name in sorted(names):
                try:
                    with aws_errors(f"describe {service.name} cluster '{name}'"):
                        clusters = getattr(api, service.describe)(**{service.id_key: name})[service.list_key]
                except ClusterNotFound:
                    clusters = []
                for c in clusters:
                    found[str(c[service.id_key])] = service.state(c)
        else:
            with aws_errors(f"describe {service.name} clusters"):
                for page in api.get_paginator(service.describe).paginate():
                    for c in page[service.list_key]:
                        if c[service.id_key] in names:
                            found[str(c[service.id_key])] = service.state(c)
        if strict and (missing := names - set(found)):
            raise ClusterNotFound(f"{service.name} cluster '{sorted(missing)[0]}' does not exist")
        return found

    # --- CloudWatch ---------------------------------------------------------------------------

    def _fetch_metrics(self, keys: Iterable[MetricKey]) -> dict[MetricKey, Series]:
        wanted = list(keys)
        return fetch_metric_series(self._client("cloudwatch"), wanted) if wanted else {}
