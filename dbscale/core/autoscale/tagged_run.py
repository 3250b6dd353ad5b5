"""One run of the tag autoscaler: every tagged cluster of an account and region, each under its policy.

:func:`run_tagged` reads the policy document once, lists the tagged clusters, leaves the ones a
per-cluster ``Autoscaler`` manages, and drives the rest with one :class:`Autoscaler` per policy,
a few clusters at a time, while ``remaining_seconds`` leaves time for another batch. A cluster that
fails (an AWS error, a bug) is reported and the others go on; a batch that fails is retried one
cluster at a time so only the failing one is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..clock import SYSTEM_CLOCK, Clock
from .decisions import DECISION_NAMESPACE, ClusterRef, Decision
from .memory import LOG, SsmStateStore, StateStore
from .policy import AutoscalePolicy
from .report import metric_data, publish
from .runner import Autoscaler
from .tagged import (
    FAILED,
    OUT_OF_TIME,
    SKIP_METRIC,
    TAG_KEY,
    TAGGED_STATE_PREFIX,
    Skip,
    discover,
    load_policies,
    per_cluster_owned,
    plan_run,
)

if TYPE_CHECKING:
    import boto3

BATCH = 10
"""Clusters evaluated together (one metrics query for all of them) before the time left is checked again."""
RESERVE_SECONDS = 100.0
"""Time a batch may take: the Data API checks are bounded at 90 s, plus writing memory and metrics."""


@dataclass
class TaggedRun:
    """What one run did: the decisions (each with ``policy``), the skipped clusters, the policy names."""

    decisions: list[tuple[str, Decision]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    policies: tuple[str, ...] = ()

    def managed(self) -> list[str]:
        """The keys (``<service>/<name>``) of the clusters driven, in order."""
        return [f"{d.service}/{d.cluster}" for _, d in self.decisions]

    def to_dict(self) -> dict[str, Any]:
        return {
            "policies": list(self.policies),
            "decisions": [
                {
                    "cluster": d.cluster,
                    "service": d.service,
                    "policy": policy,
                    "action": d.action,
                    "change": d.change,
                    "outcome": d.outcome,
                }
                for policy, d in self.decisions
            ],
            "skipped": [s.to_dict() for s in self.skipped],
        }


def skip_metrics(skipped: Sequence[Skip], now: float) -> list[dict[str, Any]]:
    """One ``TaggedClusterSkipped`` datapoint per skipped cluster (dimensions ``Cluster`` and ``Reason``)."""
    stamp = datetime.fromtimestamp(now, tz=timezone.utc)
    return [
        {
            "MetricName": SKIP_METRIC,
            "Dimensions": [{"Name": "Cluster", "Value": s.ref.name}, {"Name": "Reason", "Value": s.reason}],
            "Timestamp": stamp,
            "Value": 1.0,
            "Unit": "Count",
            "_namespace": DECISION_NAMESPACE,
        }
        for s in skipped
    ]


class _PolicyRun:
    """Drives the clusters of one policy, batch by batch, so that one failing cluster loses only itself."""

    def __init__(self, name: str, autoscaler: Autoscaler, run: TaggedRun, trigger: str) -> None:
        self.name, self.autoscaler, self.run, self.trigger = name, autoscaler, run, trigger

    def batch(self, refs: list[ClusterRef]) -> list[Decision]:
        try:
            decisions = self.autoscaler.evaluate_many(refs, trigger=self.trigger)
        except Exception as err:  # the batch is retried cluster by cluster, where it is reported
            LOG.warning("evaluating %d clusters together failed (%s); one at a time", len(refs), err)
            decisions = [d for ref in refs for d in self._evaluate_one(ref)]
        finals = []
        for decision in decisions:
            try:
                finals.append(self.autoscaler.act(decision, publish=False))
            except Exception as err:  # one cluster's failure must not stop the others
                self._failed(ClusterRef(decision.service, decision.cluster), err)
        self.run.decisions.extend((self.name, d) for d in finals)
        return finals

    def _evaluate_one(self, ref: ClusterRef) -> list[Decision]:
        try:
            return [self.autoscaler.evaluate(ref, trigger=self.trigger)]
        except Exception as err:  # reported as this cluster's, the others go on
            self._failed(ref, err)
            return []

    def _failed(self, ref: ClusterRef, err: BaseException) -> None:
        self.run.skipped.append(Skip(ref, self.name, FAILED, f"{type(err).__name__}: {err}"))


def run_tagged(
    parameter: str,
    *,
    session: boto3.Session | None = None,
    clock: Clock | None = None,
    tag_key: str = TAG_KEY,
    dry_run: bool = False,
    state_store: StateStore | None = None,
    remaining_seconds: Callable[[], float] | None = None,
    reserve_seconds: float = RESERVE_SECONDS,
    trigger: str = "schedule",
    log: Callable[[str], None] | None = None,
) -> TaggedRun:
    """Evaluate and act on every cluster of the account and region tagged ``tag_key``, under the policy its
    tag names in the document of SSM ``parameter``.

    ``state_store`` defaults to SSM under :data:`TAGGED_STATE_PREFIX`. ``remaining_seconds`` (e.g. the
    Lambda context's time left): no new batch starts with less than ``reserve_seconds`` left, and the
    clusters not reached are reported ``out_of_time`` (the next run takes them). Each decision and each
    skip is one JSON line to ``log`` and one metric. An invalid document raises :class:`InvalidRequest`
    before anything is listed or changed.
    """
    clock = clock or SYSTEM_CLOCK
    write = log or (lambda line: LOG.info("%s", line))
    policies = load_policies(parameter, session)
    tagged = discover(session, tag_key=tag_key)
    owned = per_cluster_owned([t.ref for t in tagged], session) if tagged else set()
    plan = plan_run(tagged, policies, owned)
    run = TaggedRun(skipped=list(plan.skipped), policies=tuple(sorted(policies)))
    store = state_store if state_store is not None else SsmStateStore(TAGGED_STATE_PREFIX, session=session)
    for name, refs in plan.groups.items():
        policy: AutoscalePolicy = policies[name]
        autoscaler = Autoscaler(policy, session=session, clock=clock, state_store=store, dry_run=dry_run, log=write)
        driver = _PolicyRun(name, autoscaler, run, trigger)
        for first in range(0, len(refs), BATCH):
            if remaining_seconds is not None and remaining_seconds() < reserve_seconds:
                detail = f"less than {reserve_seconds:g} s left in this invocation; the next run takes it"
                run.skipped.extend(Skip(ref, name, OUT_OF_TIME, detail) for ref in refs[first : first + BATCH])
                continue
            finals = driver.batch(refs[first : first + BATCH])
            publish(metric_data(finals, forecasts=policy.forecasts, now=clock.now()), session)
    for skip in run.skipped:
        write(json.dumps({"message": "dbscale tag autoscaler skipped a cluster", **skip.to_dict()}))
    publish(skip_metrics(run.skipped, clock.now()), session)
    return run
