"""What every provider shares: the function, its role, its log group, the state machine of its long
operations (and the grants to run it), the per-stack registry behind ``of()`` and the one code
asset per stack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from dbscale.cfn.workflow import STATE_MACHINE_SUFFIX
from dbscale.core.guardrails import GUARDRAILS_ENV, Guardrails
from dbscale.deploy.template import prefix_problem

from .._support import fail
from ..arns import StackArns
from .grants import RoleGrants
from .operations import operations_state_machine, operations_statements
from .stack_state import shared_code, stack_state

P = TypeVar("P", bound="ClusterProvider")
T = TypeVar("T")

# What the caller of a create with an AWS-managed master password (Redshift ManageMasterPassword,
# RDS ManageMasterUserPassword) must be allowed on the secret the service creates in its name, as
# AWS documents for the Secrets Manager integration (plus secretsmanager:GetRandomPassword on '*').
MANAGED_SECRET_ACTIONS = [
    "secretsmanager:CreateSecret",
    "secretsmanager:TagResource",
    "secretsmanager:DescribeSecret",
    "secretsmanager:UpdateSecret",
    "secretsmanager:RotateSecret",
    "secretsmanager:DeleteSecret",
]


class ClusterProvider(Construct):
    """Base of the providers: the function, its role, its log group and the state machine of its long operations.

    A request that needs more than its first invocation (a resize, a restore, a wait for a cluster
    to become available) runs as one Standard execution of :attr:`state_machine`, which invokes this
    same function to check on it until it ends (``dbscale.cfn.workflow``). The function finds
    its machine by name (``<function name>-operations``), so neither needs the other's ARN.

    :param cluster_identifier_prefix: standalone providers only: the role may manage clusters whose
        identifier starts with this prefix (``""`` means any cluster in the account and region).
        Default None: the provider manages only the clusters registered with it by the constructs
        (the per-stack singleton from :meth:`of`).
    :param log_retention: how long the function's logs, and its state machine's, are kept. Default
        three months.
    :param memory_size: the function's memory in MiB. Default 256 (it only makes API calls).
    :param guardrails: the insecure settings this provider accepts from templates (unencrypted
        storage, public access, TLS off, adoption of existing clusters by identifier prefix).
        Default ``Guardrails()``: all refused, with a FAILED response naming the property. The
        cluster constructs widen their stack's provider for what they are explicitly given
        (e.g. ``adopt_existing=True`` allows adopting exactly that identifier).
    """

    resource_type: ClassVar[str]
    handler_name: ClassVar[str]
    singleton_id: ClassVar[str]
    service: ClassVar[str]

    log_group: logs.LogGroup
    """The function's log group (``log_retention``; retained when the stack is deleted)."""
    role: iam.Role
    """The function's role: its fixed grants are in :attr:`policy`, the clusters' in the default policy."""
    function: lambda_.Function
    """The provider function: Python 3.14, arm64, 15-minute timeout, ``memory_size`` MiB, not in a VPC."""
    state_machine: sfn.StateMachine
    """The function's long operations: a Standard state machine named ``<function name>-operations``,
    one execution per request that outlasts its first invocation (``dbscale.cfn.workflow``
    holds its definition). Its role may only invoke this function and deliver its logs. It logs
    every event (level ALL) to :attr:`operations_log_group` without execution data: an execution's
    input holds CloudFormation's presigned ResponseURL until the request is answered. No X-Ray
    tracing (the function is not traced either; enabling it would add ``xray:Put*`` on ``*``).
    Its metrics (``state_machine.metric_failed()``, ``metric_aborted()``, ...) count operations."""
    operations_log_group: logs.LogGroup
    """The state machine's log group, ``/aws/vendedlogs/states/<function name>-operations``
    (``log_retention``; retained when the stack is deleted)."""
    policy: iam.Policy
    """The function role's fixed grants (the state machine's among them); every custom resource of
    the provider depends on it, and it depends on the state machine, so no request comes before
    the machine that may run it."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier_prefix: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        memory_size: int = 256,
        guardrails: Guardrails | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._guardrails = guardrails or Guardrails()
        # Every jsii call is a round trip to node (~0.3 ms): values needed more than once are read
        # once, here or per stack, and kept.
        self._stack = scope if isinstance(scope, Stack) else Stack.of(self)
        self._state = state = stack_state(self._stack)
        if id == self.singleton_id and scope is self._stack:
            state.providers.setdefault(id, self)  # found by of() without asking node
        if state.env is None:
            state.env = (self._stack.partition, self._stack.region, self._stack.account)
        self._partition, self._region, self._account = state.env
        self._arns = StackArns(*state.env)
        self._make_function(log_retention, memory_size)
        # Everything known now (the fixed grants, a standalone provider's prefix grants, the grants
        # that run the long operations) goes into one policy built from JSON in a single call; the
        # grants the clusters add later go to the role's default policy. The state machine invokes
        # the function (its definition names the function's ARN), so the grants to run it cannot sit
        # in the default policy (the function depends on it: a cycle); this policy depends on the
        # function and the machine instead, and each custom resource depends on this policy.
        # The "Operations" statement's Ref to the state machine makes this policy wait for it, and the
        # machine waits for its role and the role's policy (the grant to invoke the function): once a
        # custom resource can send a request, an execution started for it can run. (An explicit
        # dependency on top would only be one cfn-lint calls obsolete, W3005.)
        self._function_arn = self.function.function_arn
        function_name = self.function.function_name
        machine_name = f"{function_name}{STATE_MACHINE_SUFFIX}"  # workflow.state_machine_name, with tokens
        self.state_machine, self.operations_log_group = operations_state_machine(
            self, machine_name, self._function_arn, partition=self._partition, log_retention=log_retention
        )
        executions = self._arn("states", f"execution:{machine_name}:*")
        self._grants = RoleGrants(self.role, operations_statements(self.state_machine.state_machine_arn, executions))
        function_id = self._stack.get_logical_id(cast(CfnElement, self.function.node.default_child))
        self._acknowledge(
            [f"Resource::{self._nag_arn('states', f'execution:<{function_id}>{STATE_MACHINE_SUFFIX}:*')}"],
            "execution names are made by the handler per request (a hash of the stack, resource and request); "
            "the grant covers only executions of this provider's own state machine",
        )
        self._grant_fixed()
        if cluster_identifier_prefix is not None:
            check_provider_prefix(self, cluster_identifier_prefix)
            self._grant_prefix(cluster_identifier_prefix)
        self.policy = self._grants.close(self)

    def _make_function(self, log_retention: logs.RetentionDays, memory_size: int) -> None:
        """The function, its role and its log group (:attr:`function`, :attr:`role`, :attr:`log_group`)."""
        state = self._state
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
            code=shared_code(self._stack),
            timeout=state.value("timeout", lambda: Duration.minutes(15)),
            memory_size=memory_size,
            # CloudFormation invokes the function asynchronously; Lambda would retry a delivery whose
            # invocation timed out or crashed, as a newest request that acts again. The runtime
            # answers every delivery itself (its watchdog included), so a retry is never wanted.
            retry_attempts=0,
            role=self.role,
            log_group=self.log_group,
            environment={GUARDRAILS_ENV: self._guardrails.to_json()},
        )

    # --- public ----------------------------------------------------------------------------

    @property
    def service_token(self) -> str:
        """The ServiceToken of ``Custom::...`` resources served by this provider (the function ARN)."""
        return self._function_arn

    def metric_operations_failed(self, **props: Any) -> cloudwatch.Metric:
        """Long operations that ended FAILED (the state machine's ``ExecutionsFailed``; sum over 5 minutes)."""
        return self.state_machine.metric_failed(**props)

    def metric_operations_started(self, **props: Any) -> cloudwatch.Metric:
        """Long operations started (the state machine's ``ExecutionsStarted``; sum over 5 minutes)."""
        return self.state_machine.metric_started(**props)

    @property
    def guardrails(self) -> Guardrails:
        """What this provider accepts beyond the secure defaults (see :class:`Guardrails`)."""
        return self._guardrails

    def allow(self, guardrails: Guardrails) -> None:
        """Widen this provider's guardrails to also accept what ``guardrails`` allows."""
        widened = self._guardrails.widened(guardrails)
        if widened != self._guardrails:
            self._guardrails = widened
            self.function.add_environment(GUARDRAILS_ENV, widened.to_json())

    def _stack_value(self, name: str, make: Callable[[], T]) -> T:
        """``make()``, made once per stack (for immutable jsii values such as a Duration)."""
        return self._state.value(name, make)

    @classmethod
    def of(cls: type[P], scope: IConstruct) -> P:
        """The provider of ``scope``'s stack, created on first use (one per resource type per stack)."""
        stack = scope if isinstance(scope, Stack) else Stack.of(scope)
        found = stack_state(stack).providers.get(cls.singleton_id)
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
        return self._arns.arn(service, resource)

    def _allow(
        self,
        sid: str,
        actions: list[str],
        resources: list[str],
        conditions: dict[str, Any] | None = None,
    ) -> None:
        """Add ``resources`` to statement ``sid`` (created with ``actions`` on first use): into
        :attr:`policy` while the provider is being built, into the role's default policy afterwards.
        Callable at any time before synthesis, also by subclasses registering grants of their own."""
        self._grants.allow(sid, actions, resources, conditions)

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
        self._grants.acknowledge(findings, reason)

    def _nag_arn(self, service: str, resource: str) -> str:
        """An ARN as cdk-nag prints it in a finding id (pseudo parameters as ``<AWS::...>``)."""
        return self._arns.nag(service, resource)


def check_provider_prefix(scope: IConstruct, prefix: str) -> None:
    """Reject a prefix no cluster identifier could start with (upper case, symbols)."""
    problem = prefix_problem(prefix)
    if problem is not None:
        raise fail(scope, f"cluster_identifier_prefix '{prefix}' cannot start a cluster identifier: {problem}")
