"""Which checks the autoscaler asks for, per cluster: utilization, disk, memory, queries, backlog, Athena spend."""

from __future__ import annotations

from ..errors import InvalidRequest
from ..limits import AURORA_INSTANCE_CLASSES, AURORA_SERVERLESS_INSTANCE_CLASS, REDSHIFT_NODE_TYPES
from ..scaling import Check
from .memory import Memory
from .observe import Observed
from .policy import AutoscalePolicy
from .safety import BACKLOG_WAIT_SECONDS


def plan_checks(policy: AutoscalePolicy, obs: Observed, memory: Memory) -> list[tuple[str, Check]]:
    """The checks that decide ``obs``, each with the signal it stands for (none while busy or gone)."""
    if not obs.found or obs.busy is not None or memory.operation is not None:
        return []
    p, t, w = policy, policy.thresholds, policy.window_minutes
    name = obs.ref.name
    if obs.ref.service == "redshift":
        plan: list[tuple[str, Check]] = [
            ("cpu_high", Check.redshift_utilization(name, True, "cpu", t.cpu_high, w)),
            ("cpu_low", Check.redshift_utilization(name, False, "cpu", t.cpu_low, w)),
            ("idle", Check.redshift_utilization(name, False, "cpu", idle_percent(policy, obs), w)),
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


def idle_percent(policy: AutoscalePolicy, obs: Observed) -> float:
    """CPU percent under which a Redshift cluster counts as idle: the load would use less than
    ``idle_cpu_percent`` of the policy's smallest size (so a large cluster in a busy day's tail is not
    "idle"), and at least half of ``idle_cpu_percent`` of its own (housekeeping runs on every node)."""
    p = policy
    if obs.nodes is None or obs.node_type is None or obs.node_type not in REDSHIFT_NODE_TYPES:
        return p.idle_cpu_percent
    try:
        smallest = p.redshift_bounds(obs.node_type)[0]
    except InvalidRequest:
        return p.idle_cpu_percent
    return max(p.idle_cpu_percent * min(smallest, obs.nodes) / obs.nodes, p.idle_cpu_percent / 2)
