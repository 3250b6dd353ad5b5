"""``Autoscaler``: the autoscaler Lambda, its schedule, its alarm trigger and a role scoped to its clusters.

The function runs ``dbscale.handlers.autoscaler.handler`` from the same asset as the providers
(``dbscale.core`` + ``dbscale.handlers``, no Docker). EventBridge invokes it on a schedule (every
``policy.evaluation_interval_minutes``) and whenever one of the ``ScalingAlarms`` alarms goes into
ALARM. Reserved concurrency 1 keeps two invocations from deciding about the same cluster at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from dbscale.core.autoscale import (
    CHECKS_NAMESPACE,
    CONFIG_ENV,
    DECISION_NAMESPACE,
    STATE_PARAMETER_PREFIX,
    AutoscalePolicy,
    Period,
)
from dbscale.core.errors import InvalidRequest

from ._function import handler_function
from ._support import fail
from .arns import StackArns, instance_prefix
from .aurora import AuroraCluster
from .autoscaler_checks import check_aurora_fits, check_redshift_fits
from .redshift import RedshiftCluster
from .scaling_alarms import ClusterArg, ScalingAlarms, as_list, declared

HANDLER = "dbscale.handlers.autoscaler.handler"
# Describing more than three clusters of a kind lists them all (one call instead of many).
_DESCRIBE_ONE_BY_ONE = 3


class Autoscaler(Construct):
    """Autoscales the given clusters with ``policy`` (see ``docs/autoscaling.md``).

    :param redshift: a ``RedshiftCluster`` or a list of them.
    :param aurora: an ``AuroraCluster`` or a list of them.
    :param policy: bounds, thresholds and timing. Default ``AutoscalePolicy()``. Checked against
        each cluster's declared node type or instance class at synth time.
    :param dry_run: decide, log and publish (``DryRunDecision``) but change nothing. Default False.
    :param alarms: the ``ScalingAlarms`` whose state changes trigger an evaluation. Default: made
        here from ``policy.thresholds`` and ``policy.window_minutes``.
    :param alarm_topic: SNS topic for the alarms made here. Default None.
    :param log_retention: how long decisions stay in the function's log. Default three months.
    :param schedule: ``Period`` s (``Period("Mon-Fri 07:30-19:00", tz="Europe/Berlin", min_nodes=4)``,
        ``Period("Sat-Sun 00:00-24:00", paused=True)``): bounds the metric-driven rules move inside, or
        paused time. Default: the policy's (none). Checked at synth: spec, time zone, bounds.
    :param holidays: dates (``datetime.date`` or ``"YYYY-MM-DD"``) on which no period starts. Default: the policy's.
    :param paused_outside_schedule: hold the clusters paused whenever no running period is on (the
        Instance Scheduler model). Default: the policy's (False).
    :param forecasts: learn the load by hour of week from CloudWatch history and act ahead of it.
        Default: the policy's (False).

    Declare the clusters with ``autoscaled=True`` so the next deploy keeps the autoscaler's size
    (the declared size is then the initial one); without it a warning says what would happen.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        redshift: ClusterArg = None,
        aurora: ClusterArg = None,
        policy: AutoscalePolicy | None = None,
        dry_run: bool = False,
        alarms: ScalingAlarms | None = None,
        alarm_topic: sns.ITopic | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        schedule: Sequence[Period] | None = None,
        holidays: Sequence[date | str] | None = None,
        paused_outside_schedule: bool | None = None,
        forecasts: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.policy = self._policy(policy, schedule, holidays, paused_outside_schedule, forecasts)
        self.dry_run = bool(dry_run)
        redshift_clusters: list[RedshiftCluster] = as_list(self, redshift, RedshiftCluster, "redshift")
        aurora_clusters: list[AuroraCluster] = as_list(self, aurora, AuroraCluster, "aurora")
        if not redshift_clusters and not aurora_clusters:
            raise fail(self, "give at least one cluster (redshift=... or aurora=...)", field="redshift")
        for r in redshift_clusters:
            check_redshift_fits(self, self.policy, r)
        for a in aurora_clusters:
            check_aurora_fits(self, self.policy, a)

        stack = Stack.of(self)
        self._arns = StackArns.of(stack)
        self.alarms = alarms or ScalingAlarms(
            self,
            "Alarms",
            redshift=redshift_clusters or None,
            aurora=aurora_clusters or None,
            thresholds=self.policy.thresholds,
            window=Duration.minutes(self.policy.window_minutes),
            alarm_topic=alarm_topic,
        )
        clusters = [("redshift", c) for c in redshift_clusters] + [("aurora", c) for c in aurora_clusters]
        config = {
            "policy": self.policy.to_dict(),
            "clusters": [
                {
                    "service": service,
                    "name": c.cluster_identifier,
                    "declared_paused": declared(c, "paused", "Paused") is True,
                }
                for service, c in clusters
            ],
            "dry_run": self.dry_run,
            "state_prefix": STATE_PARAMETER_PREFIX,
        }

        made = handler_function(
            self,
            handler=HANDLER,
            description="dbscale autoscaler: evaluates scaling checks and rescales the clusters it manages",
            # Never waits for AWS; the Data API checks (when enabled) are bounded at 90 s.
            timeout=Duration.minutes(3),
            environment={CONFIG_ENV: stack.to_json_string(config)},
            log_retention=log_retention,
        )
        self.function, self.role, self.log_group = made.function, made.role, made.log_group
        self._triggers()
        self._grant(redshift_clusters, aurora_clusters)

    def _policy(
        self,
        policy: AutoscalePolicy | None,
        schedule: Sequence[Period] | None,
        holidays: Sequence[date | str] | None,
        paused_outside_schedule: bool | None,
        forecasts: bool | None,
    ) -> AutoscalePolicy:
        """``policy`` (default ``AutoscalePolicy()``) with the given schedule settings in place of its own."""
        chosen = policy if policy is not None else AutoscalePolicy()
        if not isinstance(chosen, AutoscalePolicy):
            raise fail(self, "policy must be a dbscale.core.autoscale.AutoscalePolicy", field="policy")
        overrides: dict[str, Any] = {}
        if schedule is not None:
            if isinstance(schedule, (str, Period)) or any(not isinstance(p, Period) for p in schedule):
                raise fail(self, "schedule must be a list of dbscale.core.autoscale.Period", field="schedule")
            overrides["schedule"] = tuple(schedule)
        if holidays is not None:
            overrides["holidays"] = tuple(holidays)
        if paused_outside_schedule is not None:
            overrides["paused_outside_schedule"] = paused_outside_schedule
        if forecasts is not None:
            overrides["forecasts"] = forecasts
        if not overrides:
            return chosen
        try:
            return replace(chosen, **overrides)
        except InvalidRequest as err:
            raise fail(self, str(err), field=err.field or "schedule") from None

    def _triggers(self) -> None:
        """The periodic evaluation (:attr:`schedule`) and the one on an alarm's ALARM (:attr:`alarm_rule`)."""
        target = targets.LambdaFunction(self.function, max_event_age=Duration.minutes(10), retry_attempts=2)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="dbscale autoscaler: periodic evaluation",
            schedule=events.Schedule.rate(Duration.minutes(self.policy.evaluation_interval_minutes)),
            targets=[target],
        )
        self.alarm_rule = events.Rule(
            self,
            "AlarmStateChange",
            description="dbscale autoscaler: evaluate when a scaling alarm goes into ALARM",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                resources=[a.alarm_arn for a in self.alarms.alarms],
                detail={"state": {"value": ["ALARM"]}},
            ),
            targets=[target],
        )

    # --- IAM --------------------------------------------------------------------------------

    def _arn(self, service: str, resource: str) -> str:
        return self._arns.arn(service, resource)

    def _nag(self, service: str, resource: str) -> str:
        return f"Resource::{self._arns.nag(service, resource)}"

    def _allow(
        self, sid: str, actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None
    ) -> None:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)
        )

    def _grant(self, redshift_clusters: list[RedshiftCluster], aurora_clusters: list[AuroraCluster]) -> None:
        p = self.policy
        findings: list[str] = ["Resource::*"]
        reasons = [
            "cloudwatch:GetMetricData and PutMetricData support no resource-level permissions (PutMetricData is "
            f"limited to the {DECISION_NAMESPACE} and {CHECKS_NAMESPACE} namespaces by condition)"
        ]
        self._allow("ReadMetrics", ["cloudwatch:GetMetricData"], ["*"])
        self._allow(
            "PublishDecisions",
            ["cloudwatch:PutMetricData"],
            ["*"],
            {"StringEquals": {"cloudwatch:namespace": [DECISION_NAMESPACE, CHECKS_NAMESPACE]}},
        )
        state: list[str] = []
        for service, clusters in (("redshift", redshift_clusters), ("aurora", aurora_clusters)):
            for cluster in clusters:
                name = cluster.cluster_identifier
                state.append(self._arn("ssm", f"parameter{STATE_PARAMETER_PREFIX}/{service}/{name}"))
                state.append(self._arn("ssm", f"parameter{STATE_PARAMETER_PREFIX}/dry-run/{service}/{name}"))
        self._allow("State", ["ssm:GetParameter", "ssm:PutParameter"], state)

        if redshift_clusters:
            self._grant_redshift(redshift_clusters, findings, reasons)
        if aurora_clusters:
            self._grant_aurora(aurora_clusters, findings, reasons)
        if p.resume_catalog:
            self._allow(
                "AthenaSpend",
                ["athena:ListQueryExecutions", "athena:BatchGetQueryExecution", "athena:GetQueryExecution"],
                [self._arn("athena", f"workgroup/{p.resume_workgroup}")],
            )
        reason = "; ".join(reasons)
        Validations.of(self).acknowledge(
            *[Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason) for finding in findings]
        )

    def _grant_redshift(
        self, redshift_clusters: list[RedshiftCluster], findings: list[str], reasons: list[str]
    ) -> None:
        """Describe, resize, pause and resume exactly these clusters (describe only in a dry run); with
        ``findings`` and ``reasons`` for the acknowledgments of the wildcards."""
        arns = [self._arn("redshift", f"cluster:{c.cluster_identifier}") for c in redshift_clusters]
        actions = ["redshift:DescribeClusters"]
        if not self.dry_run:
            actions += [
                "redshift:ResizeCluster",
                "redshift:DescribeResize",
                "redshift:PauseCluster",
                "redshift:ResumeCluster",
            ]
        self._allow("RedshiftClusters", actions, arns)
        if len(redshift_clusters) > _DESCRIBE_ONE_BY_ONE:
            self._allow("RedshiftListClusters", ["redshift:DescribeClusters"], [self._arn("redshift", "cluster:*")])
            findings.append(self._nag("redshift", "cluster:*"))
            reasons.append("more than three Redshift clusters are described in one listing (read only)")
        if self.policy.redshift_query_checks:
            self._allow("QueryHistory", ["redshift-data:ExecuteStatement"], arns)
            # DescribeStatement/GetStatementResult have no resource type; only the caller's own statements.
            self._allow(
                "QueryHistoryResults",
                ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"],
                ["*"],
                {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
            )
            self._allow(
                "QueryHistorySecrets",
                ["secretsmanager:GetSecretValue"],
                [c.secret.secret_arn for c in redshift_clusters],
            )
            reasons.append("Redshift Data API statement results support no resource-level permissions")

    def _grant_aurora(self, aurora_clusters: list[AuroraCluster], findings: list[str], reasons: list[str]) -> None:
        """Describe and change exactly these clusters and their instances (describe only in a dry run)."""
        ids = [c.cluster_identifier for c in aurora_clusters]
        cluster_arns = [self._arn("rds", f"cluster:{i}") for i in ids]
        instance_arns = [self._arn("rds", f"db:{instance_prefix(i)}*") for i in ids]
        self._allow("AuroraDescribe", ["rds:DescribeDBClusters"], cluster_arns)
        # DescribeDBInstances filtered by cluster is authorized on 'db:*' (read only).
        self._allow("AuroraDescribeInstances", ["rds:DescribeDBInstances"], [self._arn("rds", "db:*")])
        findings.append(self._nag("rds", "db:*"))
        reasons.append("DescribeDBInstances with a db-cluster-id filter is authorized on 'db:*' (read only)")
        if len(aurora_clusters) > _DESCRIBE_ONE_BY_ONE:
            self._allow("AuroraListClusters", ["rds:DescribeDBClusters"], [self._arn("rds", "cluster:*")])
            findings.append(self._nag("rds", "cluster:*"))
            reasons.append("more than three Aurora clusters are described in one listing (read only)")
        if not self.dry_run:
            self._allow(
                "AuroraClusters",
                [
                    "rds:ModifyDBCluster",
                    "rds:StartDBCluster",
                    "rds:StopDBCluster",
                    "rds:FailoverDBCluster",
                    "rds:CreateDBInstance",
                ],
                cluster_arns,
            )
            self._allow(
                "AuroraInstances",
                ["rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance"],
                instance_arns,
            )
            # A new instance references the cluster's subnet group and the engine's default groups.
            groups = [self._arn("rds", f"subgrp:{c.subnet_group.ref}") for c in aurora_clusters]
            defaults = [self._arn("rds", "pg:default.*"), self._arn("rds", "og:default:*")]
            self._allow("AuroraInstanceGroups", ["rds:CreateDBInstance", "rds:ModifyDBInstance"], groups + defaults)
            findings += [self._nag("rds", "pg:default.*"), self._nag("rds", "og:default:*")]
            findings += [self._nag("rds", f"db:{instance_prefix(i)}*") for i in ids]
            reasons.append(
                "instances are named '<cluster>-<n>' at run time (the grant covers only this cluster's names); "
                "the engine's default parameter and option groups are only referenced"
            )
