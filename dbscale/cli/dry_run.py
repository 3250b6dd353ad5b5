"""The preflight of ``rescale|pause|resume --dry-run``: what of :mod:`dbscale.core.preflight` applies
to a rescale plan.

A rescale names no other AWS object (no parameter group, key, role or snapshot: those are the
properties of a create), so the only check that applies is the RDS account quota: an Aurora plan
that creates instances (readers added, or the new writer of a class change, made before the old one
is deleted) needs that many more DB instances at its peak (``DescribeAccountAttributes``, one call).
Redshift has no quota read ahead (``CreateCluster``/``ResizeCluster`` refuse over the node quota
before anything changes: see :mod:`dbscale.core.preflight.quotas`); a pause or resume adds nothing.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import Problem
from ..core.plan import RescalePlan
from .output import console


def instances_added(plan: RescalePlan) -> int:
    """The most DB instances the plan's steps have made beyond today's at any moment (0: none)."""
    running = peak = 0
    for step in plan.operation_steps:
        if step.get("action") == "create_instance":
            running += 1
        elif step.get("action") == "delete_instance":
            running -= 1
        peak = max(peak, running)
    return peak


def plan_problems(plan: RescalePlan, made: Any, option: str) -> list[Problem]:
    """The preflight's problems with ``plan`` in the session ``made``'s account (``option`` names
    the command's option that adds the instances)."""
    if plan.service != "aurora":
        return []
    added = instances_added(plan)
    if not added:
        return []
    from ..core.preflight import PreflightContext, run_preflight
    from ..core.preflight.quotas import rds_quota_check

    return run_preflight([rds_quota_check(0, added, instance_property=option)], PreflightContext(made, {}))


def print_problems(problems: list[Problem]) -> None:
    """One line per problem, after the plan."""
    for problem in problems:
        console.print(f"preflight: {problem.property}: {problem}", markup=False, soft_wrap=True)
