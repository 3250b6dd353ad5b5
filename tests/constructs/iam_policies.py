"""Read the IAM policies out of synthesized templates, lint them with parliament, and evaluate
them for a request (a small evaluator for the condition operators dbscale's policies use).

The evaluator answers "does some Allow statement match this action, resource and context?"; it
knows the operators dbscale writes (Null, StringEquals, StringLike, Bool) and refuses any other,
so a policy that starts using a new operator fails loudly here instead of being misjudged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"

# How a resource's Arn attribute or Ref looks, by CloudFormation type (placeholder names).
_ARN_FORMATS = {
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
}


def resolve(value: Any, resources: dict[str, Any]) -> Any:
    """``value`` with CloudFormation intrinsics replaced by plausible literal values."""
    if isinstance(value, list):
        return [resolve(v, resources) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        ref = value["Ref"]
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if ref in pseudo:
            return pseudo[ref]
        if resources.get(ref, {}).get("Type") == "AWS::SecretsManager::Secret":
            return _ARN_FORMATS["AWS::SecretsManager::Secret"].format(region=REGION, account=ACCOUNT, name=ref.lower())
        if resources.get(ref, {}).get("Type") == "AWS::StepFunctions::StateMachine":
            # Ref is the machine's ARN; its name is the StateMachineName given (else one made up).
            name = resolve(resources[ref].get("Properties", {}).get("StateMachineName", ref.lower()), resources)
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        return ref.lower()
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        kind = resources.get(logical_id, {}).get("Type", "")
        if attribute == "Arn" and kind in _ARN_FORMATS:
            return _ARN_FORMATS[kind].format(region=REGION, account=ACCOUNT, name=logical_id.lower())
        return f"{logical_id.lower()}-{attribute.lower()}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(p, resources)) for p in parts)
    if "Fn::ImportValue" in value:
        # CDK's cross-stack exports are named after what they export ('...ExportsOutputFnGetAtt<Id>Arn...'
        # or '...ExportsOutputRef<Id>...'): a key's ARN looks like one, anything else is a name.
        name = str(resolve(value["Fn::ImportValue"], resources)).split(":")[-1]
        if "FnGetAtt" in name and "Arn" in name and "Key" in name:
            return _ARN_FORMATS["AWS::KMS::Key"].format(region=REGION, account=ACCOUNT, name=name.lower())
        return name.lower()
    return {k: resolve(v, resources) for k, v in value.items()}


@dataclass
class Policy:
    """One policy document of a template, its logical id and the roles it is attached to."""

    stack: str
    logical_id: str
    roles: list[str]
    document: dict[str, Any]
    statements: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.statements = self.document["Statement"]


def policies(templates: dict[str, dict[str, Any]]) -> list[Policy]:
    """Every AWS::IAM::Policy and inline role policy of ``templates`` (stack name -> template), resolved."""
    found = []
    for stack, template in templates.items():
        resources = template.get("Resources", {})
        for logical_id, resource in resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Policy":
                roles = [r["Ref"] for r in props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]
                found.append(Policy(stack, logical_id, roles, resolve(props["PolicyDocument"], resources)))
            elif resource["Type"] == "AWS::IAM::Role":
                for inline in props.get("Policies", []):
                    found.append(Policy(stack, logical_id, [logical_id], resolve(inline["PolicyDocument"], resources)))
    return found


def role_statements(all_policies: list[Policy], stack: str, role_prefix: str) -> list[dict[str, Any]]:
    """The statements of every policy attached to the role of ``stack`` whose logical id starts with ``role_prefix``."""
    return [
        s
        for p in all_policies
        if p.stack == stack and any(r.startswith(role_prefix) for r in p.roles)
        for s in p.statements
    ]


@dataclass(frozen=True)
class Finding:
    stack: str
    policy: str
    issue: str
    detail: str


def lint(policy: Policy) -> list[Finding]:
    """parliament's findings on ``policy`` (AWS's own auditors; community auditors off)."""
    from parliament import analyze_policy_string

    analyzed = analyze_policy_string(json.dumps(policy.document))
    return [
        Finding(policy.stack, policy.logical_id, f.issue, json.dumps(f.detail, sort_keys=True))
        for f in analyzed.findings
    ]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            wanted = [str(v) for v in _listed(expected)]
            present = key in context
            if operator == "Null":
                if (wanted[0] == "true") == present:
                    return False
            elif operator == "StringEquals":
                if not present or context[key] not in wanted:
                    return False
            elif operator == "StringLike":
                if not present or not any(fnmatchcase(context[key], w) for w in wanted):
                    return False
            elif operator == "Bool":
                if not present or context[key].lower() not in [w.lower() for w in wanted]:
                    return False
            else:
                raise AssertionError(f"the evaluator does not know condition operator {operator}")
    return True


def allowed(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    *,
    resource_tags: dict[str, str] | None = None,
    request_tags: dict[str, str] | None = None,
    context: dict[str, str] | None = None,
) -> bool:
    """True when an Allow statement grants ``action`` on ``resource`` in this request context."""
    keys = dict(context or {})
    keys.update({f"aws:ResourceTag/{k}": v for k, v in (resource_tags or {}).items()})
    keys.update({f"aws:RequestTag/{k}": v for k, v in (request_tags or {}).items()})
    for statement in statements:
        if statement["Effect"] != "Allow" or action not in _listed(statement["Action"]):
            continue
        if not any(fnmatchcase(resource, pattern) for pattern in _listed(statement["Resource"])):
            continue
        if _condition_holds(statement.get("Condition", {}), keys):
            return True
    return False
