"""``ProvidersStackSet``: the providers in every account and region of some organizational units.

A service-managed ``AWS::CloudFormation::StackSet`` whose template is the providers' template of
``dbscale providers deploy`` (the same export names in each account, so templates stay the same),
with automatic deployment to accounts that join the OUs. See docs/providers.md ("StackSets") for the
permissions (trusted access, delegated administrator) and what a failed instance looks like.

The code bundle: Lambda reads a function's code from a bucket in the function's region, so every
target region needs the bundle in ``<code_bucket_prefix>-<region>``, readable by the organization.
``dbscale providers stage --regions ...`` puts it there (the buckets
``dbscale-providers-<account>-<region>``, the bundle of the installed package under its hash: the
``code_key`` this construct uses by default).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import CfnTag, Stack
from aws_cdk import aws_cloudformation as cfn
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from dbscale.core.autoscale import AutoscalePolicy
from dbscale.core.guardrails import Guardrails
from dbscale.deploy.autoscaler_template import check_autoscale_policies
from dbscale.deploy.bucket import BUCKET_TAG
from dbscale.deploy.stackset_template import (
    DEFAULT_STACKSET_NAME,
    OperationPreferences,
    check_call_as,
    check_name,
    check_ous,
    check_regions,
    stackset_parameters,
    stackset_template,
)
from dbscale.deploy.template import DEFAULT_PREFIX

from ._support import checked, fail, is_token

DESCRIPTION = "dbscale custom resource providers in every account of the organizational units"


class ProvidersStackSet(Construct):
    """The four providers, their ServiceTokens exported, in every account and region of some OUs.

    :param organizational_unit_ids: the OUs (``ou-ab12-cd34ef56``) or the root (``r-ab12``) whose
        accounts get the providers, nested OUs included; never the management account (service-managed
        StackSets skip it).
    :param regions: the regions of every account (``["eu-west-1", "us-east-1"]``).
    :param stack_set_name: default ``dbscale-providers``.
    :param cluster_identifier_prefix: the providers' IAM scope, as for ``ProvidersStack``. Default ``"dbscale-"``.
    :param guardrails: what templates may ask for, as for ``ProvidersStack``. Default: nothing.
    :param code_bucket_prefix: each region's functions read the bundle from ``<prefix>-<region>``.
        Default ``dbscale-providers-<this stack's account>`` (what ``dbscale providers stage`` makes).
    :param code_key: the bundle's S3 key. Default: the key of the installed package's bundle (what
        ``dbscale providers stage`` uploads); stage again after upgrading dbscale.
    :param call_as: ``SELF`` (default: this stack is deployed in the management account) or
        ``DELEGATED_ADMIN`` (in the account registered as StackSets delegated administrator).
    :param retain_stacks_on_account_removal: keep an account's providers stack when the account
        leaves the OUs. Default True: its clusters' stacks still need their provider for every
        update and delete (a removal would fail anyway while a stack imports a ServiceToken); the
        kept stack is the account's to delete (``dbscale providers delete --stack-name ...``).
    :param operation_preferences: how operations roll out. Default ``OperationPreferences()``: 25 %
        of the accounts per region at once, every region in parallel, the first failure stops it.
    :param autoscale_policies: also a tag autoscaler (as ``TagAutoscaler``) in every account and
        region, under these policies by name (``{"standard": AutoscalePolicy(...)}``): the document is
        a StackSet parameter value, kept in an SSM parameter in each account (standard tier up to
        4,096 bytes, advanced up to 8,192). Checked as the handler checks the document;
        ``redshift_query_checks`` is refused (a tag cannot grant a cluster's secret). Default None:
        the providers only.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organizational_unit_ids: Sequence[str],
        regions: Sequence[str],
        stack_set_name: str = DEFAULT_STACKSET_NAME,
        cluster_identifier_prefix: str = DEFAULT_PREFIX,
        guardrails: Guardrails | None = None,
        code_bucket_prefix: str | None = None,
        code_key: str | None = None,
        call_as: str = "SELF",
        retain_stacks_on_account_removal: bool = True,
        operation_preferences: OperationPreferences | None = None,
        autoscale_policies: Mapping[str, AutoscalePolicy] | None = None,
    ) -> None:
        super().__init__(scope, id)
        ous = list(organizational_unit_ids)
        regions = list(regions)
        if not any(is_token(o) for o in ous):
            ous = checked(self, check_ous, ous, option="organizational_unit_ids")
        if not any(is_token(r) for r in regions):
            regions = checked(self, check_regions, regions, option="regions")
        if not is_token(stack_set_name):
            checked(self, check_name, stack_set_name)
        checked(self, check_call_as, call_as)
        preferences = operation_preferences or OperationPreferences()
        if preferences.problems():
            raise fail(
                self, f"operation_preferences: {'; '.join(preferences.problems())}", field="operation_preferences"
            )
        policies = None
        if autoscale_policies is not None:
            policies = checked(self, check_autoscale_policies, autoscale_policies, where="autoscale_policies")
        template = checked(
            self,
            stackset_template,
            prefix=cluster_identifier_prefix,
            guardrails=guardrails,
            autoscale_policies=policies,
        )
        self.template_asset = s3_assets.Asset(self, "Template", path=str(_write(template)))
        if code_key is None:
            from dbscale.deploy.bundle import build_bundle

            code_key = build_bundle().s3_key
        bucket_prefix = code_bucket_prefix or f"dbscale-providers-{Stack.of(self).account}"
        self.stack_set = cfn.CfnStackSet(
            self,
            "Resource",
            stack_set_name=stack_set_name,
            permission_model="SERVICE_MANAGED",
            call_as=call_as,
            description=DESCRIPTION,
            template_url=self.template_asset.http_url,
            parameters=[
                cfn.CfnStackSet.ParameterProperty(parameter_key=p["ParameterKey"], parameter_value=p["ParameterValue"])
                for p in stackset_parameters(bucket_prefix, code_key, policies)
            ],
            capabilities=["CAPABILITY_IAM"],
            auto_deployment=cfn.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=retain_stacks_on_account_removal
            ),
            managed_execution={"Active": True},
            operation_preferences=_preferences(preferences),
            stack_instances_group=[
                cfn.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cfn.CfnStackSet.DeploymentTargetsProperty(organizational_unit_ids=ous),
                    regions=regions,
                )
            ],
            tags=[CfnTag(key=BUCKET_TAG[0], value=BUCKET_TAG[1])],
        )
        self.code_key = code_key
        self.code_bucket_prefix = bucket_prefix
        self.autoscale_policies = policies


def _preferences(given: OperationPreferences) -> cfn.CfnStackSet.OperationPreferencesProperty:
    api = given.to_api()
    return cfn.CfnStackSet.OperationPreferencesProperty(
        failure_tolerance_percentage=api["FailureTolerancePercentage"],
        max_concurrent_percentage=api["MaxConcurrentPercentage"],
        region_concurrency_type=api["RegionConcurrencyType"],
        concurrency_mode=api["ConcurrencyMode"],
    )


def _write(template: dict[str, Any]) -> Path:
    """The template in a file of its own (the asset's source; CDK copies it into the cloud assembly)."""
    path = Path(tempfile.mkdtemp(prefix="dbscale-stackset-")) / "providers.stackset.template.json"
    path.write_text(json.dumps(template, indent=1, sort_keys=True), encoding="utf-8")
    return path
