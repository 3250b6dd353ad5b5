"""Account quotas a create would exceed, read once per request.

RDS answers its quotas and their use in one call (``DescribeAccountAttributes``: ``AccountQuotas``
with ``Used`` and ``Max`` per ``AccountQuotaName``, e.g. ``DBClusters`` and ``DBInstances``).
Redshift has no such call (its ``DescribeAccountAttributes`` answers maintenance and usage settings,
not node quotas), and ``CreateCluster`` refuses a cluster over the node quota before anything is
made (``NumberOfNodesQuotaExceeded``): no Redshift quota is read ahead.
"""

from __future__ import annotations

from typing import Any

from ..errors import Problem
from .engine import Check, PreflightContext

QUOTA_HINT = "delete clusters you no longer need, or ask for more (Service Quotas, Amazon RDS)"


def rds_account_quotas(context: PreflightContext) -> dict[str, dict[str, Any]]:
    """``AccountQuotaName`` -> its quota (``Used``, ``Max``), read once per request."""

    def read() -> dict[str, dict[str, Any]]:
        quotas = context.client("rds").describe_account_attributes().get("AccountQuotas") or []
        return {str(q.get("AccountQuotaName")): dict(q) for q in quotas}

    return dict(context.once("rds-account-quotas", read))


def check_rds_quotas(context: PreflightContext, needed: tuple[str, int, int]) -> list[Problem]:
    """``needed`` = (property for the instance count, clusters, instances) a create adds."""
    instance_property, clusters, instances = needed
    quotas = rds_account_quotas(context)
    problems = []
    for name, adds, prop, what in (
        ("DBClusters", clusters, "ClusterIdentifier", "DB clusters"),
        ("DBInstances", instances, instance_property, "DB instances"),
    ):
        quota = quotas.get(name)
        if not quota or not adds:
            continue
        used, most = int(quota.get("Used", 0)), int(quota.get("Max", 0))
        if used + adds > most:
            problems.append(
                Problem(
                    prop,
                    f"{adds} more {what} would exceed this account's quota of {most} in {context.region} "
                    f"({used} in use)",
                    QUOTA_HINT,
                )
            )
    return problems


def rds_quota_check(clusters: int, instances: int, *, instance_property: str) -> Check:
    """The quota check of a create that adds ``clusters`` clusters and ``instances`` instances (run
    on Create only: its property, the cluster's identifier, does not change in place)."""
    return Check("ClusterIdentifier", (instance_property, clusters, instances), check_rds_quotas)
