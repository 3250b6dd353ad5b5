"""The Autoscaler: observe, plan the checks, decide, act, remember, report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..aws import client
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import AwsError, DbscaleError, InvalidRequest, InvalidState
from ..scaling import CheckResult, ProvisionScaling
from ..validation import validate_flag

if TYPE_CHECKING:
    import boto3
from .aurora_rules import decide_aurora
from .changes import continue_change, start_change
from .decisions import ClusterRef, Decision
from .forecasts import Forecast, history_window, learn, load_history
from .guide import FORECAST_HEADROOM_POINTS, Guide, guide_for, trust_forecast
from .memory import LOG, Memory, SsmStateStore, StateStore
from .observe import Observed, observe
from .plan import plan_checks
from .policy import AutoscalePolicy
from .redshift_rules import decide_redshift
from .report import (
    log_line,
    metric_data,
    publish,
)
from .safety import MISS_MEMORY_HOURS, Evidence, arbitrate, measured_load

# --- the autoscaler -------------------------------------------------------------------------------


class Autoscaler:
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
        observed = [observe(ref, self._session) for ref in refs]
        memories = [self._load(ref) for ref in refs]
        plans = [plan_checks(self.policy, obs, mem) for obs, mem in zip(observed, memories, strict=True)]
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
            timeout = self.policy.operation_timeout_minutes
            memory, outcome = continue_change(memory, session=self._session, clock=self._clock, timeout_minutes=timeout)
        elif decision.changes:
            try:
                memory, outcome = start_change(ref, decision, memory, session=self._session, clock=self._clock)
            except InvalidState as err:
                action, reason = "skip_busy", f"{reason}; not started: {err}"
                outcome = "skipped: the cluster became busy"
            except DbscaleError as err:
                outcome = f"failed: {err}"
        final = replace(decision, action=action, reason=reason, outcome=outcome, memory=memory.to_dict())
        self._save(ref, memory)
        self._log(log_line(final))
        if publish:
            self._publish([final])
        return final

    def run(self, clusters: Iterable[ClusterRef], *, trigger: str = "schedule") -> list[Decision]:
        """Evaluate and act on every cluster; the metrics of the whole run go out in one call."""
        decisions = [self.act(d, publish=False) for d in self.evaluate_many(clusters, trigger=trigger)]
        self._publish(decisions)
        return decisions

    def _publish(self, decisions: Sequence[Decision]) -> None:
        publish(metric_data(decisions, forecasts=self.policy.forecasts, now=self._clock.now()), self._session)

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

    # --- deciding -------------------------------------------------------------------------------

    def _guide(
        self, obs: Observed, memory: Memory, results: Mapping[str, CheckResult], now: float
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

    def _forecast(self, obs: Observed, now: float) -> tuple[Forecast | None, str]:
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
        obs: Observed,
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
        rules = decide_redshift if obs.ref.service == "redshift" else decide_aurora
        if guide.usable_forecast() is None:
            decision = rules(self.policy, obs, memory, results, now, decide, guide)
        else:
            # Forecasts only add safety: decide as if there were none, then with it, and keep the safe one.
            reactive = rules(self.policy, obs, memory, results, now, decide, guide.without_forecast())
            ahead = rules(self.policy, obs, memory, results, now, decide, guide)
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

    def _measured_load(self, obs: Observed, results: Mapping[str, CheckResult]) -> float | None:
        """The last window's load plus backlog in capacity units x percent (None while paused or without data)."""
        return None if obs.paused else measured_load(results, _capacity(obs), self.policy.window_minutes)

    def _evidence(self, obs: Observed, results: Mapping[str, CheckResult], memory: Memory, now: float) -> Evidence:
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


def _rounded(value: float | None) -> float | None:
    """Two significant figures: enough to tell a rise of 10%, and the memory is not rewritten for noise."""
    return None if value is None else float(f"{value:.2g}")


def _capacity(obs: Observed) -> float | None:
    """What a forecast's load is measured against: Redshift nodes, or a Serverless v2 cluster's maximum ACUs."""
    if obs.ref.service == "redshift":
        return float(obs.nodes) if obs.nodes is not None else None
    if obs.all_serverless and obs.acu is not None:
        return obs.acu[1]
    return None
