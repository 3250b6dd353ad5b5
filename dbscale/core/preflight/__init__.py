"""Preflight: everything a request refers to is checked in AWS before anything is created.

For each resource type, every property that names another AWS object (a parameter group, subnet
group, security group, KMS key, IAM role, snapshot, source cluster, secret) is read once, in this
account and region, and checked to exist and to fit (a family matching the engine version, groups
of the subnet group's VPC, an enabled key, a role the service may assume); a create also checks the
account quotas it would use. Every problem names its property and what to do, and all of a
request's problems are reported together (:class:`~dbscale.core.errors.PreflightFailed`).

The checks of a request are independent reads, run on a small thread pool with the request's own
clients; an absent property costs no call, and an Update checks only what it changes.

* :mod:`.engine`: :class:`Check`, :func:`run_preflight`, :func:`raise_problems`;
* :mod:`.common`: KMS keys, IAM roles, security groups, ARNs of another region;
* :mod:`.redshift`, :mod:`.aurora`, :mod:`.clones`, :mod:`.bootstrap`: each resource type's checks;
* :mod:`.quotas`: the account quotas a create would exceed.

:func:`preflight_for` runs a resource type's checks on parsed properties (as its handler's schema
parses them); a CLI can run the same checks on a template's properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PreflightFailed, Problem
from . import aurora, bootstrap, clones, redshift
from .engine import Check, PreflightContext, only_changed, raise_problems, run_preflight

CHECKS: dict[str, Callable[..., list[Check]]] = {
    "Custom::RedshiftCluster": redshift.checks,
    "Custom::AuroraCluster": aurora.checks,
    "Custom::AuroraClone": clones.checks,
    "Custom::DatabaseBootstrap": bootstrap.checks,
}
"""Resource type -> the function giving the checks of its parsed properties."""


def preflight_for(
    resource_type: str,
    props: Mapping[str, Any],
    session: Any = None,
    *,
    old: Mapping[str, Any] | None = None,
    **options: Any,
) -> list[Problem]:
    """Every problem in what ``props`` (parsed as the resource type's handler parses them) refer to.

    ``old``: the properties before an Update; then only the checks of changed properties run (no
    call when nothing referential changed). ``options`` go to the type's ``checks`` function
    (Redshift: ``owned_parameter_group``). ``session`` None: boto3's default session."""
    checks = only_changed(CHECKS[resource_type](props, **options), props, old)
    return run_preflight(checks, PreflightContext(session, props))


def check_preflight(
    resource_type: str,
    props: Mapping[str, Any],
    session: Any = None,
    *,
    old: Mapping[str, Any] | None = None,
    **options: Any,
) -> None:
    """:func:`preflight_for`, raising one :class:`PreflightFailed` listing every problem found."""
    raise_problems(preflight_for(resource_type, props, session, old=old, **options))


__all__ = [
    "CHECKS",
    "Check",
    "PreflightContext",
    "PreflightFailed",
    "Problem",
    "check_preflight",
    "only_changed",
    "preflight_for",
    "raise_problems",
    "run_preflight",
]
