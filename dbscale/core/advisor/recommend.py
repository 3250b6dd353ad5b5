"""Recommendations for one cluster from its usage and the price book, each with the monthly saving and
the reason in numbers. Savings of different kinds overlap (a smaller shape that is also paused at
night saves less than the sum), so a cluster's saving is its best single recommendation."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..limits import AURORA_INSTANCE_CLASSES, REDSHIFT_NODE_TYPES, SERVERLESS_V2_GIB_PER_ACU
from ..pricing import HOURS_PER_MONTH, PriceBook
from ..redshift import choose_resize
from .recommendation import Recommendation, usd
from .schedule import pause_schedule, time_zone
from .usage import ClusterUsage

TARGET_P95_CPU = 60.0
"""Right-sizing aims for a 95th-percentile hourly CPU of at most this percent ..."""
OVERLOADED_P95_CPU = 85.0
"""... and recommends more capacity above this."""
MAX_DISK_AFTER_SHRINK = 75.0
"""A Redshift shrink must leave disk use at or under this percent."""
MAX_MEMORY_AFTER_SHRINK = 80.0
LOW_CPU_MEAN, LOW_CPU_P95 = 10.0, 20.0
"""The seed's low-utilization flag: mean CPU under 10 % and p95 under 20 %."""
STEADY_RUNNING_FRACTION = 0.95
"""A cluster that ran at least this share of the window, with no pause schedule, runs steadily."""
REDSHIFT_GIB_PER_RPU = 16
REDSHIFT_SERVERLESS_MIN_RPU = 8


def _monthly(hourly: float, usage: ClusterUsage) -> float:
    """Monthly cost of running ``hourly`` for the share of time the cluster ran in the window."""
    return hourly * HOURS_PER_MONTH * usage.running_fraction


def recommend(usage: ClusterUsage, prices: PriceBook, *, tz: str | None = None) -> list[Recommendation]:
    """Every recommendation for one cluster, biggest saving first.

    A pause schedule's crontab is in the IANA time zone ``tz`` (default UTC), converted at the zone's
    UTC offset at the end of the window. Commands that change a cluster dbscale did not create pass
    ``--force``, and every recommendation for such a cluster says so."""
    c = usage.cluster
    zone = time_zone(tz)
    found: list[Recommendation | None] = []
    if c.service == "redshift":
        found += [_redshift_right_size(usage, prices), _redshift_serverless(usage, prices)]
    else:
        found += [_aurora_right_size(usage, prices), _aurora_serverless(usage, prices)]
    schedule = pause_schedule(usage, prices, zone)
    found += [schedule, _cheapest_region(usage, prices), _low_utilization(usage)]
    if schedule is None:
        found.append(_reserved(usage, prices))
    made = [_with_ownership(r, c.name, c.managed) for r in found if r is not None]
    return sorted(made, key=lambda r: -r.monthly_saving_usd)


def _with_ownership(rec: Recommendation, name: str, managed: bool) -> Recommendation:
    """``rec`` with a word on ownership when its action runs dbscale on a cluster dbscale did not create."""
    if managed or "dbscale " not in rec.action:
        return rec
    if rec.action.lstrip().startswith("dbscale plan "):
        note = (
            f"'{name}' was not created by dbscale: plan changes nothing and needs no --force; the rescale it "
            "plans does (dbscale rescale ... --force)"
        )
    else:
        note = f"'{name}' was not created by dbscale: the commands pass --force, without which they are refused"
    return replace(rec, assumptions=(*rec.assumptions, note))


# --- right-size ------------------------------------------------------------------------------------


def _redshift_right_size(usage: ClusterUsage, prices: PriceBook) -> Recommendation | None:
    c = usage.cluster
    spec = REDSHIFT_NODE_TYPES.get(c.node_type or "")
    price = prices.redshift_node(c.region, c.node_type or "")
    if usage.cpu is None or spec is None or price is None:
        return None
    p95 = usage.cpu.p95
    disk = usage.disk.max if usage.disk else 0.0
    by_cpu = math.ceil(c.nodes * p95 / TARGET_P95_CPU)
    by_disk = math.ceil(c.nodes * disk / MAX_DISK_AFTER_SHRINK)
    floor = spec.min_nodes if c.nodes == 1 else max(2, spec.min_nodes)
    target = min(spec.max_nodes, max(floor, by_cpu, by_disk))
    if p95 <= OVERLOADED_P95_CPU and target >= c.nodes:
        return None
    if p95 > OVERLOADED_P95_CPU:
        target = max(target, c.nodes + 1)
    if target == c.nodes:
        return None
    method = choose_resize(c.node_type or "", c.nodes, c.node_type or "", target).method
    saving = (c.nodes - target) * price.on_demand * HOURS_PER_MONTH * usage.running_fraction
    verb = "shrink" if target < c.nodes else "grow"
    reason = (
        f"CPU p95 {p95:.1f}% (mean {usage.cpu.mean:.1f}%) on {c.nodes} nodes; {target} nodes would run at "
        f"about {p95 * c.nodes / target:.0f}% p95 (target {TARGET_P95_CPU:g}%); disk max {disk:.1f}% becomes "
        f"{disk * c.nodes / target:.1f}%; {method} resize"
    )
    return Recommendation(
        "right-size",
        f"{verb} to {target} x {c.node_type}",
        saving,
        reason,
        f"dbscale plan redshift {c.name} --nodes {target} --region {c.region}",
        ("load spreads evenly over nodes (CPU and disk scale with 1/nodes)",),
        {"target_nodes": target, "method": method},
    )


def _family(instance_class: str) -> list[str]:
    prefix = instance_class.rsplit(".", 1)[0] + "."
    members = [name for name in AURORA_INSTANCE_CLASSES if name.startswith(prefix)]
    return sorted(members, key=lambda n: (AURORA_INSTANCE_CLASSES[n].vcpu, AURORA_INSTANCE_CLASSES[n].memory_gib))


def _aurora_right_size(usage: ClusterUsage, prices: PriceBook) -> Recommendation | None:
    c = usage.cluster
    spec = AURORA_INSTANCE_CLASSES.get(c.instance_class or "")
    current = prices.aurora_instance(c.region, c.engine, c.instance_class or "")
    if usage.cpu is None or spec is None or current is None:
        return None
    p95 = usage.cpu.p95
    memory_used_gib = spec.memory_gib * (usage.memory.p95 if usage.memory else 0.0) / 100
    need_vcpu = spec.vcpu * p95 / TARGET_P95_CPU
    need_gib = memory_used_gib * 100 / MAX_MEMORY_AFTER_SHRINK
    fits = [
        n
        for n in _family(c.instance_class or "")
        if AURORA_INSTANCE_CLASSES[n].vcpu >= need_vcpu
        and AURORA_INSTANCE_CLASSES[n].memory_gib >= need_gib
        and prices.aurora_instance(c.region, c.engine, n) is not None
    ]
    if not fits:
        return None
    target = fits[0]
    if p95 > OVERLOADED_P95_CPU and AURORA_INSTANCE_CLASSES[target].vcpu <= spec.vcpu:
        bigger = [n for n in fits if AURORA_INSTANCE_CLASSES[n].vcpu > spec.vcpu]
        if not bigger:
            return None
        target = bigger[0]
    if target == c.instance_class or (p95 <= OVERLOADED_P95_CPU and AURORA_INSTANCE_CLASSES[target].vcpu > spec.vcpu):
        return None
    target_price = prices.aurora_instance(c.region, c.engine, target)
    assert target_price is not None
    target_spec = AURORA_INSTANCE_CLASSES[target]
    saving = (current.on_demand - target_price.on_demand) * len(c.instances) * HOURS_PER_MONTH * usage.running_fraction
    reason = (
        f"writer CPU p95 {p95:.1f}% of {spec.vcpu} vCPU and memory p95 {memory_used_gib:.1f} of "
        f"{spec.memory_gib} GiB; {target} ({target_spec.vcpu} vCPU, {target_spec.memory_gib} GiB) would run "
        f"at about {p95 * spec.vcpu / target_spec.vcpu:.0f}% CPU p95; {usd(current.on_demand)}/h -> "
        f"{usd(target_price.on_demand)}/h per instance x {len(c.instances)}"
    )
    return Recommendation(
        "right-size",
        f"{'smaller' if saving > 0 else 'larger'} instance class {target}",
        saving,
        reason,
        f"dbscale plan aurora {c.name} --instance-class {target} --region {c.region}",
        ("readers carry no more load than the writer", "CPU scales with 1/vCPU"),
        {"target_instance_class": target},
    )


# --- serverless ----------------------------------------------------------------------------------


def _aurora_serverless(usage: ClusterUsage, prices: PriceBook) -> Recommendation | None:
    c = usage.cluster
    acu_price = prices.acu_hour(c.region, c.engine)
    if acu_price is None or not usage.hourly:
        return None
    units = max(1, len(c.instances))
    if c.serverless:
        return _aurora_provisioned(usage, prices, acu_price)
    spec = AURORA_INSTANCE_CLASSES.get(c.instance_class or "")
    current = prices.aurora_instance(c.region, c.engine, c.instance_class or "")
    if spec is None or current is None:
        return None
    class_acu = spec.memory_gib / SERVERLESS_V2_GIB_PER_ACU
    acu_hours = 0.0
    for cpu, connections in usage.hourly.values():
        if cpu <= 5.0 and connections <= 0.5:
            continue  # idle: auto-pause at 0 ACU
        acu_hours += max(0.5, math.ceil(class_acu * cpu / 100 * 2) / 2)
    serverless = acu_hours / usage.window_hours * HOURS_PER_MONTH * acu_price * units
    now = _monthly(current.on_demand * units, usage)
    saving = now - serverless
    peak = math.ceil(class_acu * (usage.cpu.max if usage.cpu else 100) / 100 * 2) / 2
    reason = (
        f"the load would need {acu_hours:,.0f} ACU-hours over {usage.window_hours} h "
        f"({acu_hours / max(1, len(usage.hourly)):.1f} ACU mean while running, peak about {peak:g}) at "
        f"{usd(acu_price)}/ACU-hour x {units} instance(s) = {usd(serverless)}/month vs {usd(now)}/month provisioned"
    )
    return Recommendation(
        "aurora-serverless-v2",
        "Aurora Serverless v2 with 0-ACU auto-pause",
        saving,
        reason,
        f"dbscale plan aurora {c.name} --instance-class db.serverless --min-acu 0 --max-acu {max(1.0, peak):g} "
        f"--region {c.region}",
        (
            f"ACUs follow CPU: {c.instance_class} = {class_acu:g} ACU at 100% CPU "
            f"({SERVERLESS_V2_GIB_PER_ACU} GiB per ACU)",
            "at least 0.5 ACU in any hour with connections; 0 ACU (auto-paused) in idle hours",
            "each reader carries the writer's load; Aurora Standard storage (I/O billed the same either way)",
        ),
        {"acu_hours": acu_hours, "peak_acu": peak},
    )


def _aurora_provisioned(usage: ClusterUsage, prices: PriceBook, acu_price: float) -> Recommendation | None:
    c = usage.cluster
    if usage.acu is None:
        return None
    units = max(1, len(c.instances))
    now = usage.acu.mean * acu_price * units * HOURS_PER_MONTH * usage.running_fraction
    need_gib = usage.acu.p95 * SERVERLESS_V2_GIB_PER_ACU
    options = [
        (price.on_demand, name)
        for name, spec in AURORA_INSTANCE_CLASSES.items()
        if spec.memory_gib >= need_gib and (price := prices.aurora_instance(c.region, c.engine, name)) is not None
    ]
    if not options:
        return None
    hourly, target = min(options)
    provisioned = hourly * units * HOURS_PER_MONTH * usage.running_fraction
    saving = now - provisioned
    if saving <= 0:
        return None
    reason = (
        f"mean {usage.acu.mean:.1f} ACU (p95 {usage.acu.p95:.1f}) x {units} instance(s) costs {usd(now)}/month; "
        f"{target} ({AURORA_INSTANCE_CLASSES[target].memory_gib} GiB >= p95 ACU x 2 GiB) "
        f"costs {usd(provisioned)}/month"
    )
    return Recommendation(
        "aurora-provisioned",
        f"provisioned {target} instead of Serverless v2",
        saving,
        reason,
        f"dbscale plan aurora {c.name} --instance-class {target} --region {c.region}",
        ("the p95 capacity is enough for the load",),
        {"target_instance_class": target},
    )


def _redshift_serverless(usage: ClusterUsage, prices: PriceBook) -> Recommendation | None:
    c = usage.cluster
    rpu_price = prices.rpu_hour(c.region)
    spec = REDSHIFT_NODE_TYPES.get(c.node_type or "")
    node_price = prices.redshift_node(c.region, c.node_type or "")
    if rpu_price is None or spec is None or node_price is None or not usage.hourly:
        return None
    equivalent = c.nodes * spec.memory_gib / REDSHIFT_GIB_PER_RPU
    base = max(REDSHIFT_SERVERLESS_MIN_RPU, math.ceil(equivalent / 8) * 8)
    active = sum(1 for cpu, n in usage.hourly.values() if cpu > 5.0 or n > 0.5)
    serverless = base * active / usage.window_hours * HOURS_PER_MONTH * rpu_price
    now = _monthly(node_price.on_demand * c.nodes, usage)
    reason = (
        f"{active} of {usage.window_hours} hours had queries; {base} RPU x {active} h = {base * active:,} RPU-hours "
        f"per {usage.window_hours} h at {usd(rpu_price)}/RPU-hour = {usd(serverless)}/month vs {usd(now)}/month "
        f"for {c.nodes} x {c.node_type}"
    )
    return Recommendation(
        "redshift-serverless",
        f"Redshift Serverless at {base} RPU base capacity",
        now - serverless,
        reason,
        "create a Redshift Serverless workgroup with this base capacity and restore a snapshot into it",
        (
            f"{REDSHIFT_GIB_PER_RPU} GiB of memory per RPU: {c.nodes} x {spec.memory_gib} GiB = {equivalent:g} RPU, "
            f"rounded up to a multiple of 8, at least {REDSHIFT_SERVERLESS_MIN_RPU}",
            "billed at base capacity for every whole hour with queries (an upper bound: AWS bills per second "
            "of query time, 60 s minimum)",
            "storage is billed the same as RA3 managed storage; no concurrency scaling",
        ),
        {"base_rpu": base, "active_hours": active},
    )


def _unit_price(usage: ClusterUsage, prices: PriceBook, region: str) -> tuple[float, Any] | None:
    """(on-demand USD per hour for the whole cluster, the per-unit ShapePrice) in ``region``."""
    c = usage.cluster
    if c.service == "redshift":
        price = prices.redshift_node(region, c.node_type or "")
        return None if price is None else (price.on_demand * c.nodes, price)
    if c.serverless or not c.instances:
        return None
    price = prices.aurora_instance(region, c.engine, c.instance_class or "")
    if price is None or any(cls != c.instance_class for cls in c.instance_classes):
        return None
    return price.on_demand * len(c.instances), price


def _reserved(usage: ClusterUsage, prices: PriceBook) -> Recommendation | None:
    c = usage.cluster
    if usage.running_fraction < STEADY_RUNNING_FRACTION:
        return None
    found = _unit_price(usage, prices, c.region)
    if found is None or not found[1].reserved:
        return None
    hourly, price = found
    units = c.units
    options = sorted(price.reserved, key=lambda r: r.effective_usd_per_hour)
    best = options[0]
    saving = (price.on_demand - best.effective_usd_per_hour) * units * HOURS_PER_MONTH
    table = {
        f"{r.years}yr {r.purchase_option}": {
            "upfront_usd": r.upfront_usd * units,
            "effective_usd_per_hour": r.effective_usd_per_hour * units,
            "monthly_saving_usd": round((price.on_demand - r.effective_usd_per_hour) * units * HOURS_PER_MONTH, 2),
        }
        for r in price.reserved
    }
    reason = (
        f"ran {usage.running_fraction:.0%} of {usage.window_hours} h; {best.years}-year {best.purchase_option} "
        f"costs {usd(best.effective_usd_per_hour * units)}/h effective ({usd(best.upfront_usd * units)} upfront) "
        f"vs {usd(hourly)}/h on demand"
    )
    return Recommendation(
        "reserved",
        f"reserve {units} {'nodes' if c.service == 'redshift' else 'instances'} "
        f"({best.years}yr {best.purchase_option})",
        saving,
        reason,
        "buy reserved nodes/instances of the same type in the same region",
        ("the cluster keeps running at this shape for the whole term",),
        {"options": table},
    )


def _cheapest_region(usage: ClusterUsage, prices: PriceBook) -> Recommendation | None:
    c = usage.cluster
    here = _unit_price(usage, prices, c.region)
    if here is None:
        return None
    elsewhere = [(p[0], r) for r in prices.regions if r != c.region and (p := _unit_price(usage, prices, r))]
    if not elsewhere:
        return None
    hourly, region = min(elsewhere)
    if hourly >= here[0] * 0.99:
        return None
    saving = (here[0] - hourly) * HOURS_PER_MONTH * usage.running_fraction
    reason = (
        f"{c.shape} costs {usd(hourly)}/h in {region} vs {usd(here[0])}/h in {c.region} "
        f"({(here[0] - hourly) / here[0]:.0%} less), compared over {len(elsewhere) + 1} priced regions"
    )
    return Recommendation(
        "cheapest-region",
        f"same shape in {region}",
        saving,
        reason,
        "",
        ("moving regions means moving the data and the clients; transfer costs are not included",),
        {"region": region, "usd_per_hour": hourly},
    )


def _low_utilization(usage: ClusterUsage) -> Recommendation | None:
    cpu = usage.cpu
    if cpu is None or not (cpu.mean < LOW_CPU_MEAN and cpu.p95 < LOW_CPU_P95):
        return None
    conn = usage.connections
    reason = f"CPU mean {cpu.mean:.1f}% and p95 {cpu.p95:.1f}% over {cpu.hours} h" + (
        f"; connections mean {conn.mean:.1f}, max {conn.max:.0f}" if conn else ""
    )
    return Recommendation("low-utilization", "low utilization", 0.0, reason)
