"""The providers in every account and region of some organizational units: a service-managed StackSet.

What ``dbscale providers deploy --stackset NAME --ous ... --regions ...`` does, each step safe to repeat:

1. finds the organization (``organizations:DescribeOrganization``): its id scopes the code buckets' grant;
2. in each target region (and the caller's, for the template): the code bucket
   ``dbscale-providers-<account>-<region>`` (made private, encrypted, TLS-only as for a single stack),
   a policy statement letting the organization's principals read ``dbscale-providers/*``, and the
   code bundle under its hash;
3. the StackSet (``SERVICE_MANAGED``, automatic deployment to accounts that join the OUs, tagged
   ``dbscale:stack=providers``): created, or updated when its template, parameters or settings differ
   (one operation that updates every instance);
4. its instances in every account of the OUs and every region (``CreateStackInstances``: instances
   that exist are left as they are), waiting for each operation;
5. the instances that are not ``CURRENT``, with CloudFormation's reason: a deploy that leaves any is
   reported as failed (the CLI exits non-zero listing them).

Every operation carries an operation id (an idempotency token): a request retried after its answer
was lost is the same operation, not a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dbscale.core.autoscale import AutoscalePolicy
from dbscale.core.aws import aws_errors, client
from dbscale.core.clock import SYSTEM_CLOCK, Clock
from dbscale.core.errors import InvalidRequest, InvalidState, OperationFailed
from dbscale.core.guardrails import Guardrails

from .autoscaler_template import TIER_PARAMETER, check_autoscale_policies
from .bucket import BUCKET_TAG, CodeBucket, partition_of
from .bundle import Bundle, build_bundle
from .caller import OnSession
from .stackset_calls import InstanceProblem, StackSetCalls, instance_problem
from .stackset_template import (
    DEFAULT_STACKSET_NAME,
    OperationPreferences,
    check_call_as,
    check_name,
    check_ous,
    check_regions,
    org_read_statement,
    stackset_parameters,
    stackset_template,
)
from .template import DEFAULT_PREFIX, template_body

__all__ = ["InstanceProblem", "StackSetDeleteResult", "StackSetDeployment", "StackSetResult"]

DEFAULT_TIMEOUT_SECONDS = 60 * 60.0
DEFAULT_POLL_SECONDS = 10.0
TEMPLATE_KEY_PREFIX = "dbscale-providers/stackset-templates/"
DESCRIPTION = "dbscale custom resource providers (dbscale providers deploy --stackset)"
_CAPABILITIES = ["CAPABILITY_IAM"]

StepCallback = Callable[[str], None]


def _ignore(_: Any) -> None:
    return None


@dataclass
class StackSetResult:
    """What a StackSet deploy did: the operations it ran and the instances that are not current."""

    name: str
    code_key: str = ""
    stack_set_id: str = ""
    created: bool = False
    updated: bool = False
    buckets: dict[str, str] = field(default_factory=dict)
    operations: list[str] = field(default_factory=list)
    instances: int = 0
    failed: list[InstanceProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class StackSetDeleteResult:
    """What a StackSet delete did (``deleted`` False when there was none) and what it kept."""

    name: str
    deleted: bool = False
    operations: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _autoscaler_tier(stack_set: dict[str, Any] | None) -> str | None:
    """The SSM tier of the StackSet's tag autoscaler policy document (None: no autoscaler). Once
    ``Advanced`` it stays so: SSM cannot turn an advanced parameter back into a standard one."""
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in (stack_set or {}).get("Parameters", [])}
    return parameters.get(TIER_PARAMETER)


def _default_regional(session: Any) -> Callable[[str], Any]:
    import boto3

    profile = getattr(session, "profile_name", None) if session is not None else None
    return lambda region: boto3.Session(profile_name=profile, region_name=region)


class StackSetDeployment(OnSession):
    """The providers' StackSet ``name``, administered from ``session``'s account and region.

    :param call_as: ``SELF`` (the organization's management account, default) or ``DELEGATED_ADMIN``
        (an account registered as the StackSets delegated administrator).
    :param regional: region -> a boto3 session for it (the code buckets are made in every target
        region); default: sessions of ``session``'s profile.
    :param poll_seconds: how often a running operation is read. Default 10 s.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        name: str = DEFAULT_STACKSET_NAME,
        call_as: str = "SELF",
        regional: Callable[[str], Any] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._session = session
        self.name = name
        self.call_as = call_as
        self._regional = regional or _default_regional(session)
        self._sessions: dict[str, Any] = {}
        self._clock = clock
        self._poll_seconds = poll_seconds
        self.calls = StackSetCalls(self._cfn, name, call_as, clock, poll_seconds)

    def _cfn(self) -> Any:
        return client("cloudformation", self._session)

    def bucket_prefix(self) -> str:
        """The code buckets' names without the region: ``dbscale-providers-<account>``."""
        return f"dbscale-providers-{self.account}"

    def _bucket(self, region: str) -> CodeBucket:
        if region not in self._sessions:
            self._sessions[region] = self._session if region == self.region else self._regional(region)
        return CodeBucket(self._sessions[region], account=self.account, region=region)

    def organization_id(self) -> str:
        """The organization's id (``o-...``); InvalidRequest when the account is in none."""
        from botocore.exceptions import ClientError

        try:
            described = client("organizations", self._session).describe_organization()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "AWSOrganizationsNotInUseException":
                raise InvalidRequest(
                    f"account {self.account} is in no organization: service-managed StackSets deploy to the "
                    "accounts of an AWS Organizations organization",
                    field="stackset",
                ) from None
            with aws_errors("find the organization (organizations:DescribeOrganization)"):
                raise
        return str(described["Organization"]["Id"])

    # --- deploy ------------------------------------------------------------------------------

    def deploy(
        self,
        *,
        ous: list[str],
        regions: list[str],
        prefix: str = DEFAULT_PREFIX,
        guardrails: Guardrails | None = None,
        preferences: OperationPreferences | None = None,
        retain_stacks_on_account_removal: bool = True,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        on_step: StepCallback = _ignore,
        bundle: Bundle | None = None,
        autoscale_policies: Mapping[str, AutoscalePolicy] | None = None,
    ) -> StackSetResult:
        """Create or update the StackSet and its instances in every account of ``ous`` and every
        region of ``regions``; see the module's docstring. Instances that end up not ``CURRENT`` are
        in ``failed``. Raises InvalidRequest (before any AWS call) for bad input, InvalidState for a
        StackSet not made by dbscale, OperationTimeout after ``timeout_seconds`` (default 1 h; the
        operation goes on in CloudFormation). ``autoscale_policies``: the tag autoscaler too, under
        these policies (see :mod:`.autoscaler_template`)."""
        check_name(self.name)
        check_call_as(self.call_as)
        ous, regions = check_ous(ous), check_regions(regions)
        if autoscale_policies is not None:
            autoscale_policies = check_autoscale_policies(autoscale_policies, where="autoscale_policies")
        template = stackset_template(prefix=prefix, guardrails=guardrails, autoscale_policies=autoscale_policies)
        operation_preferences = (preferences or OperationPreferences()).to_api()
        org_id = self.organization_id()
        code = bundle or build_bundle()
        result = StackSetResult(name=self.name, code_key=code.s3_key)
        for region in dict.fromkeys([*regions, self.region]):
            result.buckets[region] = self._stage(region, org_id, code if region in regions else None, on_step)
        body = template_body(template)
        existing = self.calls.describe()
        tier = _autoscaler_tier(existing)
        parameters = stackset_parameters(
            self.bucket_prefix(), code.s3_key, autoscale_policies, advanced=tier == "Advanced"
        )
        if tier is not None and autoscale_policies is None:
            result.notes.append("the tag autoscaler is removed from every instance (give its policies to keep it)")
        settings = self._settings(result.buckets[self.region], body, parameters, retain_stacks_on_account_removal)
        if existing is None:
            result.stack_set_id = self._create(settings, body, on_step)
            result.created = True
        else:
            self._require_ours(existing)
            result.stack_set_id = str(existing.get("StackSetId", ""))
            stale = [p for p in map(instance_problem, self.calls.instances()) if p is not None]
            if stale or self._differs(existing, template, settings):
                why = f"{len(stale)} instances not current" if stale else "its template or settings changed"
                on_step(f"updating StackSet {self.name} (every instance: {why})")
                operation = self._update(settings, operation_preferences)
                result.operations.append(operation)
                result.updated = True
                self.calls.wait(operation, timeout_seconds)
        on_step(f"adding instances of StackSet {self.name} in OUs {', '.join(ous)} x regions {', '.join(regions)}")
        operation = self.calls.start(
            "create_stack_instances",
            "CreateStackInstances",
            DeploymentTargets={"OrganizationalUnitIds": ous},
            Regions=regions,
            OperationPreferences=operation_preferences,
        )
        result.operations.append(operation)
        status = self.calls.wait(operation, timeout_seconds)
        instances = self.calls.instances()
        result.instances = len(instances)
        result.failed = [problem for problem in map(instance_problem, instances) if problem is not None]
        if status != "SUCCEEDED" and not result.failed:
            result.notes.append(f"operation {operation} ended {status}: {self.calls.operation_reason(operation)}")
        return result

    def stage(
        self, regions: list[str], *, bundle: Bundle | None = None, on_step: StepCallback = _ignore
    ) -> dict[str, Any]:
        """Put the code bundle into the organization-readable code bucket of each region (what the
        ``ProvidersStackSet`` construct reads): ``{"bucket_prefix", "code_key", "buckets": {region: bucket}}``."""
        regions = check_regions(regions)
        org_id = self.organization_id()
        code = bundle or build_bundle()
        buckets = {region: self._stage(region, org_id, code, on_step) for region in regions}
        return {"bucket_prefix": self.bucket_prefix(), "code_key": code.s3_key, "buckets": buckets}

    def _stage(self, region: str, org_id: str, code: Bundle | None, on_step: StepCallback) -> str:
        """The code bucket of ``region``, readable by the organization, with the bundle in it."""
        store = self._bucket(region)
        bucket = store.ensure(None, on_step=on_step)
        if store.allow_organization_read(bucket, org_read_statement(bucket, org_id, partition_of(region))):
            on_step(f"let organization {org_id} read s3://{bucket}/dbscale-providers/")
        if code is not None and store.upload(bucket, code.s3_key, code.data, "application/zip"):
            on_step(f"uploaded the provider code ({len(code.data) / 1024:.0f} KiB) to s3://{bucket}/{code.s3_key}")
        return bucket

    def _settings(
        self, bucket: str, body: str, parameters: list[dict[str, str]], retain_stacks: bool
    ) -> dict[str, Any]:
        """The StackSet's settings, its template uploaded to ``bucket`` (under its hash: the StackSet
        template is over the 51,200 bytes of an inline body)."""
        key = f"{TEMPLATE_KEY_PREFIX}{hashlib.sha256(body.encode()).hexdigest()[:32]}.json"
        home = self._bucket(self.region)
        home.upload(bucket, key, body.encode(), "application/json")
        return {
            "TemplateURL": home.template_url(bucket, key),
            "Parameters": parameters,
            "Capabilities": _CAPABILITIES,
            "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": retain_stacks},
            "ManagedExecution": {"Active": True},
            "Tags": [{"Key": BUCKET_TAG[0], "Value": BUCKET_TAG[1]}],
            "Description": DESCRIPTION,
            "CallAs": self.call_as,
        }

    def _create(self, settings: dict[str, Any], body: str, on_step: StepCallback) -> str:
        on_step(f"making StackSet {self.name} (service-managed, automatic deployment)")
        # Retries of this call (botocore's, after a lost answer) are the same request to AWS.
        token = f"dbscale-{hashlib.sha256((self.name + body).encode()).hexdigest()[:40]}"
        with aws_errors(f"make StackSet '{self.name}' (cloudformation:CreateStackSet)"):
            made = self._cfn().create_stack_set(
                StackSetName=self.name, PermissionModel="SERVICE_MANAGED", ClientRequestToken=token, **settings
            )
        return str(made.get("StackSetId", ""))

    def _update(self, settings: dict[str, Any], preferences: dict[str, Any]) -> str:
        return self.calls.start(
            "update_stack_set",
            "UpdateStackSet",
            PermissionModel="SERVICE_MANAGED",
            OperationPreferences=preferences,
            **{k: v for k, v in settings.items() if k != "CallAs"},
        )

    def _differs(self, existing: dict[str, Any], template: dict[str, Any], settings: dict[str, Any]) -> bool:
        """True when the StackSet's template, parameters or settings are not what ``settings`` asks for."""
        try:
            current = json.loads(str(existing.get("TemplateBody", "")))
        except ValueError:
            return True
        parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in existing.get("Parameters", [])}
        wanted = {p["ParameterKey"]: p["ParameterValue"] for p in settings["Parameters"]}
        return (
            current != template
            or parameters != wanted
            or existing.get("AutoDeployment") != settings["AutoDeployment"]
            or sorted(existing.get("Capabilities", [])) != sorted(settings["Capabilities"])
            or bool(existing.get("ManagedExecution", {}).get("Active")) is not True
        )

    def _require_ours(self, stack_set: dict[str, Any]) -> None:
        tags = {t["Key"]: t["Value"] for t in stack_set.get("Tags", [])}
        if tags.get(BUCKET_TAG[0]) != BUCKET_TAG[1]:
            raise InvalidState(
                f"StackSet '{self.name}' exists and was not made by dbscale providers deploy (no tag "
                f"{BUCKET_TAG[0]}={BUCKET_TAG[1]}): pass --stackset with another name"
            )
        if stack_set.get("PermissionModel") != "SERVICE_MANAGED":
            raise InvalidState(f"StackSet '{self.name}' is not service-managed: pass --stackset with another name")

    # --- delete ------------------------------------------------------------------------------

    def delete(
        self,
        *,
        preferences: OperationPreferences | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        on_step: StepCallback = _ignore,
    ) -> StackSetDeleteResult:
        """Delete every instance (their stacks included), then the StackSet; none: nothing to do.
        OperationFailed, the StackSet kept, when an instance cannot be deleted (e.g. a stack of that
        account still imports a ServiceToken): the instances left are named with their reasons."""
        check_name(self.name)
        check_call_as(self.call_as)
        operation_preferences = (preferences or OperationPreferences()).to_api()
        result = StackSetDeleteResult(name=self.name)
        existing = self.calls.describe()
        if existing is None:
            return result
        self._require_ours(existing)
        instances = self.calls.instances()
        if instances:
            ous = sorted({str(i["OrganizationalUnitId"]) for i in instances if i.get("OrganizationalUnitId")})
            regions = sorted({str(i["Region"]) for i in instances})
            on_step(f"deleting {len(instances)} instances of StackSet {self.name} (their stacks too)")
            operation = self.calls.start(
                "delete_stack_instances",
                "DeleteStackInstances",
                DeploymentTargets={"OrganizationalUnitIds": ous},
                Regions=regions,
                RetainStacks=False,
                OperationPreferences=operation_preferences,
            )
            result.operations.append(operation)
            self.calls.wait(operation, timeout_seconds)
            left = self.calls.instances()
            if left:
                listed = "; ".join(
                    f"{i.get('Account')}/{i.get('Region')}: {i.get('StatusReason') or i.get('Status')}" for i in left
                )
                raise OperationFailed(
                    f"StackSet '{self.name}' kept {len(left)} instances it could not delete: {listed}"
                )
        self.calls.delete_stack_set()
        result.deleted = True
        result.kept = [
            "the providers' log groups in each account (kept for their retention period)",
            f"the code buckets ({self.bucket_prefix()}-REGION)",
        ]
        return result
