"""Service-managed CloudFormation StackSets as AWS runs them, in place of moto 5.2's partial model.

moto's StackSets ignore ``CallAs``, ``AutoDeployment``, ``ManagedExecution``, ``OperationPreferences``,
``ClientRequestToken`` and ``OperationId`` as idempotency tokens, never fail an instance, answer
``ListStackSetOperationResults`` with a fixed ``SKIPPED`` account gate, and create each instance's
resources in the member account (reading Lambda code from the member's own S3). Here, as on AWS:

* trusted access: every call with ``SERVICE_MANAGED`` needs ``member.org.stacksets.cloudformation.amazonaws.com``
  enabled in the organization (``ValidationError`` otherwise); ``CallAs=SELF`` only from the
  management account, ``CallAs=DELEGATED_ADMIN`` only from a registered delegated administrator;
* ``TemplateBody`` at most 51,200 bytes; ``TemplateURL`` read from S3; IAM resources need
  ``CAPABILITY_IAM`` (``InsufficientCapabilitiesException``); a name in use is
  ``NameAlreadyExistsException`` unless the ``ClientRequestToken`` is the first request's;
* an ``OperationId`` seen before answers that operation again (nothing is repeated);
  ``FailureTolerance*`` and ``MaxConcurrent*`` Count and Percentage together are refused;
* ``CreateStackInstances`` with OU targets: every account under the OUs (nested OUs too; the root:
  all), never the management account; existing instances are left alone;
* an instance is "deployed" by checking what Lambda and CloudFormation would: the code object at
  ``<CodeBucketPrefix>-<region>``/``<CodeKey>`` in the administrator's S3, in that region, with a
  bucket policy letting the organization read it (``aws:PrincipalOrgID``); the template's export
  names not held by another stack of the member account and region. A failed instance is
  ``OUTDATED``/``FAILED`` with the reason CloudFormation gives; a good one registers its exports in
  the member account. ``fail(account, region, reason)`` makes one fail for a reason of the test's;
* an operation fails when more accounts fail in a region than ``FailureTolerancePercentage`` allows
  (rounded down); the first ``DescribeStackSetOperation`` of each shows it ``RUNNING``;
* an instance's parameters are checked as CloudFormation checks a stack's: every template parameter
  without a ``Default`` has a value, at most 4,096 bytes, within ``AllowedValues``/``AllowedPattern``;
  a current instance records its template's resources (logical id -> type) in ``resources``;
* ``DeleteStackInstances`` needs ``RetainStacks``; an instance whose export is imported in its account
  stays, failed; ``DeleteStackSet`` of a StackSet with instances is ``StackSetNotEmptyException``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.cloudformation.exceptions import CloudFormationError, ValidationError

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
TEMPLATE_BODY_MAX = 51_200
IAM_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


class StackSetError(CloudFormationError):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass
class FakeInstance:
    account: str
    region: str
    ou: str
    status: str = "CURRENT"
    detailed: str = "SUCCEEDED"
    reason: str = ""
    exports: list[str] = field(default_factory=list)
    resources: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeStackSet:
    name: str
    admin: str
    region: str
    template: dict[str, Any]
    settings: dict[str, Any]
    id: str = field(default_factory=lambda: f"{uuid.uuid4()}")
    instances: dict[tuple[str, str], FakeInstance] = field(default_factory=dict)


@dataclass
class FakeOperation:
    id: str
    stack_set: str
    action: str
    status: str
    results: list[dict[str, Any]]
    reads: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


class StackSets:
    """The StackSets of every administrator account and region; ``fail()`` injects instance failures."""

    def __init__(self) -> None:
        self.sets: dict[tuple[str, str, str], FakeStackSet] = {}
        self.operations: dict[str, FakeOperation] = {}
        self.tokens: dict[str, str] = {}
        self.failures: dict[tuple[str, str], str] = {}

    def fail(self, account: str, region: str, reason: str) -> None:
        """Make the instance in ``account``/``region`` fail with ``reason`` from now on."""
        self.failures[(account, region)] = reason

    # --- the organization -------------------------------------------------------------------

    @staticmethod
    def organization(caller: str) -> Any:
        from moto.organizations.models import organizations_backends

        for per_partition in organizations_backends.values():
            backend = per_partition.get("aws") if hasattr(per_partition, "get") else None
            if backend is None or backend.org is None:
                continue
            if caller == backend.org.master_account_id or any(a.id == caller for a in backend.accounts):
                return backend
        raise ValidationError(
            message="Account is not in an organization: service managed StackSets need AWS Organizations"
        )

    def check_caller(self, caller: str, call_as: str) -> Any:
        org = self.organization(caller)
        if not any(s.get("ServicePrincipal") == STACKSETS_PRINCIPAL for s in org.services):
            raise ValidationError(message="You must enable organizations access to operate a service managed stack set")
        if call_as == "DELEGATED_ADMIN":
            if not any(a.account.id == caller and STACKSETS_PRINCIPAL in a.services for a in org.admins):
                raise ValidationError(message="Account used is not a delegated administrator")
        elif caller != org.org.master_account_id:
            raise ValidationError(message="This operation can only be called by the management account (CallAs=SELF)")
        return org

    @staticmethod
    def accounts_under(org: Any, ous: list[str]) -> list[tuple[str, str]]:
        """(account, requested OU) for every account under ``ous``, the management account excepted."""
        found: list[tuple[str, str]] = []
        for ou in ous:
            if not any(o.id == ou for o in org.ou):
                raise ValidationError(message=f"OrganizationalUnitId {ou} not found")
            inside = {ou}
            grew = True
            while grew:
                more = {o.id for o in org.ou if getattr(o, "parent_id", None) in inside} - inside
                inside |= more
                grew = bool(more)
            for account in org.accounts:
                if account.id != org.org.master_account_id and (ou.startswith("r-") or account.parent_id in inside):
                    found.append((account.id, ou))
        return list(dict.fromkeys(found))

    # --- instances --------------------------------------------------------------------------

    def deploy(self, stack_set: FakeStackSet, instance: FakeInstance, org_id: str) -> str:
        """Deploy ``instance`` (again): '' when it is current, else why it failed."""
        from moto.cloudformation.models import cloudformation_backends
        from moto.cloudformation.parsing import Export

        reason = (
            self.failures.get((instance.account, instance.region))
            or parameter_problem(stack_set)
            or self.code_problem(stack_set, instance.region, org_id)
        )
        backend = cloudformation_backends[instance.account][instance.region]
        stack_id = instance_stack_id(stack_set, instance.account, instance.region)
        names = [o["Export"]["Name"] for o in stack_set.template.get("Outputs", {}).values() if "Export" in o]
        if not reason:
            for name in names:
                held = backend.exports.get(name)
                if held is not None and held.exporting_stack_id != stack_id:
                    holder = held.exporting_stack_id.split("/")[1]
                    reason = f"Export with name {name} is already exported by stack {holder}"
                    break
        if reason:
            instance.status, instance.detailed, instance.reason = "OUTDATED", "FAILED", reason
            return reason
        for name in names:
            value = f"arn:aws:lambda:{instance.region}:{instance.account}:function:StackSet-{name}"
            backend.exports[name] = Export(exporting_stack_id=stack_id, name=name, value=value)
        instance.exports = names
        instance.resources = {k: r["Type"] for k, r in stack_set.template.get("Resources", {}).items()}
        instance.status, instance.detailed, instance.reason = "CURRENT", "SUCCEEDED", ""
        return ""

    @staticmethod
    def code_problem(stack_set: FakeStackSet, region: str, org_id: str) -> str:
        """What Lambda would answer when creating a function from the StackSet's code location in ``region``."""
        from moto.s3.models import s3_backends

        values = {p["ParameterKey"]: p["ParameterValue"] for p in stack_set.settings.get("Parameters", [])}
        bucket_name, key = f"{values.get('CodeBucketPrefix')}-{region}", values.get("CodeKey", "")
        prefix = 'Resource handler returned message: "Error occurred while GetObject. S3 Error Code: '
        bucket = s3_backends[stack_set.admin]["aws"].buckets.get(bucket_name)
        if bucket is None:
            return f'{prefix}NoSuchBucket. S3 Error Message: The specified bucket does not exist"'
        if bucket.region_name != region:
            return f'{prefix}PermanentRedirect. S3 Error Message: The bucket is in this region: {bucket.region_name}"'
        if key not in bucket.keys:
            return f'{prefix}NoSuchKey. S3 Error Message: The specified key does not exist."'
        policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy or "{}")
        statements = policy.get("Statement", [])
        readable = any(
            s.get("Effect") == "Allow"
            and "s3:GetObject" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            and s.get("Condition", {}).get("StringEquals", {}).get("aws:PrincipalOrgID") == org_id
            and str(s.get("Resource", "")).rstrip("*") in f"arn:aws:s3:::{bucket_name}/{key}"
            for s in statements
        )
        return "" if readable else f'{prefix}AccessDenied. S3 Error Message: Access Denied"'

    def operation(
        self,
        stack_set: FakeStackSet,
        action: str,
        operation_id: str,
        touched: list[tuple[FakeInstance, str]],
        prefs: dict[str, Any],
    ) -> FakeOperation:
        failed_by_region: dict[str, int] = {}
        total_by_region: dict[str, int] = {}
        for instance, reason in touched:
            total_by_region[instance.region] = total_by_region.get(instance.region, 0) + 1
            if reason:
                failed_by_region[instance.region] = failed_by_region.get(instance.region, 0) + 1
        tolerance = int(prefs.get("FailureTolerancePercentage", 0) or 0)
        status = "SUCCEEDED"
        for region, failed in failed_by_region.items():
            if failed > total_by_region[region] * tolerance // 100:
                status = "FAILED"
        results = [
            {
                "Account": i.account,
                "Region": i.region,
                "Status": "FAILED" if reason else "SUCCEEDED",
                "StatusReason": reason,
                "OrganizationalUnitId": i.ou,
            }
            for i, reason in touched
        ]
        made = FakeOperation(id=operation_id, stack_set=stack_set.id, action=action, status=status, results=results)
        made.answer = {"OperationPreferences": prefs}
        self.operations[operation_id] = made
        return made


def parameter_problem(stack_set: FakeStackSet) -> str:
    """Why CloudFormation would refuse the StackSet's parameter values for its template ('' if it would not)."""
    import re

    values = {p["ParameterKey"]: p.get("ParameterValue") for p in stack_set.settings.get("Parameters", [])}
    for name, declared in stack_set.template.get("Parameters", {}).items():
        value = values.get(name, declared.get("Default"))
        if value is None:
            return f"Parameters: [{name}] must have values"
        allowed, pattern = declared.get("AllowedValues"), declared.get("AllowedPattern")
        if len(value.encode()) > 4096 or (allowed and value not in allowed):
            return f"Parameter '{name}' must be one of AllowedValues, at most 4096 bytes"
        if pattern and not re.fullmatch(pattern, value):
            return f"Parameter '{name}' must match pattern {pattern}"
    return ""


def instance_stack_id(stack_set: FakeStackSet, account: str, region: str) -> str:
    """The stack id of an instance: AWS names the stack ``StackSet-<name>-<id>``."""
    return f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-{stack_set.name}-{stack_set.id}/x"


def check_preferences(prefs: dict[str, Any]) -> dict[str, Any]:
    """AWS's checks of OperationPreferences: Count and Percentage never both."""
    for what in ("FailureTolerance", "MaxConcurrent"):
        if f"{what}Count" in prefs and f"{what}Percentage" in prefs:
            raise ValidationError(message=f"{what}Count and {what}Percentage cannot both be specified")
    mode = prefs.get("ConcurrencyMode")
    if mode is not None and mode not in ("STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"):
        raise ValidationError(message=f"Invalid ConcurrencyMode {mode}")
    return prefs


def now() -> datetime:
    return datetime.now(timezone.utc)
