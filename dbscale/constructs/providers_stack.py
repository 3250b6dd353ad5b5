"""``ProvidersStack``: every custom resource provider in one stack, ServiceTokens exported.

For templates that are not CDK apps. The same stack is what ``dbscale providers deploy`` deploys
without the CDK: ``python -m dbscale.constructs.providers_stack`` writes it, synthesized for a
placeholder prefix, to ``dbscale/deploy/data/providers.template.json`` (``make providers-template``),
which ships with the package and is rendered there for the user's prefix and guardrails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_cdk import App, CfnOutput, Stack
from constructs import Construct

from dbscale.core.guardrails import Guardrails
from dbscale.deploy.template import (
    CODE_PARAMETERS,
    DEFAULT_PREFIX,
    EXPORT_NAMES,
    PREFIX_PLACEHOLDER,
    TEMPLATE_RESOURCE,
)

from .providers import (
    AuroraCloneProvider,
    AuroraClusterProvider,
    DatabaseBootstrapProvider,
    RedshiftClusterProvider,
)

DESCRIPTION = "dbscale custom resource providers"


class ProvidersStack(Stack):
    """The four standalone providers, for plain CloudFormation templates; their ServiceTokens are exported.

    :param cluster_identifier_prefix: the providers may manage (create, change, delete) only
        clusters whose identifiers start with this: the IAM scope of every grant. Default
        ``"dbscale-"``; ``""`` means any cluster in the account and region.
    :param guardrails: the insecure settings templates may ask for. Default ``Guardrails()``: none
        (no unencrypted storage, no public access, no TLS off, no adoption). Widen one only for a
        reason, e.g. ``Guardrails(adopt_prefixes=("dbscale-legacy-",))`` to let templates take over
        existing clusters under that prefix.

    Exports (one providers stack per account and region): ``dbscale-RedshiftClusterServiceToken``,
    ``dbscale-AuroraClusterServiceToken``, ``dbscale-AuroraCloneServiceToken``,
    ``dbscale-DatabaseBootstrapServiceToken``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier_prefix: str = DEFAULT_PREFIX,
        guardrails: Guardrails | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", DESCRIPTION)
        super().__init__(scope, id, **kwargs)
        policy = guardrails or Guardrails()
        prefix = cluster_identifier_prefix
        providers = {
            "Custom::RedshiftCluster": RedshiftClusterProvider(
                self, "RedshiftClusterProvider", cluster_identifier_prefix=prefix, guardrails=policy
            ),
            "Custom::AuroraCluster": AuroraClusterProvider(
                self, "AuroraClusterProvider", cluster_identifier_prefix=prefix, guardrails=policy
            ),
            "Custom::AuroraClone": AuroraCloneProvider(
                self, "AuroraCloneProvider", cluster_identifier_prefix=prefix, guardrails=policy
            ),
            "Custom::DatabaseBootstrap": DatabaseBootstrapProvider(
                self, "DatabaseBootstrapProvider", cluster_identifier_prefix=prefix, guardrails=policy
            ),
        }
        for resource_type, provider in providers.items():
            export = EXPORT_NAMES[resource_type]
            CfnOutput(
                self,
                export.removeprefix("dbscale-"),
                value=provider.service_token,
                description=f"ServiceToken of {resource_type}",
                export_name=export,
            )
        self.providers = providers


def synthesize_template_source(
    prefix: str = PREFIX_PLACEHOLDER, guardrails: Guardrails | None = None
) -> dict[str, Any]:
    """The template ``dbscale providers deploy`` ships (by default: the stack for the placeholder
    prefix and strict guardrails), the functions' code location as the ``CodeBucket``/``CodeKey``
    parameters, and nothing that ties it to a CDK bootstrap (no BootstrapVersion parameter or rule,
    no asset metadata). Tests synthesize it for other values to compare with the rendered one."""
    app = App(analytics_reporting=False)
    stack = ProvidersStack(app, "DbscaleProviders", cluster_identifier_prefix=prefix, guardrails=guardrails)
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    template.pop("Rules", None)
    template["Parameters"] = {
        "CodeBucket": {"Type": "String", "Description": "S3 bucket of the providers' code bundle"},
        "CodeKey": {"Type": "String", "Description": "S3 key of the providers' code bundle (a .zip)"},
    }
    if set(template["Parameters"]) != set(CODE_PARAMETERS):
        raise RuntimeError("the code parameters changed names")  # pragma: no cover - a programming error
    for resource in template["Resources"].values():
        metadata = resource.get("Metadata", {})
        for key in [k for k in metadata if k.startswith("aws:")]:
            del metadata[key]
        if not metadata:
            resource.pop("Metadata", None)
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
    return template


def template_source_path() -> Path:
    """Where the shipped template lives in the source tree."""
    return Path(__file__).resolve().parents[1] / "deploy" / "data" / TEMPLATE_RESOURCE


def write_template_source(path: Path | None = None) -> Path:
    """Synthesize :func:`synthesize_template_source` into ``path`` (default: the shipped file)."""
    target = path or template_source_path()
    target.write_text(json.dumps(synthesize_template_source(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write_template_source(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
