"""Custom::AuroraClone's references: the source cluster, and the RDS quotas a clone uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from .common import rds_cluster
from .engine import Check, PreflightContext
from .quotas import rds_quota_check


def source_cluster(context: PreflightContext, value: str) -> list[Problem]:
    """The source is an Aurora cluster of this account and region."""
    cluster = rds_cluster(context, value)
    if cluster is None:
        return [
            Problem(
                "SourceClusterId",
                f"source Aurora cluster '{value}' does not exist in {context.region}",
                "give the identifier of a cluster of this account and region",
            )
        ]
    engine = str(cluster.get("Engine") or "")
    if not engine.startswith("aurora"):
        return [Problem("SourceClusterId", f"'{value}' is a {engine} cluster; only Aurora clusters clone", "")]
    return []


def checks(props: Mapping[str, Any]) -> list[Check]:
    """The source, and the quota of one more cluster with one instance."""
    return [
        Check("SourceClusterId", props["SourceClusterId"], source_cluster),
        rds_quota_check(1, 1, instance_property="InstanceClass"),
    ]
