"""``TagAutoscaler``: one autoscaler function per account and region for every cluster tagged with a policy name.

The function runs ``dbscale.handlers.tag_autoscaler.handler`` from the providers' asset on an
EventBridge schedule. Each run lists the Redshift and Aurora clusters tagged ``dbscale:autoscale=<policy>``
and drives each under the named policy of the policy document (an SSM parameter made here from
``policies``, or an existing one), so a cluster joins by being tagged. A cluster a per-cluster
``Autoscaler`` manages is left to it (see ``docs/autoscaling.md``, "Autoscaling by tag").

IAM: the changes are allowed only on clusters that carry the tag key (``aws:ResourceTag/<key>``
present, which every Redshift and RDS cluster action named here supports); Aurora instances carry no
cluster tag, so instance actions are scoped by ARN only (``db:*``), and describes are read-only on
``*`` or every cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from dbscale.core.autoscale import (
    CHECKS_NAMESPACE,
    DECISION_NAMESPACE,
    DRY_RUN_ENV,
    POLICIES_PARAMETER_ENV,
    STATE_PARAMETER_PREFIX,
    TAG_KEY,
    TAG_KEY_ENV,
    TAGGED_STATE_PREFIX,
    AutoscalePolicy,
    policies_document,
)
from dbscale.core.errors import InvalidRequest
from dbscale.core.validation import validate_tag

from ._function import handler_function
from ._support import fail
from .arns import StackArns

HANDLER = "dbscale.handlers.tag_autoscaler.handler"
DEFAULT_INTERVAL_MINUTES = 5
"""The schedule without inline policies (with them: the shortest ``evaluation_interval_minutes``)."""
_SSM_STANDARD_MAX = 4096
_AURORA_CLUSTER_ACTIONS = [
    "rds:ModifyDBCluster",
    "rds:StartDBCluster",
    "rds:StopDBCluster",
    "rds:FailoverDBCluster",
    "rds:CreateDBInstance",
]
_REDSHIFT_ACTIONS = [
    "redshift:ResizeCluster",
    "redshift:DescribeResize",
    "redshift:PauseCluster",
    "redshift:ResumeCluster",
]


class TagAutoscaler(Construct):
    """Autoscales every cluster of the stack's account and region tagged ``<tag_key>=<policy>``.

    :param policies: the policy document, by name (``{"standard": AutoscalePolicy(...)}``): kept in
        an SSM parameter made here (:attr:`parameter`). Give this or ``policies_parameter_name``.
    :param policies_parameter_name: an existing SSM parameter holding the document as JSON (e.g. one
        a StackSet deploys to every account); read at each run, so editing it changes the next run.
    :param tag_key: the tag whose value names the policy. Default ``dbscale:autoscale``.
    :param dry_run: decide, log and publish but change nothing (no change is granted). Default False.
    :param evaluation_interval: how often the schedule runs. Default: the shortest
        ``evaluation_interval_minutes`` of ``policies``, else 5 minutes.
    :param log_retention: how long decisions stay in the function's log. Default three months.

    Policies with ``redshift_query_checks`` are refused: those checks read each cluster's secret,
    which a tag cannot grant. ``resume_catalog`` is granted for the Athena workgroups of ``policies``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        policies: Mapping[str, AutoscalePolicy] | None = None,
        policies_parameter_name: str | None = None,
        tag_key: str = TAG_KEY,
        dry_run: bool = False,
        evaluation_interval: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, id)
        self.policies = self._checked(policies, policies_parameter_name)
        try:
            self.tag_key = validate_tag(tag_key, "policy", field="tag_key", user=False)[0]
        except InvalidRequest as err:
            raise fail(self, str(err), field="tag_key") from None
        self.dry_run = bool(dry_run)
        self._arns = StackArns.of(Stack.of(self))
        self.parameter: ssm.IStringParameter = self._parameter(policies_parameter_name)
        made = handler_function(
            self,
            handler=HANDLER,
            description="dbscale tag autoscaler: rescales every cluster tagged with an autoscaling policy",
            # Never waits for AWS; a batch of clusters takes up to 100 s (see dbscale.core.autoscale.run_tagged).
            timeout=Duration.minutes(5),
            environment={
                POLICIES_PARAMETER_ENV: self.parameter.parameter_name,
                TAG_KEY_ENV: self.tag_key,
                DRY_RUN_ENV: "true" if self.dry_run else "false",
            },
            log_retention=log_retention,
        )
        self.function, self.role, self.log_group = made.function, made.role, made.log_group
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="dbscale tag autoscaler: periodic evaluation of every tagged cluster",
            schedule=events.Schedule.rate(evaluation_interval or Duration.minutes(self._interval())),
            targets=[targets.LambdaFunction(self.function, max_event_age=Duration.minutes(10), retry_attempts=2)],
        )
        self._grant()

    # --- props ------------------------------------------------------------------------------

    def _checked(
        self, policies: Mapping[str, AutoscalePolicy] | None, parameter_name: str | None
    ) -> dict[str, AutoscalePolicy] | None:
        if (policies is None) == (parameter_name is None):
            raise fail(self, "give policies or policies_parameter_name (one of them)", field="policies")
        if policies is None:
            return None
        if not isinstance(policies, Mapping) or not policies:
            raise fail(self, "policies must be a non-empty mapping of name to AutoscalePolicy", field="policies")
        for name, policy in policies.items():
            try:
                validate_tag("k", name, field=f"policies[{name!r}]")
            except InvalidRequest as err:
                raise fail(self, f"policy name {name!r} cannot be a tag value: {err}", field="policies") from None
            if not name or not isinstance(policy, AutoscalePolicy):
                raise fail(self, f"policies[{name!r}] must be a named AutoscalePolicy", field="policies")
            if policy.redshift_query_checks:
                raise fail(
                    self,
                    f"policies[{name!r}] sets redshift_query_checks: those checks read each cluster's secret, "
                    "which a tag cannot grant; use a per-cluster Autoscaler for that cluster",
                    field="policies",
                )
        return dict(policies)

    def _interval(self) -> int:
        if not self.policies:
            return DEFAULT_INTERVAL_MINUTES
        return min(p.evaluation_interval_minutes for p in self.policies.values())

    def _parameter(self, name: str | None) -> ssm.IStringParameter:
        if name is not None:
            return ssm.StringParameter.from_string_parameter_name(self, "Policies", name)
        document = policies_document(self.policies or {})
        return ssm.StringParameter(
            self,
            "Policies",
            description="dbscale tag autoscaler: the autoscaling policies, by the name clusters are tagged with",
            string_value=document,
            tier=ssm.ParameterTier.STANDARD if len(document) <= _SSM_STANDARD_MAX else ssm.ParameterTier.ADVANCED,
        )

    # --- IAM --------------------------------------------------------------------------------

    def _allow(self, sid: str, actions: list[str], resources: list[str], conditions: Any = None) -> None:
        statement = iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)
        self.role.add_to_principal_policy(statement)

    def _grant(self) -> None:
        arn, nag = self._arns.arn, self._arns.nag
        self.parameter.grant_read(self.role)
        self._allow("ReadMetrics", ["cloudwatch:GetMetricData"], ["*"])
        namespaces = {"StringEquals": {"cloudwatch:namespace": [DECISION_NAMESPACE, CHECKS_NAMESPACE]}}
        self._allow("PublishDecisions", ["cloudwatch:PutMetricData"], ["*"], namespaces)
        # DescribeClusters has no resource type; listing every Aurora cluster is how tagged ones are found.
        self._allow("FindRedshift", ["redshift:DescribeClusters"], ["*"])
        self._allow("FindAurora", ["rds:DescribeDBClusters"], [arn("rds", "cluster:*")])
        self._allow("AuroraDescribeInstances", ["rds:DescribeDBInstances"], [arn("rds", "db:*")])
        self._allow(
            "State", ["ssm:GetParameter", "ssm:PutParameter"], [arn("ssm", f"parameter{TAGGED_STATE_PREFIX}/*")]
        )
        # Whether a per-cluster Autoscaler manages a cluster: its memory parameter exists (read only).
        self._allow("PerClusterState", ["ssm:GetParameters"], [arn("ssm", f"parameter{STATE_PARAMETER_PREFIX}/*")])
        findings = [
            "Resource::*",
            f"Resource::{nag('rds', 'cluster:*')}",
            f"Resource::{nag('rds', 'db:*')}",
            f"Resource::{nag('ssm', f'parameter{TAGGED_STATE_PREFIX}/*')}",
            f"Resource::{nag('ssm', f'parameter{STATE_PARAMETER_PREFIX}/*')}",
        ]
        if not self.dry_run:
            findings += self._grant_changes()
        workgroups = sorted({p.resume_workgroup for p in (self.policies or {}).values() if p.resume_catalog})
        if workgroups:
            self._allow(
                "AthenaSpend",
                ["athena:ListQueryExecutions", "athena:BatchGetQueryExecution", "athena:GetQueryExecution"],
                [arn("athena", f"workgroup/{w}") for w in workgroups],
            )
        reason = (
            "the clusters are found at run time by tag: changes are conditioned on the tag key being present "
            "(aws:ResourceTag), describes are read only; Aurora instances carry no cluster tag and are scoped "
            "by ARN; memory parameters live under one prefix; CloudWatch metrics have no resource type "
            f"(PutMetricData is limited to {DECISION_NAMESPACE} and {CHECKS_NAMESPACE} by condition)"
        )
        Validations.of(self).acknowledge(
            *[Acknowledgment(id=f"AwsSolutions-IAM5[{f}]", reason=reason) for f in findings]
        )

    def _grant_changes(self) -> list[str]:
        """Resize, pause, resume, stop, start and modify only clusters that carry the tag key; the
        Aurora instance actions on ``db:*``; the cdk-nag finding ids of the wildcards."""
        arn, nag = self._arns.arn, self._arns.nag
        tagged = {"Null": {f"aws:ResourceTag/{self.tag_key}": "false"}}
        self._allow("RedshiftTaggedClusters", _REDSHIFT_ACTIONS, [arn("redshift", "cluster:*")], tagged)
        self._allow("AuroraTaggedClusters", _AURORA_CLUSTER_ACTIONS, [arn("rds", "cluster:*")], tagged)
        self._allow(
            "AuroraInstances",
            ["rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance"],
            [arn("rds", "db:*")],
        )
        groups = [arn("rds", "subgrp:*"), arn("rds", "pg:default.*"), arn("rds", "og:default:*")]
        self._allow("AuroraInstanceGroups", ["rds:CreateDBInstance", "rds:ModifyDBInstance"], groups)
        return [
            f"Resource::{nag('redshift', 'cluster:*')}",
            f"Resource::{nag('rds', 'subgrp:*')}",
            f"Resource::{nag('rds', 'pg:default.*')}",
            f"Resource::{nag('rds', 'og:default:*')}",
        ]
