"""The custom resource providers: one Lambda function per resource type, shared by a stack's clusters.

A provider is the crhelper Lambda handler (``dbscale.handlers.<type>.handler``) with a role that
can do what the handler does and no more. Two ways to get one:

* ``RedshiftClusterProvider.of(scope)`` — the per-stack singleton every ``RedshiftCluster`` uses.
  Its role is scoped to exactly the clusters (and their keys, subnet groups, parameter groups)
  registered with it at synth time.
* ``RedshiftClusterProvider(scope, id, cluster_identifier_prefix="dbscale-")`` — a standalone
  provider for plain CloudFormation templates (see ``examples/raw-cloudformation.yaml``); its role
  is scoped to identifiers starting with the prefix, since the templates it serves are unknown here.

The function is not in a VPC: it only calls AWS APIs (Redshift, RDS, EventBridge, Lambda) over
their public endpoints and never connects to a database, so a VPC would add ENIs, NAT cost and
cold-start time for nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from aws_cdk import (
    Acknowledgment,
    Duration,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from dbscale.core.clones import copy_identifier_prefix
from dbscale.core.limits import CLUSTER_IDENTIFIER_MAX_LENGTH

from ._asset import staged_handler_code
from ._support import fail, is_token

P = TypeVar("P", bound="ClusterProvider")
T = TypeVar("T")

# crhelper polling: the handler names every EventBridge rule and Lambda permission statement it
# creates with this prefix, so the role can be limited to those rules.
POLL_PREFIX = "dbscale-poll-"


class _StackState:
    """What the providers and clusters of one stack share, so that node is asked once per stack.

    Every jsii call is a round trip to node (~0.3 ms). Kept here: the stack's environment, its
    singleton providers, and immutable jsii values (a Duration, a Runtime, a principal) that
    every provider or cluster of the stack would otherwise ask for again. Nothing is shared
    between stacks, let alone apps.
    """

    __slots__ = ("env", "providers", "stack", "values")

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.env: tuple[str, str, str] | None = None
        self.providers: dict[str, ClusterProvider] = {}
        self.values: dict[str, Any] = {}

    def value(self, name: str, make: Callable[[], T]) -> T:
        if name not in self.values:
            self.values[name] = make()
        return cast(T, self.values[name])


# Keyed like _CODE below (id of the stack, checked against the stored stack).
_STACKS: dict[int, _StackState] = {}


def _stack_state(stack: Stack) -> _StackState:
    state = _STACKS.get(id(stack))
    if state is None or state.stack is not stack:
        state = _STACKS[id(stack)] = _StackState(stack)
    return state


class ClusterProvider(Construct):
    """Base of the two providers: the function, its role, its log group and its polling policy.

    :param cluster_identifier_prefix: standalone providers only: the role may manage clusters whose
        identifier starts with this prefix (``""`` means any cluster in the account and region).
        Default None: the provider manages only the clusters registered with it by the constructs
        (the per-stack singleton from :meth:`of`).
    :param log_retention: how long the function's logs are kept. Default three months.
    :param memory_size: the function's memory in MiB. Default 256 (it only makes API calls).
    """

    resource_type: ClassVar[str]
    handler_name: ClassVar[str]
    singleton_id: ClassVar[str]
    service: ClassVar[str]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier_prefix: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, id)
        # Every jsii call is a round trip to node (~0.3 ms): values needed more than once are read
        # once, here or per stack, and kept.
        self._stack = scope if isinstance(scope, Stack) else Stack.of(self)
        self._state = state = _stack_state(self._stack)
        if id == self.singleton_id and scope is self._stack:
            state.providers.setdefault(id, self)  # found by of() without asking node
        if state.env is None:
            state.env = (self._stack.partition, self._stack.region, self._stack.account)
        self._partition, self._region, self._account = state.env
        self._statements: dict[str, iam.PolicyStatement] = {}
        self._nag_env: tuple[str, str] | None = None
        self._resources: dict[str, set[str]] = {}

        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention)
        # No AWSLambdaBasicExecutionRole: that managed policy may write to any log group; this
        # role writes only to its own.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=state.value("lambda-principal", lambda: iam.ServicePrincipal("lambda.amazonaws.com")),
            description=f"dbscale {self.resource_type} provider",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Handler",
            description=f"dbscale {self.resource_type} custom resource provider",
            runtime=state.value("runtime", lambda: lambda_.Runtime.PYTHON_3_14),
            architecture=state.value("architecture", lambda: lambda_.Architecture.ARM_64),
            handler=self.handler_name,
            code=_shared_code(self._stack),
            timeout=state.value("timeout", lambda: Duration.minutes(15)),
            memory_size=memory_size,
            role=self.role,
            log_group=self.log_group,
        )
        # Everything known now (the fixed grants, a standalone provider's prefix grants, crhelper's
        # polling grants) goes into one policy built from JSON in a single call; the grants the
        # clusters add later go to the role's default policy. The polling statements name the
        # function's own ARN, so they cannot sit in the default policy (the function depends on
        # it: a cycle); this policy depends on the function instead, and each custom resource
        # depends on this policy.
        self._function_arn = self.function.function_arn
        self._fixed: list[dict[str, Any]] | None = [
            {
                "Sid": "CrhelperPollingRules",
                "Effect": "Allow",
                "Action": ["events:PutRule", "events:PutTargets", "events:RemoveTargets", "events:DeleteRule"],
                "Resource": self._arn("events", f"rule/{POLL_PREFIX}*"),
            },
            {
                "Sid": "CrhelperPollingPermission",
                "Effect": "Allow",
                "Action": ["lambda:AddPermission", "lambda:RemovePermission"],
                "Resource": self._function_arn,
            },
        ]
        self._pending_acks: list[Acknowledgment] | None = []
        self._acknowledge(
            [f"Resource::{self._nag_arn('events', f'rule/{POLL_PREFIX}*')}"],
            "crhelper polling creates one EventBridge rule per in-flight request with a generated name; "
            f"the handler prefixes every such rule with '{POLL_PREFIX}' and the grant covers only those",
        )
        self._grant_fixed()
        if cluster_identifier_prefix is not None:
            check_provider_prefix(self, cluster_identifier_prefix)
            self._grant_prefix(cluster_identifier_prefix)
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": self._fixed}),
        )
        self._fixed = None
        self._validations = Validations.of(self)
        self._validations.acknowledge(*self._pending_acks)
        self._pending_acks = None

    # --- public ----------------------------------------------------------------------------

    @property
    def service_token(self) -> str:
        """The ServiceToken of ``Custom::...`` resources served by this provider (the function ARN)."""
        return self._function_arn

    def _stack_value(self, name: str, make: Callable[[], T]) -> T:
        """``make()``, made once per stack (for immutable jsii values such as a Duration)."""
        return self._state.value(name, make)

    @classmethod
    def of(cls: type[P], scope: IConstruct) -> P:
        """The provider of ``scope``'s stack, created on first use (one per resource type per stack)."""
        stack = scope if isinstance(scope, Stack) else Stack.of(scope)
        found = _stack_state(stack).providers.get(cls.singleton_id)
        if isinstance(found, cls):
            return found
        if found is None:
            # First use in this stack, unless the provider was made where this registry did not
            # see it (a stack object jsii handed out under another Python identity): then the id
            # is taken, and the existing construct is looked up as before.
            try:
                return cls(stack, cls.singleton_id)
            except RuntimeError as err:
                if "There is already a Construct with name" not in str(err):
                    raise
        return cast(P, stack.node.find_child(cls.singleton_id))

    # --- for the cluster constructs -------------------------------------------------------

    def register(
        self,
        resource: IConstruct,
        identifier: str,
        *,
        key: kms.IKey,
        subnet_group_name: str,
        parameter_group_name: str | None = None,
    ) -> None:
        """Let the role manage cluster ``identifier`` and make ``resource`` wait for the role's policies."""
        self._register(
            resource,
            identifier,
            key_arn=key.key_arn,
            subnet_group_name=subnet_group_name,
            parameter_group_name=parameter_group_name,
            same_stack=Stack.of(resource) is self._stack,
        )

    def _register(
        self,
        resource: IConstruct,
        identifier: str,
        *,
        key_arn: str,
        subnet_group_name: str,
        parameter_group_name: str | None,
        same_stack: bool,
    ) -> None:
        """:meth:`register` for callers that already hold the key's ARN and know the resource's stack.

        The cluster constructs use it (their resource is always in this provider's stack, since
        they get the provider with :meth:`of`), saving the two round trips to node that
        :meth:`register` makes to find them out.
        """
        self._grant_cluster(identifier, subnet_group_name=subnet_group_name, parameter_group_name=parameter_group_name)
        self._grant_key(key_arn, via_service=False)
        if same_stack:
            resource.node.add_dependency(self.policy)

    # --- for subclasses -------------------------------------------------------------------

    def _grant_fixed(self) -> None:
        """Grants every provider of the type needs."""
        raise NotImplementedError

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        raise NotImplementedError

    def _grant_prefix(self, prefix: str) -> None:
        raise NotImplementedError

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{self._partition}:{service}:{self._region}:{self._account}:{resource}"

    def _allow(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        conditions: dict[str, Any] | None = None,
    ) -> None:
        """Add ``resources`` to statement ``sid`` (created with ``actions`` on first use).

        While the provider is being built, statements go into :attr:`policy` (rendered from JSON in
        one call); afterwards into the role's default policy, two round trips to node for a new
        statement and one for resources added to an existing one. Callable at any time before
        synthesis, also by subclasses registering grants of their own after construction.
        """
        if self._fixed is not None:
            statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
            if conditions:
                statement["Condition"] = conditions
            self._fixed.append(statement)
            return
        seen = self._resources.setdefault(sid, set())
        fresh = [r for r in resources if r not in seen]
        if not fresh:
            return
        seen.update(fresh)
        existing = self._statements.get(sid)
        if existing is None:
            existing = iam.PolicyStatement(sid=sid, actions=actions, resources=fresh, conditions=conditions)
            self._statements[sid] = existing
            # add_to_policy, not add_to_principal_policy: the same call in CDK, but it answers a
            # bool instead of a struct that jsii reads back field by field (two more round trips).
            self.role.add_to_policy(existing)
        else:
            existing.add_resources(*fresh)

    def _grant_key(self, key_arn: str, *, via_service: bool) -> None:
        """Let the service create grants on the cluster's KMS key for the cluster (and only for it)."""
        service_host = f"{self.service}.{self._region}.amazonaws.com"
        via = {"StringEquals": {"kms:ViaService": service_host}} if via_service else {}
        self._allow(
            "KmsGrantForCluster",
            ["kms:CreateGrant"],
            [key_arn],
            {"Bool": {"kms:GrantIsForAWSResource": "true"}, **via},
        )
        self._allow("KmsDescribeKey", ["kms:DescribeKey"], [key_arn], via or None)

    def _grant_service_linked_role(self, service_principal: str, role_name: str) -> None:
        # The service creates its service-linked role on an account's first cluster; it needs the
        # caller to be allowed to, and only that exact role.
        self._allow(
            "CreateServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [f"arn:{self._partition}:iam::{self._account}:role/aws-service-role/{service_principal}/{role_name}"],
            {"StringLike": {"iam:AWSServiceName": service_principal}},
        )

    def _acknowledge(self, findings: list[str], reason: str) -> None:
        """Acknowledge cdk-nag IAM5 (wildcard) findings on this provider, with the reason, in code.

        Uses CDK's native ``Validations`` API, so dbscale needs no cdk-nag at run time; the
        acknowledgment covers the role's default policy and the provider's policy below it.
        """
        acks = [Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason) for finding in findings]
        if self._pending_acks is not None:
            self._pending_acks.extend(acks)  # sent in one call at the end of __init__
        else:
            self._validations.acknowledge(*acks)

    def _nag_arn(self, service: str, resource: str) -> str:
        """An ARN as cdk-nag prints it in a finding id (pseudo parameters as ``<AWS::...>``)."""
        if self._nag_env is None:
            self._nag_env = (
                "<AWS::Region>" if _token(self._region) else self._region,
                "<AWS::AccountId>" if _token(self._account) else self._account,
            )
        region, account = self._nag_env
        return f"arn:<AWS::Partition>:{service}:{region}:{account}:{resource}"

    def _instance_prefix(self, identifier: str) -> str:
        """Instance identifiers of a cluster start with this (see ``core.aurora.instance_identifier``)."""
        if _token(identifier) or len(identifier) <= CLUSTER_IDENTIFIER_MAX_LENGTH - 4:
            return f"{identifier}-"
        # A long cluster name is shortened so '-<n>' fits in 63 characters.
        return identifier[: CLUSTER_IDENTIFIER_MAX_LENGTH - 4]


_CODE: dict[int, tuple[Stack, lambda_.Code]] = {}


def _shared_code(stack: Stack) -> lambda_.Code:
    """One asset per stack for both providers (an AssetCode binds to a single stack).

    Keyed by the stack object itself (ids are checked against the stored stack, since Python may
    reuse the id of a collected one); the cache lives only as long as the process.
    """
    entry = _CODE.get(id(stack))
    if entry is None or entry[0] is not stack:
        entry = _CODE[id(stack)] = (stack, lambda_.Code.from_asset(staged_handler_code()))
    return entry[1]


def _token(value: str) -> bool:
    return is_token(value)


class RedshiftClusterProvider(ClusterProvider):
    """The provider of ``Custom::RedshiftCluster`` (handler ``dbscale.handlers.redshift_cluster.handler``)."""

    resource_type = "Custom::RedshiftCluster"
    handler_name = "dbscale.handlers.redshift_cluster.handler"
    singleton_id = "DbscaleRedshiftClusterProvider"
    service = "redshift"

    _CLUSTER_ACTIONS: ClassVar[list[str]] = [
        "redshift:CreateCluster",
        "redshift:DescribeClusters",
        "redshift:ModifyCluster",
        "redshift:ResizeCluster",
        "redshift:DescribeResize",
        "redshift:PauseCluster",
        "redshift:ResumeCluster",
        "redshift:DeleteCluster",
        "redshift:CreateTags",
        "redshift:DeleteTags",
    ]
    # DeleteCluster with a final snapshot also authorizes CreateClusterSnapshot on the snapshot.
    _SNAPSHOT_ACTIONS: ClassVar[list[str]] = ["redshift:CreateClusterSnapshot", "redshift:CreateTags"]

    def _grant_fixed(self) -> None:
        # ManageMasterPassword: Redshift creates the admin secret ('redshift!...') as the caller.
        self._allow(
            "ManagedAdminSecret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:DeleteSecret",
            ],
            [self._arn("secretsmanager", "secret:redshift!*")],
        )
        # GetRandomPassword and DescribeTags have no resource type in IAM: '*' is the only form.
        self._allow("NoResourceLevelActions", ["secretsmanager:GetRandomPassword", "redshift:DescribeTags"], ["*"])
        self._grant_service_linked_role("redshift.amazonaws.com", "AWSServiceRoleForRedshift")
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('secretsmanager', 'secret:redshift!*')}",
                "Resource::*",
            ],
            "the admin secret is created by Redshift with a generated name under the 'redshift!' prefix "
            "(ManageMasterPassword); secretsmanager:GetRandomPassword and redshift:DescribeTags support "
            "no resource-level permissions",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        self._allow("Clusters", self._CLUSTER_ACTIONS, [self._arn("redshift", f"cluster:{identifier}")])
        self._allow(
            "FinalSnapshots",
            self._SNAPSHOT_ACTIONS,
            [self._arn("redshift", f"snapshot:{identifier}/*")],
        )
        self._acknowledge(
            [f"Resource::{self._nag_arn('redshift', f'snapshot:{identifier}/*')}"],
            "final snapshots are named at deletion time; the grant covers only snapshots of this cluster",
        )

    def _grant_prefix(self, prefix: str) -> None:
        self._allow("Clusters", self._CLUSTER_ACTIONS, [self._arn("redshift", f"cluster:{prefix}*")])
        self._allow("FinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("redshift", f"snapshot:{prefix}*/*")])
        # Keys of templates this provider serves are unknown here: any key, but only through
        # Redshift and only for grants to Redshift itself.
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('redshift', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('redshift', f'snapshot:{prefix}*/*')}",
                f"Resource::{self._nag_arn('kms', 'key/*')}",
            ],
            f"a standalone provider serves templates unknown at synth time: clusters are limited to the "
            f"'{prefix}' identifier prefix, keys to use through Redshift for Redshift grants",
        )


class _RdsProvider(ClusterProvider):
    """What the Aurora providers share: RDS's managed master user secret and service-linked role,
    and the actions on a cluster, its instances and its final snapshots once it exists."""

    service = "rds"

    _MANAGE_ACTIONS: ClassVar[list[str]] = [
        "rds:ModifyDBCluster",
        "rds:FailoverDBCluster",
        "rds:StartDBCluster",
        "rds:DeleteDBCluster",
        "rds:CreateDBInstance",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:ListTagsForResource",
    ]
    _INSTANCE_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
        "rds:DescribeDBInstances",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:ListTagsForResource",
    ]
    # DeleteDBCluster with a final snapshot authorizes on the snapshot too; CopyTagsToSnapshot tags it.
    _SNAPSHOT_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBClusterSnapshot",
        "rds:DeleteDBCluster",
        "rds:AddTagsToResource",
    ]

    def _grant_rds_common(self, findings: list[str], reason: str) -> None:
        """The managed-secret and service-linked-role grants; ``findings``/``reason``: the caller's
        own wildcards, acknowledged together with these."""
        self._allow(
            "ManagedMasterUserSecret",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:DeleteSecret",
            ],
            [self._arn("secretsmanager", "secret:rds!*")],
        )
        self._allow("NoResourceLevelActions", ["secretsmanager:GetRandomPassword"], ["*"])
        self._grant_service_linked_role("rds.amazonaws.com", "AWSServiceRoleForRDS")
        self._acknowledge(
            [f"Resource::{self._nag_arn('secretsmanager', 'secret:rds!*')}", *findings, "Resource::*"],
            "the master user secret is created by RDS under the 'rds!' prefix with a generated name; "
            f"secretsmanager:GetRandomPassword supports no resource-level permissions; {reason}",
        )


class AuroraClusterProvider(_RdsProvider):
    """The provider of ``Custom::AuroraCluster`` (handler ``dbscale.handlers.aurora_cluster.handler``)."""

    resource_type = "Custom::AuroraCluster"
    handler_name = "dbscale.handlers.aurora_cluster.handler"
    singleton_id = "DbscaleAuroraClusterProvider"

    _CLUSTER_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBCluster",
        "rds:DescribeDBClusters",
        "rds:StopDBCluster",
        "rds:EnableHttpEndpoint",
        "rds:DisableHttpEndpoint",
        *_RdsProvider._MANAGE_ACTIONS,
    ]
    # Creating or modifying a cluster or instance also authorizes on the groups it names.
    _REFERENCE_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBCluster",
        "rds:ModifyDBCluster",
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
    ]

    def _grant_fixed(self) -> None:
        # The handler lists a cluster's instances with a db-cluster-id filter, which IAM
        # authorizes against 'db:*' (read only).
        self._allow("DescribeInstancesByCluster", ["rds:DescribeDBInstances"], [self._arn("rds", "db:*")])
        # Instances use the engine's default DB parameter and option groups (read-only references).
        self._allow(
            "DefaultGroups",
            self._REFERENCE_ACTIONS,
            [
                self._arn("rds", "pg:default.*"),
                self._arn("rds", "og:default:*"),
                self._arn("rds", "cluster-pg:default.*"),
            ],
        )
        self._grant_rds_common(
            [
                f"Resource::{self._nag_arn('rds', 'db:*')}",
                f"Resource::{self._nag_arn('rds', 'pg:default.*')}",
                f"Resource::{self._nag_arn('rds', 'og:default:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-pg:default.*')}",
            ],
            "DescribeDBInstances with a cluster filter is authorized on 'db:*' (read only); the engine's "
            "default parameter and option groups are only referenced, never changed",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        instances = self._instance_prefix(identifier)
        self._allow("Clusters", self._CLUSTER_ACTIONS, [self._arn("rds", f"cluster:{identifier}")])
        self._allow("Instances", self._INSTANCE_ACTIONS, [self._arn("rds", f"db:{instances}*")])
        self._allow("FinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{identifier}*")])
        groups = [self._arn("rds", f"subgrp:{subnet_group_name}")]
        if parameter_group_name is not None:
            groups.append(self._arn("rds", f"cluster-pg:{parameter_group_name}"))
        self._allow("ClusterGroups", self._REFERENCE_ACTIONS, groups)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('rds', f'db:{instances}*')}",
                f"Resource::{self._nag_arn('rds', f'cluster-snapshot:{identifier}*')}",
            ],
            "instances ('<cluster>-<n>') and final snapshots are named by the handler at run time; the "
            "grant covers only names derived from this cluster's identifier",
        )

    def _grant_prefix(self, prefix: str) -> None:
        self._allow("Clusters", self._CLUSTER_ACTIONS, [self._arn("rds", f"cluster:{prefix}*")])
        self._allow("Instances", self._INSTANCE_ACTIONS, [self._arn("rds", f"db:{prefix}*")])
        self._allow("FinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{prefix}*")])
        # Templates name their own subnet and cluster parameter groups: referenced, never changed.
        self._allow(
            "ClusterGroups",
            self._REFERENCE_ACTIONS,
            [self._arn("rds", "subgrp:*"), self._arn("rds", "cluster-pg:*")],
        )
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('rds', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('rds', f'db:{prefix}*')}",
                f"Resource::{self._nag_arn('rds', f'cluster-snapshot:{prefix}*')}",
                f"Resource::{self._nag_arn('rds', 'subgrp:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-pg:*')}",
                f"Resource::{self._nag_arn('kms', 'key/*')}",
            ],
            f"a standalone provider serves templates unknown at synth time: clusters, instances and "
            f"snapshots are limited to the '{prefix}' identifier prefix; subnet and parameter groups are "
            "only referenced; keys are usable only through RDS for RDS grants",
        )


Grant = tuple[str, list[str], list[str]]  # statement id, actions, resource ARNs

# Instances use the engine's default DB parameter and option groups (only referenced).
DEFAULT_INSTANCE_GROUPS = ("pg:default.*", "og:default:*")


def copy_grants(arn: Callable[[str, str], str], *, source: str, copies: str, groups: list[str]) -> list[Grant]:
    """What making, and deleting, full copies of ``source`` takes in IAM.

    ``source`` is the source's identifier (or a pattern), ``copies`` what every copy's identifier
    starts with (:func:`dbscale.core.clones.copy_identifier_prefix`), ``groups`` the ARNs of the
    subnet and cluster parameter groups the copies are restored into (the source's).
    A copy is a snapshot of the source (``<copy>-seed``), restored, given one instance
    (``<copy>-1``); the seed is deleted once the copy is ready, the copy when it is obsolete.
    """
    return [
        (
            "CopySources",
            ["rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"],
            [arn("rds", f"cluster:{source}")],
        ),
        (
            "CopySeedSnapshots",
            [
                "rds:CreateDBClusterSnapshot",
                "rds:DescribeDBClusterSnapshots",
                "rds:RestoreDBClusterFromSnapshot",
                "rds:DeleteDBClusterSnapshot",
                "rds:AddTagsToResource",
            ],
            [arn("rds", f"cluster-snapshot:{copies}*")],
        ),
        (
            "Copies",
            [
                "rds:RestoreDBClusterFromSnapshot",
                "rds:CreateDBInstance",
                "rds:DeleteDBCluster",
                "rds:AddTagsToResource",
            ],
            [arn("rds", f"cluster:{copies}*")],
        ),
        (
            "CopyInstances",
            ["rds:CreateDBInstance", "rds:DeleteDBInstance", "rds:AddTagsToResource"],
            [arn("rds", f"db:{copies}*")],
        ),
        (
            "CopyGroups",
            ["rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance"],
            [*groups, *(arn("rds", g) for g in DEFAULT_INSTANCE_GROUPS)],
        ),
    ]


class AuroraCloneProvider(_RdsProvider):
    """The provider of ``Custom::AuroraClone`` (handler ``dbscale.handlers.aurora_clone.handler``).

    The per-stack singleton (``AuroraCloneProvider.of(scope)``) may clone only the sources of the
    ``AuroraClone`` constructs registered with it, into their clone names, and make and delete only
    those sources' copies. A standalone provider (``cluster_identifier_prefix``) may clone sources
    whose identifiers start with ``source_identifier_prefix`` (default: the same prefix) into
    clones whose identifiers start with ``cluster_identifier_prefix``.
    """

    resource_type = "Custom::AuroraClone"
    handler_name = "dbscale.handlers.aurora_clone.handler"
    singleton_id = "DbscaleAuroraCloneProvider"

    _CLONE_ACTIONS: ClassVar[list[str]] = ["rds:RestoreDBClusterToPointInTime", *_RdsProvider._MANAGE_ACTIONS]
    # A clone of the source or of a copy: RestoreDBClusterToPointInTime authorizes on both clusters.
    _ORIGIN_ACTIONS: ClassVar[list[str]] = ["rds:RestoreDBClusterToPointInTime"]
    _GROUP_ACTIONS: ClassVar[list[str]] = [
        "rds:RestoreDBClusterToPointInTime",
        "rds:ModifyDBCluster",
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
    ]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier_prefix: str | None = None,
        source_identifier_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Read by _grant_prefix, which the base class calls from its __init__.
        self._source_prefix_given = source_identifier_prefix
        super().__init__(scope, id, cluster_identifier_prefix=cluster_identifier_prefix, **kwargs)

    def _grant_fixed(self) -> None:
        # Clones are counted by clone group across every cluster of the account and region.
        self._allow(
            "CountClones",
            ["rds:DescribeDBClusters", "rds:DescribeDBInstances"],
            [self._arn("rds", "cluster:*"), self._arn("rds", "db:*")],
        )
        self._allow("ReadCopySnapshots", ["rds:DescribeDBClusterSnapshots"], [self._arn("rds", "cluster-snapshot:*")])
        self._grant_rds_common(
            [
                f"Resource::{self._nag_arn('rds', 'cluster:*')}",
                f"Resource::{self._nag_arn('rds', 'db:*')}",
                f"Resource::{self._nag_arn('rds', 'cluster-snapshot:*')}",
            ],
            "clones are counted by clone group, which takes describing every cluster and instance, and a "
            "source's copies are found by listing its manual snapshots (all read only)",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        raise NotImplementedError("AuroraCloneProvider registers clones with register_clone()")

    def register_clone(
        self,
        resource: IConstruct,
        clone_identifier: str,
        *,
        source: str,
        groups: list[str],
        wildcard_groups: list[str],
        key_arn: str | None,
    ) -> None:
        """Let the role make clone ``clone_identifier`` of ``source`` (and copies of ``source``).

        ``groups``: ARNs of the subnet and cluster parameter groups the source (hence its clones
        and copies) uses, ``wildcard_groups`` the ones among them that are patterns; ``key_arn``:
        the source's storage key, None when unknown (then any key, only via RDS for RDS grants).
        """
        copies = copy_identifier_prefix(source) if not is_token(source) else f"{source}-copy-"
        self._grant_scope(
            sources=[source],
            copies=copies,
            clone=clone_identifier,
            instances=self._instance_prefix(clone_identifier),
            groups=groups,
        )
        findings = [
            self._nag_arn("rds", f"cluster-snapshot:{copies}*"),
            self._nag_arn("rds", f"cluster:{copies}*"),
            self._nag_arn("rds", f"db:{copies}*"),
            self._nag_arn("rds", f"db:{self._instance_prefix(clone_identifier)}*"),
            self._nag_arn("rds", f"cluster-snapshot:{clone_identifier}*"),
            *(self._nag_arn("rds", g) for g in DEFAULT_INSTANCE_GROUPS),
            *(self._nag_arn("rds", g.split(":", 5)[5]) for g in wildcard_groups),
        ]
        if key_arn is not None:
            self._grant_key(key_arn, via_service=False)
        else:
            self._grant_key(self._arn("kms", "key/*"), via_service=True)
            findings.append(self._nag_arn("kms", "key/*"))
        self._acknowledge(
            [f"Resource::{f}" for f in findings],
            "copies ('<source>-copy-<time>'), their seed snapshots, instances ('<cluster>-<n>') and final "
            "snapshots are named by the handler at run time: each grant covers only names derived from this "
            "clone's or its source's identifier; default groups are only referenced; a source given by name "
            "has subnet groups, parameter groups and keys unknown at synth time (keys only via RDS for RDS)",
        )
        if Stack.of(resource) is self._stack:
            resource.node.add_dependency(self.policy)

    def _grant_prefix(self, prefix: str) -> None:
        sources = self._source_prefix_given if self._source_prefix_given is not None else prefix
        groups = [self._arn("rds", "subgrp:*"), self._arn("rds", "cluster-pg:*")]
        self._grant_scope(sources=[f"{sources}*"], copies=sources, clone=f"{prefix}*", instances=prefix, groups=groups)
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        patterns = {
            f"cluster:{sources}*",
            f"cluster:{prefix}*",
            f"db:{sources}*",
            f"db:{prefix}*",
            f"cluster-snapshot:{sources}*",
            f"cluster-snapshot:{prefix}*",
            "subgrp:*",
            "cluster-pg:*",
            *DEFAULT_INSTANCE_GROUPS,
        }
        self._acknowledge(
            [f"Resource::{self._nag_arn('rds', p)}" for p in sorted(patterns)]
            + [f"Resource::{self._nag_arn('kms', 'key/*')}"],
            f"a standalone provider serves templates unknown at synth time: sources and their copies are "
            f"limited to the '{sources}' identifier prefix, clones to '{prefix}'; subnet, parameter and default "
            "groups are only referenced; keys are usable only through RDS for RDS grants",
        )

    def _grant_scope(self, *, sources: list[str], copies: str, clone: str, instances: str, groups: list[str]) -> None:
        """Grants to clone ``sources`` (or their copies) into ``clone`` and to manage the clone."""
        for sid, actions, resources in copy_grants(self._arn, source=sources[0], copies=copies, groups=groups):
            self._allow(sid, actions, resources)
        self._allow(
            "CloneOrigins",
            self._ORIGIN_ACTIONS,
            [*(self._arn("rds", f"cluster:{s}") for s in sources), self._arn("rds", f"cluster:{copies}*")],
        )
        self._allow("Clones", self._CLONE_ACTIONS, [self._arn("rds", f"cluster:{clone}")])
        self._allow("CloneInstances", self._INSTANCE_ACTIONS, [self._arn("rds", f"db:{instances}*")])
        final = clone if clone.endswith("*") else f"{clone}*"
        self._allow("CloneFinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("rds", f"cluster-snapshot:{final}")])
        self._allow("CloneGroups", self._GROUP_ACTIONS, groups)


def check_provider_prefix(scope: IConstruct, prefix: str) -> None:
    """Reject a prefix no cluster identifier could start with (upper case, symbols)."""
    if prefix and (not prefix[0].isalpha() or prefix.lower() != prefix or "--" in prefix):
        raise fail(scope, f"cluster_identifier_prefix '{prefix}' cannot start a cluster identifier")


class DatabaseBootstrapProvider(ClusterProvider):
    """The provider of ``Custom::DatabaseBootstrap`` (handler ``dbscale.handlers.database_bootstrap.handler``).

    Not in a VPC: it reaches the databases through the RDS Data API and the Redshift Data API. Its
    role may run statements on the clusters of the bootstraps registered with it and read their
    master secrets and users' secrets, nothing else.
    """

    resource_type = "Custom::DatabaseBootstrap"
    handler_name = "dbscale.handlers.database_bootstrap.handler"
    singleton_id = "DbscaleDatabaseBootstrapProvider"
    service = "rds"

    def _grant_fixed(self) -> None:
        """Nothing: every grant names a registered cluster or secret."""

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        raise NotImplementedError("DatabaseBootstrapProvider registers bootstraps with grant_bootstrap()")

    def _grant_prefix(self, prefix: str) -> None:
        raise NotImplementedError("DatabaseBootstrapProvider serves only the bootstraps of its stack")

    def grant_bootstrap(
        self,
        resource: IConstruct,
        *,
        cluster_arn: str | None,
        redshift_cluster: str | None,
        secret_arns: list[str],
    ) -> None:
        """Let the role run SQL on one cluster with ``secret_arns``; ``resource`` waits for the grant."""
        if cluster_arn is not None:
            self._allow("RdsDataApi", ["rds-data:ExecuteStatement"], [cluster_arn])
        if redshift_cluster is not None:
            cluster = self._arn("redshift", f"cluster:{redshift_cluster}")
            self._allow("RedshiftDataApi", ["redshift-data:ExecuteStatement"], [cluster])
            # Statement ids are the caller's own: these actions have no resource type in IAM.
            self._allow(
                "RedshiftDataApiStatements",
                [
                    "redshift-data:DescribeStatement",
                    "redshift-data:GetStatementResult",
                    "redshift-data:CancelStatement",
                ],
                ["*"],
            )
            self._acknowledge(
                ["Resource::*"],
                "redshift-data DescribeStatement, GetStatementResult and CancelStatement support no resource-level "
                "permissions; they only ever reach the statements this role ran",
            )
        # The Data APIs read the secret as the caller.
        self._allow("DatabaseSecrets", ["secretsmanager:GetSecretValue"], secret_arns)
        resource.node.add_dependency(self.role)
        resource.node.add_dependency(self.policy)
