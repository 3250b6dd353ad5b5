"""The autoscaler Lambda: ``dbscale.handlers.autoscaler.handler``.

Invoked by EventBridge: a schedule (every ``evaluation_interval_minutes``) and the state changes of
the ``ScalingAlarms`` alarms into ALARM. Its configuration (policy, clusters, dry run) is the JSON
:class:`~dbscale.core.autoscale.AutoscalerConfig` in the environment variable ``DBSCALE_AUTOSCALER``,
set by the ``Autoscaler`` construct. Imports the core only (no crhelper, no CDK), so a cold start
costs about what importing boto3 costs.

An alarm event evaluates the clusters named in the alarm's metric dimensions (every configured
cluster when it names none of them); any other event evaluates every configured cluster. Each
decision is written to stdout as one JSON line (CloudWatch Logs keeps it as one event) and
published as the ``dbscale/Autoscaler`` metric; the return value summarizes the run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from dbscale.core.autoscale import CONFIG_ENV, Autoscaler, AutoscalerConfig, ClusterRef
from dbscale.core.errors import InvalidRequest

_CLUSTER_DIMENSIONS = ("ClusterIdentifier", "DBClusterIdentifier", "DBInstanceIdentifier", "Cluster")


def load_config(environ: Mapping[str, str] | None = None) -> AutoscalerConfig:
    """The configuration from ``DBSCALE_AUTOSCALER``; :class:`InvalidRequest` when missing or invalid."""
    text = (environ if environ is not None else os.environ).get(CONFIG_ENV)
    if not text:
        raise InvalidRequest(f"the environment variable {CONFIG_ENV} is not set", field=CONFIG_ENV)
    config = AutoscalerConfig.from_json(text)
    if not config.clusters:
        raise InvalidRequest(f"{CONFIG_ENV} names no clusters", field=f"{CONFIG_ENV}.clusters")
    return config


def _dimension_values(detail: Mapping[str, Any]) -> set[str]:
    """Every cluster-like dimension value in an alarm's configuration (metric and metric-math alarms)."""
    found: set[str] = set()
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        dims = (((metric or {}).get("metricStat") or {}).get("metric") or {}).get("dimensions") or {}
        if isinstance(dims, Mapping):
            found.update(str(v) for k, v in dims.items() if k in _CLUSTER_DIMENSIONS)
    return found


def route(event: Mapping[str, Any], clusters: Iterable[ClusterRef]) -> tuple[str, list[ClusterRef]]:
    """The trigger (for the decision log) and the clusters an event asks to evaluate."""
    configured = list(clusters)
    if not isinstance(event, Mapping):
        return "manual", configured
    source = event.get("source")
    raw_detail = event.get("detail")
    detail: Mapping[str, Any] = raw_detail if isinstance(raw_detail, Mapping) else {}
    if source == "aws.cloudwatch":
        name = str(detail.get("alarmName", "?"))
        state = str((detail.get("state") or {}).get("value", "?"))
        values = _dimension_values(detail)
        # Aurora instance metrics carry the instance id ('<cluster>-<n>'): match its cluster.
        named = [
            c
            for c in configured
            if c.name in values or any(v.startswith(f"{c.name}-") and v[len(c.name) + 1 :].isdigit() for v in values)
        ]
        return f"alarm {name} {state}", named or configured
    if source == "aws.events":
        return "schedule", configured
    return "manual", configured


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: evaluate, act, log and publish; return a summary of the decisions."""
    config = load_config()
    trigger, clusters = route(event, config.clusters)
    from dbscale.core.autoscale import SsmStateStore

    autoscaler = Autoscaler(
        config.policy,
        dry_run=config.dry_run,
        state_store=SsmStateStore(config.state_prefix),
        log=_stdout,
    )
    decisions = autoscaler.run(clusters, trigger=trigger)
    return {
        "trigger": trigger,
        "dry_run": config.dry_run,
        "decisions": [
            {"cluster": d.cluster, "service": d.service, "action": d.action, "change": d.change, "outcome": d.outcome}
            for d in decisions
        ],
    }
