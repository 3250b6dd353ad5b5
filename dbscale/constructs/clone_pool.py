"""``ClonePoolMaintenance``: keeps full copies of an Aurora cluster ready for clones, on a schedule.

A Lambda function running ``dbscale.handlers.clone_pool.handler`` (the providers' asset, no
Docker), invoked by two EventBridge rules:

* the **schedule** (default nightly, 03:00 UTC): a full maintenance run, which deletes obsolete
  copies and starts new ones when the spare clone slots fall short;
* a **follow-up** rule (default every 10 minutes) that drives copies being made on to the next step
  (snapshot, restore, instance, tidy-up) and starts none, so a copy is ready within minutes of
  AWS finishing each step, while the snapshot load stays in the scheduled window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from dbscale.core.clones import copy_identifier_prefix, iso, validate_pool_settings
from dbscale.core.validation import validate_copy_age_hours, validate_flag

from ._function import handler_function
from ._support import checked, fail, is_token, unresolved
from .arns import StackArns
from .aurora import AuroraCluster
from .aurora_clone import age_hours, source_groups, source_name
from .providers import copy_grants

HANDLER = "dbscale.handlers.clone_pool.handler"

NIGHTLY = events.Schedule.cron(minute="0", hour="3")
"""The default schedule: every day at 03:00 UTC."""

_FIELDS = {"source_cluster_id": "source"}
_TEN_MINUTES = Duration.minutes(10)


class ClonePoolMaintenance(Construct):
    """Keeps ``min_spare_slots`` clone slots free for ``source`` with full copies (``docs/clones.md``).

    :param source: an ``AuroraCluster`` or the identifier of an existing Aurora cluster.
    :param min_spare_slots: clone slots to keep free (the source's plus those of fresh copies).
    :param max_copy_age: copies older than this (``Duration`` or ``timedelta``) no longer count
        and are deleted once they have no clones (a new one is made in their place when slots
        fall short). None: copies never expire.
    :param schedule: when full maintenance runs (new copies are started only then). Default
        ``NIGHTLY``, 03:00 UTC every day.
    :param dry_run: decide and log each run's decisions, change nothing. Default False.
    :param copy_created_since: copies must also be newer than this (ISO-8601 or datetime). Default
        None.
    :param max_clones_per_source: clone slots per source or copy. Default None: 15 (AWS's limit of
        copy-on-write clones).
    :param copy_instance_class: the class of each copy's one instance. Default: the source writer's.
    :param follow_up: how often to drive copies being made on between scheduled runs (1-60
        minutes), or None for no follow-up rule (then copies advance one step per scheduled run).
        Default 10 minutes.
    :param log_retention: how long the function's decisions are kept. Default three months.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source: AuroraCluster | str,
        min_spare_slots: int,
        max_copy_age: Duration | timedelta | None,
        schedule: events.Schedule = NIGHTLY,
        dry_run: bool = False,
        copy_created_since: datetime | str | None = None,
        max_clones_per_source: int | None = None,
        copy_instance_class: str | None = None,
        follow_up: Duration | None = _TEN_MINUTES,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, id)
        source_id, source_cluster = source_name(self, source)
        since = iso(copy_created_since) if isinstance(copy_created_since, datetime) else copy_created_since
        max_age_hours = age_hours(max_copy_age)
        if not unresolved(source_id, min_spare_slots, max_age_hours, since, max_clones_per_source):
            if max_age_hours is not None:  # bounded before it becomes a timedelta (which overflows)
                checked(self, validate_copy_age_hours, max_age_hours, field="max_copy_age")
            checked(
                self,
                validate_pool_settings,
                source_id,
                min_spare_slots=min_spare_slots,
                max_copy_age=None if max_age_hours is None else timedelta(hours=max_age_hours),
                copy_created_since=since,
                max_clones_per_source=max_clones_per_source,
                copy_instance_class=copy_instance_class,
                fields=_FIELDS,
            )
        follow_up_minutes = None if follow_up is None else follow_up.to_minutes(integral=False)
        if follow_up_minutes is not None and not unresolved(follow_up_minutes) and not 1 <= follow_up_minutes <= 60:
            raise fail(self, f"follow_up must be 1-60 minutes or None, got {follow_up_minutes:g}", field="follow_up")
        self.source_cluster_identifier = source_id
        self.dry_run = bool(checked(self, validate_flag, dry_run, field="dry_run"))

        stack = Stack.of(self)
        environment = {
            "SOURCE_CLUSTER_ID": source_id,
            "MIN_SPARE_SLOTS": str(min_spare_slots),
            "MAX_COPY_AGE_HOURS": "" if max_age_hours is None else f"{max_age_hours:g}",
            "COPY_CREATED_SINCE": since or "",
            "MAX_CLONES_PER_SOURCE": "" if max_clones_per_source is None else str(max_clones_per_source),
            "COPY_INSTANCE_CLASS": copy_instance_class or "",
            "DRY_RUN": "true" if self.dry_run else "false",
        }
        made = handler_function(
            self,
            handler=HANDLER,
            description=f"dbscale clone pool maintenance of {source_id}",
            # One run never waits for AWS: it looks, decides and polls each copy once.
            timeout=Duration.minutes(2),
            environment=environment,
            log_retention=log_retention,
            grant_logs=False,  # in the one policy document below
        )
        self.function, self.role, self.log_group = made.function, made.role, made.log_group
        self._rules(source_id, schedule, follow_up)
        self._grant(stack, source_id, source_cluster)

    def _rules(self, source_id: str, schedule: events.Schedule, follow_up: Duration | None) -> None:
        """The scheduled maintenance (:attr:`schedule`) and, unless ``follow_up`` is None, the rule that
        drives copies being made on (:attr:`follow_up`)."""
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"dbscale clone pool of {source_id}: maintenance",
            schedule=schedule,
            targets=[targets.LambdaFunction(self.function, max_event_age=Duration.hours(1), retry_attempts=2)],
        )
        self.follow_up: events.Rule | None = None
        if follow_up is not None:
            self.follow_up = events.Rule(
                self,
                "FollowUp",
                description=f"dbscale clone pool of {source_id}: drive copies being made on",
                schedule=events.Schedule.rate(follow_up),
                targets=[
                    targets.LambdaFunction(
                        self.function,
                        event=events.RuleTargetInput.from_object({"detail": {"StartCopies": False}}),
                        max_event_age=Duration.minutes(10),
                        retry_attempts=0,
                    )
                ],
            )

    def _grant(self, stack: Stack, source_id: str, source_cluster: AuroraCluster | None) -> None:
        arns = StackArns.of(stack)
        arn = arns.arn

        def nag(service: str, resource: str) -> str:
            return f"Resource::{arns.nag(service, resource)}"

        copies = copy_identifier_prefix(source_id) if not is_token(source_id) else f"{source_id}-copy-"
        groups, wild_groups = source_groups(arn, source_cluster)
        statements: list[dict[str, object]] = [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": self.log_group.log_group_arn,
            },
            {
                "Sid": "CountClones",
                "Effect": "Allow",
                "Action": ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
                "Resource": [arn("rds", "cluster:*"), arn("rds", "db:*")],
            },
            {
                "Sid": "ReadCopySnapshots",
                "Effect": "Allow",
                "Action": "rds:DescribeDBClusterSnapshots",
                "Resource": arn("rds", "cluster-snapshot:*"),
            },
        ]
        for sid, actions, resources, condition in copy_grants(arn, source=source_id, copies=copies, groups=groups):
            statement: dict[str, object] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
            if condition:
                statement["Condition"] = condition
            statements.append(statement)
        findings = [
            nag("rds", "cluster:*"),
            nag("rds", "db:*"),
            nag("rds", "cluster-snapshot:*"),
            nag("rds", f"cluster-snapshot:{copies}*"),
            nag("rds", f"cluster:{copies}*"),
            nag("rds", f"db:{copies}*"),
            nag("rds", "pg:default.*"),
            nag("rds", "og:default:*"),
            *(nag("rds", g.split(":", 5)[5]) for g in wild_groups),
        ]
        if source_cluster is None:
            findings.append(nag("kms", "key/*"))
        statements += key_statements(arns, source_cluster)
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements}),
        )
        reason = (
            "clones are counted by clone group, which takes describing every cluster and instance, and "
            "copies are found by listing the source's manual snapshots (read only); copies "
            "('<source>-copy-<time>'), their seed snapshots and instances are named at run time and each "
            "grant covers only names derived from the source's identifier; default groups are only "
            "referenced; a source given by name has groups and a key unknown at synth time (key use only "
            "via RDS)"
        )
        Validations.of(self).acknowledge(
            *[Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason) for finding in findings]
        )


def key_statements(arns: StackArns, source_cluster: AuroraCluster | None) -> list[dict[str, object]]:
    """RDS creates a grant on the source's key for each copy and describes the key: on the key of
    ``source_cluster``, or on any key used through RDS when the source is given by name. DescribeKey
    requests never carry kms:GrantIsForAWSResource, so it has a statement of its own."""
    via: dict[str, object] = {}
    if source_cluster is not None:
        key = source_cluster.encryption_key.key_arn
    else:
        key = arns.arn("kms", "key/*")
        via = {"StringEquals": {"kms:ViaService": f"rds.{arns.region}.amazonaws.com"}}
    grant: dict[str, object] = {
        "Sid": "KmsGrantForCopies",
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": key,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}, **via},
    }
    describe_key: dict[str, object] = {
        "Sid": "KmsDescribeKey",
        "Effect": "Allow",
        "Action": "kms:DescribeKey",
        "Resource": key,
    }
    if via:
        describe_key["Condition"] = via
    return [grant, describe_key]
