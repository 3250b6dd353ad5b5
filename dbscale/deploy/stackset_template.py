"""The providers' template and settings for a service-managed StackSet (every account and region of
some organizational units), without the CDK: what ``dbscale providers deploy --stackset`` and the
``ProvidersStackSet`` construct share.

Lambda reads a function's code from a bucket in the function's own region (the bucket may be in
another account). So the StackSet's template reads the code bundle from
``<CodeBucketPrefix>-<region>``: one bucket per target region, in the administrator's account
(``dbscale-providers-<account>-<region>``, the bucket ``dbscale providers deploy`` makes anyway),
each with a policy that lets the organization's principals read the bundle
(``aws:PrincipalOrgID``; S3 does not count such a statement as public, so Block Public Access stays on).
The export names are those of the single-account stack: templates stay the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dbscale.core.autoscale import AutoscalePolicy
from dbscale.core.errors import InvalidRequest
from dbscale.core.guardrails import Guardrails

from .autoscaler_template import autoscaler_parameters, merge_autoscaler
from .template import CODE_PARAMETERS, DEFAULT_PREFIX, render_template

DEFAULT_STACKSET_NAME = "dbscale-providers"
"""The StackSet ``dbscale providers deploy --stackset`` makes unless told otherwise."""
STACKSET_CODE_PARAMETERS = ("CodeBucketPrefix", "CodeKey")
"""The StackSet template's parameters: the code is read from ``<CodeBucketPrefix>-<region>``/``<CodeKey>``."""
CALL_AS = ("SELF", "DELEGATED_ADMIN")
"""``SELF``: the organization's management account; ``DELEGATED_ADMIN``: a registered delegated administrator."""
ORG_READ_SID = "DbscaleOrganizationReadsProviderCode"
"""The bucket policy statement letting the organization read the code (replaced, never duplicated)."""
CODE_OBJECTS = "dbscale-providers/*"
"""The objects of the code bucket the organization may read: the bundles, nothing else."""

OU_ID = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")
"""An organizational unit id (``ou-ab12-cd34ef56``) or the organization's root (``r-ab12``): AWS's pattern."""
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
STACKSET_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")


def stackset_template(
    *,
    prefix: str = DEFAULT_PREFIX,
    guardrails: Guardrails | None = None,
    autoscale_policies: Mapping[str, AutoscalePolicy] | None = None,
) -> dict[str, Any]:
    """The providers' template for ``prefix`` and ``guardrails`` (default strict), each function's
    code read from ``${CodeBucketPrefix}-${AWS::Region}``/``${CodeKey}`` (see the module's docstring).
    With ``autoscale_policies`` (checked with ``check_autoscale_policies``), the tag autoscaler too
    (:mod:`.autoscaler_template`); without, exactly the providers."""
    template = render_template(prefix=prefix, guardrails=guardrails)
    template["Parameters"] = {
        STACKSET_CODE_PARAMETERS[0]: {
            "Type": "String",
            "Description": "The code bundle is read from the bucket <CodeBucketPrefix>-<region> of each target region",
            "AllowedPattern": "^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
        },
        STACKSET_CODE_PARAMETERS[1]: {"Type": "String", "Description": "S3 key of the providers' code bundle (a .zip)"},
    }
    if autoscale_policies is not None:
        template = merge_autoscaler(template, autoscale_policies)
    bucket = {"Fn::Sub": f"${{{STACKSET_CODE_PARAMETERS[0]}}}-${{AWS::Region}}"}
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"S3Bucket": bucket, "S3Key": {"Ref": STACKSET_CODE_PARAMETERS[1]}}
    if f"'Ref': '{CODE_PARAMETERS[0]}'" in str(template):  # pragma: no cover - the shipped template changed shape
        raise RuntimeError(f"the StackSet template still refers to {CODE_PARAMETERS[0]}")
    return template


def stackset_parameters(
    bucket_prefix: str,
    code_key: str,
    autoscale_policies: Mapping[str, AutoscalePolicy] | None = None,
    *,
    advanced: bool = False,
) -> list[dict[str, str]]:
    """The StackSet's parameter values: where each region's functions read the bundle, and with
    ``autoscale_policies`` the tag autoscaler's (``advanced``: keep the document's SSM tier advanced)."""
    code = [
        {"ParameterKey": STACKSET_CODE_PARAMETERS[0], "ParameterValue": bucket_prefix},
        {"ParameterKey": STACKSET_CODE_PARAMETERS[1], "ParameterValue": code_key},
    ]
    if autoscale_policies is None:
        return code
    return code + autoscaler_parameters(autoscale_policies, advanced=advanced)


def check_name(name: str) -> str:
    """``name`` if it can name a StackSet (a letter, then letters, digits, hyphens; at most 128
    characters), else InvalidRequest."""
    if not STACKSET_NAME.match(name):
        raise InvalidRequest(
            f"--stackset '{name}': a StackSet name is a letter, then letters, digits and hyphens (at most 128)",
            field="stackset",
        )
    return name


def check_ous(ous: Iterable[str], *, option: str = "--ous") -> list[str]:
    """The organizational unit ids, deduplicated in order; InvalidRequest for none or a malformed one."""
    given = list(dict.fromkeys(o.strip() for o in ous if o.strip()))
    bad = [o for o in given if not OU_ID.match(o)]
    if bad:
        raise InvalidRequest(
            f"{option} {bad}: an organizational unit id looks like 'ou-ab12-cd34ef56' (the root: 'r-ab12')",
            field="ous",
        )
    if not given:
        raise InvalidRequest(f"{option}: name at least one organizational unit (or the root 'r-...')", field="ous")
    return given


def check_regions(regions: Iterable[str], *, option: str = "--regions") -> list[str]:
    """The region names, deduplicated in order; InvalidRequest for none or a malformed one."""
    given = list(dict.fromkeys(r.strip() for r in regions if r.strip()))
    bad = [r for r in given if not REGION_NAME.match(r)]
    if bad:
        raise InvalidRequest(f"{option} {bad}: a region name looks like 'eu-west-1'", field="regions")
    if not given:
        raise InvalidRequest(f"{option}: name at least one region", field="regions")
    return given


def check_call_as(call_as: str) -> str:
    """``call_as`` if it is ``SELF`` or ``DELEGATED_ADMIN``, else InvalidRequest."""
    if call_as not in CALL_AS:
        raise InvalidRequest(f"--call-as '{call_as}': one of {', '.join(CALL_AS)}", field="call_as")
    return call_as


@dataclass(frozen=True)
class OperationPreferences:
    """How a StackSet operation rolls out (CloudFormation's ``StackSetOperationPreferences``).

    :param failure_tolerance_percentage: accounts per region that may fail before the operation
        stops in that region (and is not started in the regions after it), rounded down. Default 0:
        the first failure stops the rollout, so a broken update does not reach every account.
    :param max_concurrent_percentage: accounts per region worked on at once, rounded down (at least
        one). Default 25.
    :param region_concurrency: ``PARALLEL`` (default: every region at once) or ``SEQUENTIAL``.
    :param concurrency_mode: ``SOFT_FAILURE_TOLERANCE`` (default: the concurrency stays at
        ``max_concurrent_percentage`` whatever the tolerance) or ``STRICT_FAILURE_TOLERANCE``
        (CloudFormation's default: at most tolerance + 1 accounts at once, i.e. one at a time with a
        tolerance of 0).
    """

    failure_tolerance_percentage: int = 0
    max_concurrent_percentage: int = 25
    region_concurrency: str = "PARALLEL"
    concurrency_mode: str = "SOFT_FAILURE_TOLERANCE"

    def problems(self) -> list[str]:
        """What is wrong with these preferences (empty: nothing)."""
        found = []
        if not 0 <= self.failure_tolerance_percentage <= 100:
            found.append("failure_tolerance_percentage must be 0..100")
        if not 1 <= self.max_concurrent_percentage <= 100:
            found.append("max_concurrent_percentage must be 1..100")
        if self.region_concurrency not in ("PARALLEL", "SEQUENTIAL"):
            found.append("region_concurrency must be PARALLEL or SEQUENTIAL")
        if self.concurrency_mode not in ("SOFT_FAILURE_TOLERANCE", "STRICT_FAILURE_TOLERANCE"):
            found.append("concurrency_mode must be SOFT_FAILURE_TOLERANCE or STRICT_FAILURE_TOLERANCE")
        return found

    def to_api(self) -> dict[str, Any]:
        """The ``OperationPreferences`` of a CloudFormation call; InvalidRequest when they are invalid."""
        problems = self.problems()
        if problems:
            raise InvalidRequest(f"operation preferences: {'; '.join(problems)}", field="operation_preferences")
        return {
            "FailureTolerancePercentage": self.failure_tolerance_percentage,
            "MaxConcurrentPercentage": self.max_concurrent_percentage,
            "RegionConcurrencyType": self.region_concurrency,
            "ConcurrencyMode": self.concurrency_mode,
        }


def org_read_statement(bucket: str, org_id: str, partition: str = "aws") -> dict[str, Any]:
    """The bucket policy statement letting every principal of organization ``org_id`` read the code
    bundles of ``bucket`` (the StackSet's execution role in each member account creates the functions)."""
    if not ORG_ID.match(org_id):
        raise InvalidRequest(f"'{org_id}' is no organization id (o-...)", field="organization")
    return {
        "Sid": ORG_READ_SID,
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"arn:{partition}:s3:::{bucket}/{CODE_OBJECTS}",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
    }
