"""The tag autoscaler's template the providers' StackSet ships (``dbscale/deploy/data/tag_autoscaler.template.json``).

``python -m dbscale.constructs.tag_autoscaler_template`` (``make providers-template``) synthesizes a
:class:`TagAutoscaler` for a placeholder policy and leaves what depends on the policies as the
parameters of :mod:`dbscale.deploy.autoscaler_template`, which renders it without the CDK.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack

from dbscale.core.autoscale import AutoscalePolicy
from dbscale.deploy.autoscaler_template import (
    POLICY_PARAMETERS,
    POLICY_PLACEHOLDER,
    SCHEDULE_PARAMETER,
    SOURCE_PARAMETERS,
    TEMPLATE_RESOURCE,
    TIER_PARAMETER,
    WORKGROUP_PLACEHOLDER,
)
from dbscale.deploy.template import CODE_PARAMETERS

from .tag_autoscaler import TagAutoscaler

PLACEHOLDER_POLICIES = {
    POLICY_PLACEHOLDER: AutoscalePolicy(resume_catalog="qqdbscalecatalogqq", resume_workgroup=WORKGROUP_PLACEHOLDER)
}


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [r for r in template["Resources"].values() if r["Type"] == kind]
    if len(found) != 1:  # pragma: no cover - the construct changed shape
        raise RuntimeError(f"the tag autoscaler has {len(found)} {kind}, not one")
    return dict(found[0]["Properties"])


def synthesize_autoscaler_source() -> dict[str, Any]:
    """The shipped template: a ``TagAutoscaler`` with the policy document, its tier and the schedule
    as parameters, the code as ``CodeBucket``/``CodeKey``, nothing tied to a CDK bootstrap."""
    app = App(analytics_reporting=False)
    stack = Stack(app, "DbscaleTagAutoscaler")
    TagAutoscaler(stack, "TagAutoscaler", policies=PLACEHOLDER_POLICIES)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    template.pop("Rules", None)
    template["Parameters"] = {
        CODE_PARAMETERS[0]: {"Type": "String", "Description": "S3 bucket of the code bundle"},
        CODE_PARAMETERS[1]: {"Type": "String", "Description": "S3 key of the code bundle (a .zip)"},
        **SOURCE_PARAMETERS,
    }
    for resource in template["Resources"].values():
        resource.pop("Metadata", None)
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function":
            properties["Code"] = {"S3Bucket": {"Ref": CODE_PARAMETERS[0]}, "S3Key": {"Ref": CODE_PARAMETERS[1]}}
        elif resource["Type"] == "AWS::SSM::Parameter":
            properties["Value"] = {"Fn::Join": ["", [{"Ref": name} for name in POLICY_PARAMETERS]]}
            properties["Tier"] = {"Ref": TIER_PARAMETER}
        elif resource["Type"] == "AWS::Events::Rule":
            properties["ScheduleExpression"] = {"Ref": SCHEDULE_PARAMETER}
    _only(template, "AWS::SSM::Parameter")
    _only(template, "AWS::Events::Rule")
    if POLICY_PLACEHOLDER in json.dumps(template):  # pragma: no cover - the document leaked elsewhere
        raise RuntimeError("the placeholder policy is still in the template")
    return template


def template_source_path() -> Path:
    """Where the shipped template lives in the source tree."""
    return Path(__file__).resolve().parents[1] / "deploy" / "data" / TEMPLATE_RESOURCE


def write_autoscaler_source(path: Path | None = None) -> Path:
    """Synthesize :func:`synthesize_autoscaler_source` into ``path`` (default: the shipped file)."""
    target = path or template_source_path()
    target.write_text(json.dumps(synthesize_autoscaler_source(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write_autoscaler_source(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
