"""The Autoscaler: observe, plan the checks, decide, act, remember, report."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import AwsError, DbscaleError, InvalidRequest, InvalidState
from ..limits import (
    AURORA_INSTANCE_CLASSES,
    AURORA_SERVERLESS_INSTANCE_CLASS,
    REDSHIFT_NODE_TYPES,
)
from ..scaling import Check, CheckResult, ProvisionScaling
from ..validation import validate_flag

if TYPE_CHECKING:
    import boto3
from .aurora_rules import _AuroraRules
from .decisions import DECISION_NAMESPACE, ClusterRef, Decision
from .forecasts import CAPACITY_METRIC, Forecast, history_window, learn, load_history
from .guide import FORECAST_HEADROOM_POINTS, Guide, guide_for, trust_forecast
from .memory import LOG, Memory, SsmStateStore, StateStore
from .observe import _Observed, _Observing
from .policy import AutoscalePolicy
from .redshift_rules import _RedshiftRules
from .rules import _minutes
from .safety import BACKLOG_WAIT_SECONDS, MISS_MEMORY_HOURS, Evidence, arbitrate, measured_load

DECISION_METRIC = "Decision"
DRY_RUN_DECISION_METRIC = "DryRunDecision"
CHECKS_NAMESPACE = "dbscale/Checks"
"""Where the autoscaler publishes check figures CloudWatch has no metric for (dimension ``ClusterIdentifier``)."""
SLOW_QUERY_METRIC = "RedshiftSlowQueryPercent"
SPILL_METRIC = "RedshiftSpillPercent"


# --- the autoscaler -------------------------------------------------------------------------------


class Autoscaler(_Observing, _RedshiftRules, _AuroraRules):
    """Evaluates clusters against an :class:`AutoscalePolicy` and starts the changes it decides.

    ``session``/``clock`` as everywhere in the core. ``state_store`` keeps each cluster's memory
    (default :class:`SsmStateStore`). With ``dry_run`` nothing is changed: decisions are logged and
    published (as ``DryRunDecision``) and remembered under a separate ``dry-run/`` key, as if
    carried out, so cooldown and hysteresis behave as they would. ``log`` receives each decision's
    JSON line (default: the ``dbscale.autoscaler`` logger at INFO). ``data_api_timeout_seconds``
    bounds the Redshift query-history checks.
    """

    def __init__(
        self,
        policy: AutoscalePolicy,
        *,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
        state_store: StateStore | None = None,
        dry_run: bool = False,
        log: Callable[[str], None] | None = None,
        data_api_timeout_seconds: float = 90.0,
    ) -> None:
        if not isinstance(policy, AutoscalePolicy):
            raise InvalidRequest("policy must be an AutoscalePolicy", field="policy")
        self.policy = policy
        self.dry_run = bool(validate_flag(dry_run, field="dry_run"))
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._store: StateStore = state_store if state_store is not None else SsmStateStore(session=session)
        self._log = log or (lambda line: LOG.info("%s", line))
        self._scaling = ProvisionScaling(
            session=session, clock=self._clock, data_api_timeout_seconds=data_api_timeout_seconds
        )
        self._saved: dict[str, dict[str, Any]] = {}

    # --- public ----------------------------------------------------------------------------

    def evaluate(self, cluster: ClusterRef, *, trigger: str = "manual") -> Decision:
        """The decision for one cluster; changes nothing (see :meth:`act`)."""
        return self.evaluate_many([cluster], trigger=trigger)[0]

    def evaluate_many(self, clusters: Iterable[ClusterRef], *, trigger: str = "schedule") -> list[Decision]:
        """Decisions for many clusters: every check of every cluster in one ``ProvisionScaling.evaluate``."""
        refs = list(clusters)
        for ref in refs:
            if not isinstance(ref, ClusterRef):
                raise InvalidRequest(f"clusters must be ClusterRef, got {ref!r}", field="clusters")
        now = self._clock.now()
        observed = [self._observe(ref) for ref in refs]
        memories = [self._load(ref) for ref in refs]
        plans = [self._plan(obs, mem) for obs, mem in zip(observed, memories, strict=True)]
        flat = [check for plan in plans for _, check in plan]
        results = self._scaling.evaluate(flat) if flat else []
        decisions = []
        offset = 0
        for obs, mem, plan in zip(observed, memories, plans, strict=True):
            labelled = {signal: results[offset + i] for i, (signal, _) in enumerate(plan)}
            offset += len(plan)
            guide, mem = self._guide(obs, mem, labelled, now)
            decisions.append(self._decide(obs, mem, labelled, now, trigger, guide))
        return decisions

    def act(self, decision: Decision, *, publish: bool = True) -> Decision:
        """Carry out ``decision``: start its change (never waiting), remember it, log and publish it.

        Returns the decision with ``outcome`` (and possibly ``action``: a cluster found busy when
        the change is started becomes ``skip_busy``) filled in. Errors are reported in the outcome,
        not raised, so one cluster cannot stop the others.
        """
        ref = ClusterRef(decision.service, decision.cluster)
        memory = Memory.from_dict(decision.memory)
        outcome = decision.outcome
        action = decision.action
        reason = decision.reason
        if self.dry_run:
            outcome = "dry run: not applied" if decision.changes else outcome or "dry run"
        elif action == "skip_busy" and memory.operation is not None:
            memory, outcome = self._continue(ref, memory)
        elif decision.changes:
            try:
                memory, outcome = self._start(ref, decision, memory)
            except InvalidState as err:
                action, reason = "skip_busy", f"{reason}; not started: {err}"
                outcome = "skipped: the cluster became busy"
            except DbscaleError as err:
                outcome = f"failed: {err}"
        final = replace(decision, action=action, reason=reason, outcome=outcome, memory=memory.to_dict())
        self._save(ref, memory)
        self._log(self._log_line(final))
        if publish:
            self._publish(self._metric_data([final]))
        return final

    def run(self, clusters: Iterable[ClusterRef], *, trigger: str = "schedule") -> list[Decision]:
        """Evaluate and act on every cluster; the metrics of the whole run go out in one call."""
        decisions = [self.act(d, publish=False) for d in self.evaluate_many(clusters, trigger=trigger)]
        self._publish(self._metric_data(decisions))
        return decisions

    # --- memory -----------------------------------------------------------------------------

    def _key(self, ref: ClusterRef) -> str:
        return f"dry-run/{ref.key}" if self.dry_run else ref.key

    def _load(self, ref: ClusterRef) -> Memory:
        key = self._key(ref)
        data = self._store.load(key)
        self._saved[key] = data or {}
        return Memory.from_dict(data)

    def _save(self, ref: ClusterRef, memory: Memory) -> None:
        key = self._key(ref)
        data = memory.to_dict()
        if self._saved.get(key) == data or (key not in self._saved and data == Memory().to_dict()):
            return
        self._store.save(key, data)
        self._saved[key] = data

    # --- planning the checks -------------------------------------------------------------------

    def _plan(self, obs: _Observed, memory: Memory) -> list[tuple[str, Check]]:
        if not obs.found or obs.busy is not None or memory.operation is not None:
            return []
        p, t, w = self.policy, self.policy.thresholds, self.policy.window_minutes
        name = obs.ref.name
        if obs.ref.service == "redshift":
            plan: list[tuple[str, Check]] = [
                ("cpu_high", Check.redshift_utilization(name, True, "cpu", t.cpu_high, w)),
                ("cpu_low", Check.redshift_utilization(name, False, "cpu", t.cpu_low, w)),
                ("idle", Check.redshift_utilization(name, False, "cpu", self._idle_percent(obs), w)),
                ("disk_high", Check.redshift_utilization(name, True, "disk", t.disk_high, w)),
                ("disk_low", Check.redshift_utilization(name, False, "disk", t.disk_low, w)),
            ]
            if p.redshift_query_checks and not obs.paused:
                plan += [
                    ("memory_high", Check.redshift_utilization(name, True, "memory", t.spill_high, w)),
                    ("memory_low", Check.redshift_utilization(name, False, "memory", t.spill_low, w)),
                    (
                        "slow_queries_high",
                        Check.redshift_slow_percentage(
                            name, t.slow_query_seconds, w, percent_threshold=t.slow_query_percent_high
                        ),
                    ),
                    ("backlog", Check.redshift_queue_wait(name, BACKLOG_WAIT_SECONDS, w)),
                ]
            if (
                obs.status == "paused"
                and p.resume_catalog
                and memory.paused_by_autoscaler
                and not obs.ref.declared_paused
                and obs.node_type is not None
                and obs.node_type in REDSHIFT_NODE_TYPES
                and obs.nodes is not None
            ):
                plan.append(
                    (
                        "can_boot_redshift",
                        Check.can_boot_redshift(
                            p.resume_catalog,
                            obs.node_type,
                            obs.nodes,
                            p.resume_window_minutes,
                            workgroup=p.resume_workgroup,
                        ),
                    )
                )
            return plan
        plan = [
            ("cpu_high", Check.aurora_utilization(name, True, "cpu", t.cpu_high, w)),
            ("cpu_low", Check.aurora_utilization(name, False, "cpu", t.cpu_low, w)),
            ("latency_high", Check.aurora_slow(name, t.latency_high_ms, w)),
        ]
        if p.aurora_stop_when_idle:
            plan.append(("idle", Check.aurora_utilization(name, False, "cpu", p.idle_cpu_percent, w)))
        if obs.instance_class is not None and (
            obs.instance_class in AURORA_INSTANCE_CLASSES
            or (obs.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS and obs.acu is not None)
        ):
            plan += [
                ("memory_high", Check.aurora_utilization(name, True, "memory", t.memory_high, w, obs.instance_class)),
                ("memory_low", Check.aurora_utilization(name, False, "memory", t.memory_low, w, obs.instance_class)),
            ]
        return plan

    def _idle_percent(self, obs: _Observed) -> float:
        """CPU percent under which a Redshift cluster counts as idle: the load would use less than
        ``idle_cpu_percent`` of the policy's smallest size (so a large cluster in a busy day's tail is not
        "idle"), and at least half of ``idle_cpu_percent`` of its own (housekeeping runs on every node)."""
        p = self.policy
        if obs.nodes is None or obs.node_type is None or obs.node_type not in REDSHIFT_NODE_TYPES:
            return p.idle_cpu_percent
        try:
            smallest = p.redshift_bounds(obs.node_type)[0]
        except InvalidRequest:
            return p.idle_cpu_percent
        return max(p.idle_cpu_percent * min(smallest, obs.nodes) / obs.nodes, p.idle_cpu_percent / 2)

    # --- deciding -------------------------------------------------------------------------------

    def _guide(
        self, obs: _Observed, memory: Memory, results: Mapping[str, CheckResult], now: float
    ) -> tuple[Guide, Memory]:
        """The schedule now and ahead, and the forecast (when the policy asks for one and it can be had)."""
        p = self.policy
        forecast, note = None, ""
        if p.forecasts and obs.found and obs.busy is None and memory.operation is None:
            forecast, note = self._forecast(obs, now)
        guide = guide_for(p, now, forecast, note)
        capacity = _capacity(obs)
        observed = self._measured_load(obs, results)
        tolerance = p.idle_cpu_percent * (capacity or 1)
        return trust_forecast(guide, memory, observed, now, p.window_minutes, tolerance)

    def _forecast(self, obs: _Observed, now: float) -> tuple[Forecast | None, str]:
        capacity = _capacity(obs)
        if capacity is None:
            return None, "forecasts cover Redshift clusters and Aurora Serverless v2 clusters only"
        p = self.policy
        try:
            peaks, troughs = load_history(
                client("cloudwatch", self._session),
                service=obs.ref.service,
                cluster=obs.ref.name,
                window=history_window(now, p.forecast_history_days),
                current_capacity=capacity,
            )
        except AwsError as err:
            return None, f"no forecast: could not read the CloudWatch history ({err})"
        return learn(peaks, troughs, now=now, tz=p.forecast_tz), ""

    def _decide(
        self,
        obs: _Observed,
        memory: Memory,
        results: Mapping[str, CheckResult],
        now: float,
        trigger: str,
        guide: Guide | None = None,
    ) -> Decision:
        guide = guide if guide is not None else guide_for(self.policy, now)
        checks = tuple({"signal": signal, **result.to_dict()} for signal, result in results.items())
        base = Decision(
            cluster=obs.ref.name,
            service=obs.ref.service,
            action="none",
            reason="",
            current=obs.current(),
            checks=checks,
            dry_run=self.dry_run,
            at=now,
            trigger=trigger,
        )

        def decide(action: str, reason: str, mem: Memory, **changes: Any) -> Decision:
            figures = {**guide.figures(), **changes.pop("figures", {})}
            return replace(base, action=action, reason=reason, memory=mem.to_dict(), figures=figures, **changes)

        if not obs.found:
            return decide("none", f"the {obs.ref.service} cluster does not exist", Memory())
        if memory.operation is not None:
            op = memory.operation
            return decide(
                "skip_busy",
                f"the autoscaler's own operation is in progress ({op.get('description', 'operation')}, "
                f"last state: {op.get('last_detail') or 'started'}); it is advanced, not restarted",
                memory,
            )
        if obs.busy is not None:
            return decide("skip_busy", f"{obs.busy}: never act on a cluster mid-operation", memory)
        rules = self._decide_redshift if obs.ref.service == "redshift" else self._decide_aurora
        if guide.usable_forecast() is None:
            decision = rules(obs, memory, results, now, decide, guide)
        else:
            # Forecasts only add safety: decide as if there were none, then with it, and keep the safe one.
            reactive = rules(obs, memory, results, now, decide, guide.without_forecast())
            ahead = rules(obs, memory, results, now, decide, guide)
            decision = arbitrate(reactive, ahead, self._evidence(obs, results, memory, now), memory.to_dict())
        if memory.forecast_distrusted_since is not None and decision.action in ("scale_down", "pause"):
            # The load runs above what the forecast said: capacity is held until it predicts well again.
            decision = decide(
                "none",
                f"{decision.reason}; held: {guide.forecast_note}, so the cluster is not "
                f"{'paused' if decision.action == 'pause' else 'scaled down'} meanwhile",
                memory,
                causes=("forecast",),
            )
        if decision.changes:
            decision = replace(decision, memory={**decision.memory, "last_action_rule": decision.rule})
        if obs.ref.service == "redshift":  # the next evaluation tells a rising load from a steady one
            load = self._measured_load(obs, results)
            decision = replace(decision, memory={**decision.memory, "last_load": _rounded(load)})
        return decision

    def _measured_load(self, obs: _Observed, results: Mapping[str, CheckResult]) -> float | None:
        """The last window's load plus backlog in capacity units x percent (None while paused or without data)."""
        return None if obs.paused else measured_load(results, _capacity(obs), self.policy.window_minutes)

    def _evidence(self, obs: _Observed, results: Mapping[str, CheckResult], memory: Memory, now: float) -> Evidence:
        """What the measured load says now (see :class:`~dbscale.core.autoscale.safety.Evidence`)."""
        p = self.policy
        miss = memory.forecast_miss or {}
        missed = ""
        at = miss.get("at")
        if isinstance(at, (int, float)) and now - at < MISS_MEMORY_HOURS * 3600:
            missed = (
                f"the forecast under-predicted the load at {datetime.fromtimestamp(at, tz=timezone.utc):%a %H:%M} "
                f"UTC, less than {MISS_MEMORY_HOURS} h ago: it may add capacity, not take it away"
            )
        idle_result = results.get("idle")
        under = results.get("cpu_low")
        idle = idle_result.verdict if idle_result is not None else None
        if idle is None and under is not None and under.value is not None:
            idle = under.value < p.idle_cpu_percent
        load = self._measured_load(obs, results)
        return Evidence(load, idle, p.thresholds.cpu_high - FORECAST_HEADROOM_POINTS, missed)

    # --- acting -------------------------------------------------------------------------------------

    def _start(self, ref: ClusterRef, decision: Decision, memory: Memory) -> tuple[Memory, str]:
        target = decision.target
        if ref.service == "redshift":
            from ..redshift import RedshiftProvisioning

            redshift = RedshiftProvisioning(ref.name, session=self._session, clock=self._clock)
            op = redshift.rescale(
                new_cluster_size=target.get("nodes"),
                new_paused=target.get("paused"),
                resize_type="elastic",  # the rules stay within one elastic resize; a classic one takes hours
                wait=False,
            )
        else:
            from ..aurora import RdsProvisioning

            aurora = RdsProvisioning(ref.name, session=self._session, clock=self._clock)
            acu = target.get("acu")
            op = aurora.rescale(
                new_paused=target.get("paused"),
                new_instance_type=target.get("instance_class"),
                new_reader_count=target.get("readers"),
                new_serverless_v2_capacity=(float(acu[0]), float(acu[1])) if acu else None,
                new_seconds_until_auto_pause=target.get("auto_pause_seconds"),
                wait=False,
            )
        result = op.poll()
        if result.failed:
            return replace(memory, operation=None), f"failed: {result.reason}"
        if result.done:
            return replace(memory, operation=None), f"done: {op.description}"
        return replace(memory, operation=op.to_dict()), f"started: {op.description} ({result.reason})"

    def _continue(self, ref: ClusterRef, memory: Memory) -> tuple[Memory, str]:
        from ..operation import Operation

        assert memory.operation is not None
        try:
            op = Operation.from_dict(dict(memory.operation), session=self._session, clock=self._clock)
        except (ValueError, KeyError) as err:
            return replace(memory, operation=None), f"dropped an unreadable stored operation: {err}"
        if op.elapsed_seconds() > self.policy.operation_timeout_minutes * 60:
            return (
                replace(memory, operation=None),
                f"gave up on '{op.description}' after {_minutes(op.elapsed_seconds())} "
                f"(operation_timeout_minutes {self.policy.operation_timeout_minutes:g}); last state: {op.last_detail}",
            )
        try:
            result = op.poll()
        except (DbscaleError, KeyError) as err:  # a step that cannot run again: drop it, do not loop on it
            return replace(memory, operation=None), f"failed: '{op.description}' cannot continue: {err!r}"
        if result.done:
            return replace(memory, operation=None), f"done: {op.description}"
        if result.failed:
            return replace(memory, operation=None), f"failed: {result.reason}"
        return replace(memory, operation=op.to_dict()), f"in progress: {result.reason}"

    # --- reporting -----------------------------------------------------------------------------------

    @staticmethod
    def _log_line(decision: Decision) -> str:
        return json.dumps({"message": "dbscale autoscaler decision", **decision.to_dict()}, default=str)

    def _metric_data(self, decisions: Sequence[Decision]) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = []
        for d in decisions:
            stamp = datetime.fromtimestamp(d.at or self._clock.now(), tz=timezone.utc)
            data.append(
                {
                    "MetricName": DRY_RUN_DECISION_METRIC if d.dry_run else DECISION_METRIC,
                    "Dimensions": [{"Name": "Cluster", "Value": d.cluster}, {"Name": "Action", "Value": d.action}],
                    "Timestamp": stamp,
                    "Value": 1.0,
                    "Unit": "Count",
                    "_namespace": DECISION_NAMESPACE,
                }
            )
            capacity = d.current.get("nodes") if d.service == "redshift" else (d.current.get("acu") or [None, None])[1]
            if self.policy.forecasts and capacity is not None and not d.current.get("paused"):
                data.append(
                    {
                        "MetricName": CAPACITY_METRIC,
                        "Dimensions": [{"Name": "Cluster", "Value": d.cluster}],
                        "Timestamp": stamp,
                        "Value": float(capacity),
                        "Unit": "Count",
                        "_namespace": DECISION_NAMESPACE,
                    }
                )
            for check in d.checks:
                metric = None
                if check.get("check") == "redshift_slow_percentage":
                    metric = SLOW_QUERY_METRIC
                elif check.get("check") == "redshift_utilization" and check.get("signal") == "memory_high":
                    metric = SPILL_METRIC
                if metric is not None and check.get("value") is not None:
                    data.append(
                        {
                            "MetricName": metric,
                            "Dimensions": [{"Name": "ClusterIdentifier", "Value": d.cluster}],
                            "Timestamp": stamp,
                            "Value": float(check["value"]),
                            "Unit": "Percent",
                            "_namespace": CHECKS_NAMESPACE,
                        }
                    )
        return data

    def _publish(self, data: list[dict[str, Any]]) -> None:
        if not data:
            return
        cloudwatch = client("cloudwatch", self._session)
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for datum in data:
            entry = dict(datum)
            by_namespace.setdefault(entry.pop("_namespace"), []).append(entry)
        for namespace, entries in by_namespace.items():
            for first in range(0, len(entries), 1000):  # PutMetricData takes at most 1,000 datapoints
                try:
                    with aws_errors(f"publish {namespace} metrics"):
                        cloudwatch.put_metric_data(Namespace=namespace, MetricData=entries[first : first + 1000])
                except AwsError as err:  # a metric lost must not lose the decision
                    LOG.warning("could not publish %s metrics: %s", namespace, err)


def _rounded(value: float | None) -> float | None:
    """Two significant figures: enough to tell a rise of 10%, and the memory is not rewritten for noise."""
    return None if value is None else float(f"{value:.2g}")


def _capacity(obs: _Observed) -> float | None:
    """What a forecast's load is measured against: Redshift nodes, or a Serverless v2 cluster's maximum ACUs."""
    if obs.ref.service == "redshift":
        return float(obs.nodes) if obs.nodes is not None else None
    if obs.all_serverless and obs.acu is not None:
        return obs.acu[1]
    return None
