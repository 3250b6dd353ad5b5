"""Autoscaling Redshift and Aurora clusters from the scaling checks: policy, decisions, memory.

:class:`Autoscaler` turns :class:`~dbscale.core.scaling.CheckResult` s into one :class:`Decision`
per cluster (``evaluate``) and carries it out (``act``) by starting the core's ``rescale`` with
``wait=False``: the change runs on in AWS, the next evaluation finds the cluster busy and skips it
(or advances the stored :class:`~dbscale.core.operation.Operation` one poll). Nothing here waits.

What the autoscaler remembers between invocations (last action for the cooldown, since when a
cluster has been underused or idle, whether it paused the cluster, the operation in flight) is a
small JSON document per cluster in a :class:`StateStore`: by default one SSM parameter
``/dbscale/autoscaler/<service>/<cluster>`` (see ``docs/autoscaling.md`` for why not tags).

Every decision is logged as one JSON line and published as the CloudWatch metric
``dbscale/Autoscaler Decision`` (dimensions ``Cluster`` and ``Action``); the Redshift figures
CloudWatch does not have (slow-query share, spill share) are published to ``dbscale/Checks`` so
alarms can watch them.

One module per concept: ``policy`` (bounds, thresholds, timing), ``decisions`` (clusters and
decisions), ``memory`` (what is remembered, and where), ``config`` (what the construct hands the
handler), ``observe`` (what the autoscaler sees), ``plan`` (which checks it asks for), ``rules`` (a rule
table and what every table shares), ``redshift_rules``/``redshift_case`` and ``aurora_rules``/``aurora_moves``
(how it decides: ``REDSHIFT_RULES`` and ``AURORA_RULES``, read top to bottom), ``schedules`` (:class:`Period`),
``forecasts`` (:class:`Forecast`), ``guide`` (what schedule and forecast say at one evaluation), ``changes``
(starting and advancing a change), ``report`` (log lines and metrics), ``runner`` (:class:`Autoscaler`),
``simulate`` and ``strategies`` (a queueing model of a cluster, and the baselines to compare with),
``tagged`` and ``tagged_run`` (autoscaling every cluster tagged ``dbscale:autoscale=<policy>``:
:func:`run_tagged`).
"""

from __future__ import annotations

from ..aurora.settings import supports_auto_pause
from .config import CONFIG_ENV, AutoscalerConfig
from .decisions import ACTIONS, DECISION_NAMESPACE, SERVICES, ClusterRef, Decision
from .forecasts import Forecast
from .memory import STATE_PARAMETER_PREFIX, Memory, MemoryStateStore, SsmStateStore, StateStore
from .policy import AutoscalePolicy, Thresholds
from .report import CHECKS_NAMESPACE, DECISION_METRIC, DRY_RUN_DECISION_METRIC, SLOW_QUERY_METRIC, SPILL_METRIC
from .rules import AURORA_AUTO_START_SECONDS
from .runner import Autoscaler
from .schedules import Period
from .tagged import (
    DRY_RUN_ENV,
    POLICIES_PARAMETER_ENV,
    SKIP_METRIC,
    SKIP_REASONS,
    TAG_KEY,
    TAG_KEY_ENV,
    TAGGED_STATE_PREFIX,
    TaggedCluster,
    discover,
    load_policies,
    parse_policies,
    policies_document,
)
from .tagged_run import TaggedRun, run_tagged

__all__ = [
    "ACTIONS",
    "AURORA_AUTO_START_SECONDS",
    "CHECKS_NAMESPACE",
    "CONFIG_ENV",
    "DECISION_METRIC",
    "DECISION_NAMESPACE",
    "DRY_RUN_DECISION_METRIC",
    "DRY_RUN_ENV",
    "POLICIES_PARAMETER_ENV",
    "SERVICES",
    "SKIP_METRIC",
    "SKIP_REASONS",
    "SLOW_QUERY_METRIC",
    "SPILL_METRIC",
    "STATE_PARAMETER_PREFIX",
    "TAGGED_STATE_PREFIX",
    "TAG_KEY",
    "TAG_KEY_ENV",
    "AutoscalePolicy",
    "Autoscaler",
    "AutoscalerConfig",
    "ClusterRef",
    "Decision",
    "Forecast",
    "Memory",
    "MemoryStateStore",
    "Period",
    "SsmStateStore",
    "StateStore",
    "TaggedCluster",
    "TaggedRun",
    "Thresholds",
    "discover",
    "load_policies",
    "parse_policies",
    "policies_document",
    "run_tagged",
    "supports_auto_pause",
]
