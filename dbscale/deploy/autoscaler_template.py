"""The tag autoscaler's resources for the providers' StackSet, shipped with the package and rendered
without the CDK: what ``dbscale providers deploy --stackset ... --autoscale-policies FILE`` and
``ProvidersStackSet(autoscale_policies=...)`` add to every account and region.

``data/tag_autoscaler.template.json`` is synthesized from a ``TagAutoscaler`` (the construct) when
the package is built (``make providers-template``; a test fails when it is out of date), for a
placeholder policy, with what depends on the policies left as parameters: the policy document (the
value of the SSM parameter each instance makes, so policies are declared once, in the StackSet's
parameters), its tier and the schedule. Only the Athena grant of ``resume_catalog`` is rendered into
the template (IAM needs each workgroup's ARN).

Sizes: a CloudFormation parameter value holds at most 4,096 bytes, so the document is split over
:data:`POLICY_PARAMETERS` (8,192 bytes together, the advanced tier's limit). The SSM parameter is of
the standard tier up to 4,096 bytes, else advanced (charged per parameter and month); once advanced
it stays so (SSM cannot turn an advanced parameter back into a standard one).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from typing import Any

from dbscale.core.autoscale import AutoscalePolicy, parse_policies, policies_document
from dbscale.core.errors import InvalidRequest

TEMPLATE_RESOURCE = "tag_autoscaler.template.json"
POLICY_PLACEHOLDER = "qqdbscalepolicyqq"
"""The policy name the shipped template was synthesized for."""
WORKGROUP_PLACEHOLDER = "qqdbscaleworkgroupqq"
"""The Athena workgroup the shipped template was synthesized for (replaced by the policies' own)."""
POLICY_PARAMETERS = ("AutoscalePolicies", "AutoscalePoliciesMore")
"""The template parameters holding the policy document: its first 4,096 bytes, then the rest (maybe empty)."""
TIER_PARAMETER = "AutoscalePoliciesTier"
SCHEDULE_PARAMETER = "AutoscaleSchedule"
PARAMETER_VALUE_MAX = 4096
"""Bytes in one CloudFormation parameter value."""
SSM_STANDARD_MAX = 4096
SSM_ADVANCED_MAX = 8192
ATHENA_SID = "AthenaSpend"

SOURCE_PARAMETERS: dict[str, dict[str, Any]] = {
    POLICY_PARAMETERS[0]: {
        "Type": "String",
        "Description": "The tag autoscaler's policy document (JSON): its first 4,096 bytes",
    },
    POLICY_PARAMETERS[1]: {
        "Type": "String",
        "Default": "",
        "Description": "The rest of the tag autoscaler's policy document (a parameter value holds 4,096 bytes)",
    },
    TIER_PARAMETER: {
        "Type": "String",
        "AllowedValues": ["Standard", "Advanced"],
        "Description": "The SSM tier of the policy document: Standard up to 4,096 bytes, else Advanced",
    },
    SCHEDULE_PARAMETER: {
        "Type": "String",
        "AllowedPattern": r"^rate\([1-9][0-9]* minutes?\)$",
        "Description": "How often the tag autoscaler runs: the shortest evaluation_interval_minutes of the policies",
    },
}
"""The shipped template's parameters (besides ``CodeBucket``/``CodeKey``)."""


def check_autoscale_policies(
    policies: Mapping[str, AutoscalePolicy] | str, *, where: str
) -> dict[str, AutoscalePolicy]:
    """The policies (a mapping, or a JSON document as the handler reads it) checked as strictly as the
    handler does (:func:`dbscale.core.autoscale.parse_policies`), plus what a tag cannot grant
    (``redshift_query_checks``) and the size limit (8,192 bytes); InvalidRequest naming ``where``
    and the policy key."""
    if isinstance(policies, str):
        text = policies
    else:
        if not isinstance(policies, Mapping):
            raise InvalidRequest(f"{where}: a mapping of policy name to AutoscalePolicy", field=where)
        wrong = [name for name, p in policies.items() if not isinstance(p, AutoscalePolicy)]
        if wrong:
            raise InvalidRequest(f"{where}[{wrong[0]!r}]: must be an AutoscalePolicy", field=where)
        text = policies_document(policies) if policies else "{}"
    checked = parse_policies(text, parameter=where)
    for name, policy in checked.items():
        if policy.redshift_query_checks:
            raise InvalidRequest(
                f"{where}[{name!r}] sets redshift_query_checks: those checks read each cluster's secret, "
                "which a tag cannot grant; use a per-cluster Autoscaler for that cluster",
                field=f"{where}[{name!r}]",
            )
    size = len(compact_document(checked).encode())
    if size > SSM_ADVANCED_MAX:
        raise InvalidRequest(
            f"{where}: the policy document is {size} bytes, over the {SSM_ADVANCED_MAX} bytes of an SSM "
            "parameter (advanced tier): share settings between fewer policies",
            field=where,
        )
    return checked


@lru_cache(maxsize=1)
def source_text() -> str:
    """The shipped template's text."""
    return (files("dbscale.deploy") / "data" / TEMPLATE_RESOURCE).read_text(encoding="utf-8")


def autoscaler_template(policies: Mapping[str, AutoscalePolicy]) -> dict[str, Any]:
    """The tag autoscaler's template for ``policies`` (checked): the shipped one with the Athena grant
    for the workgroups of the policies' ``resume_catalog`` (none: no grant)."""
    template: dict[str, Any] = json.loads(source_text())
    workgroups = sorted({p.resume_workgroup for p in policies.values() if p.resume_catalog})
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        document = resource["Properties"]["PolicyDocument"]
        kept = []
        for statement in document["Statement"]:
            if statement.get("Sid") == ATHENA_SID:
                if not workgroups:
                    continue
                # Workgroup names are letters, digits, '.', '_' and '-': safe inside JSON text.
                arn = json.dumps(statement["Resource"])
                arns = [json.loads(arn.replace(WORKGROUP_PLACEHOLDER, w)) for w in workgroups]
                statement["Resource"] = arns[0] if len(arns) == 1 else arns
            kept.append(statement)
        document["Statement"] = kept
    return template


def compact_document(policies: Mapping[str, AutoscalePolicy]) -> str:
    """The policy document with each policy's defaults left out (the handler reads them back as
    defaults): a full policy is ~950 bytes, so this is what lets a document fit a parameter."""
    defaults = AutoscalePolicy().to_dict()
    sparse = {name: {k: v for k, v in p.to_dict().items() if v != defaults[k]} for name, p in policies.items()}
    text = json.dumps(sparse, sort_keys=True, separators=(",", ":"))
    if parse_policies(text, parameter="compact") != dict(policies):  # pragma: no cover - a default not round-tripping
        return policies_document(policies)
    return text


def schedule_expression(policies: Mapping[str, AutoscalePolicy]) -> str:
    """The schedule of the policies: their shortest ``evaluation_interval_minutes`` (as the construct's)."""
    minutes = min(p.evaluation_interval_minutes for p in policies.values())
    return f"rate({minutes} minute{'' if minutes == 1 else 's'})"


def autoscaler_parameters(policies: Mapping[str, AutoscalePolicy], *, advanced: bool = False) -> list[dict[str, str]]:
    """The StackSet's parameter values for ``policies`` (checked): the document in two parts, its tier
    (Advanced over 4,096 bytes, or when ``advanced``: the parameter is advanced already) and the schedule."""
    document = compact_document(policies)
    tier = "Advanced" if advanced or len(document.encode()) > SSM_STANDARD_MAX else "Standard"
    values = {
        POLICY_PARAMETERS[0]: document[:PARAMETER_VALUE_MAX],
        POLICY_PARAMETERS[1]: document[PARAMETER_VALUE_MAX:],  # the document is ASCII (json.dumps escapes)
        TIER_PARAMETER: tier,
        SCHEDULE_PARAMETER: schedule_expression(policies),
    }
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def merge_autoscaler(template: dict[str, Any], policies: Mapping[str, AutoscalePolicy]) -> dict[str, Any]:
    """``template`` (the providers') with the tag autoscaler's resources and parameters added."""
    merged = copy.deepcopy(template)
    extra = autoscaler_template(policies)
    clash = set(merged["Resources"]) & set(extra["Resources"])
    if clash:  # pragma: no cover - the shipped templates changed shape
        raise RuntimeError(f"the providers' and the tag autoscaler's templates share logical ids {sorted(clash)}")
    merged["Resources"].update(extra["Resources"])
    merged.setdefault("Parameters", {}).update({k: extra["Parameters"][k] for k in SOURCE_PARAMETERS})
    merged["Description"] = f"{merged.get('Description', 'dbscale')} and the tag autoscaler"
    return merged
