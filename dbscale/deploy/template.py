"""The providers' CloudFormation template, shipped with the package and rendered without the CDK.

``data/providers.template.json`` is synthesized from :class:`dbscale.constructs.ProvidersStack` when
the package is built (``make providers-template``; a test fails when it is out of date). It was
synthesized for the placeholder prefix :data:`PREFIX_PLACEHOLDER` and the strict guardrails, with the
functions' code location left as the parameters ``CodeBucket`` and ``CodeKey``. :func:`render_template`
puts the user's prefix where the placeholder is (the IAM scope of every grant) and the user's
guardrails into each function's environment: a test renders a sweep of prefixes and guardrails and
compares each with a fresh synth of the construct for the same values.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

from dbscale.core.errors import InvalidRequest
from dbscale.core.guardrails import GUARDRAILS_ENV, Guardrails
from dbscale.core.limits import CLUSTER_IDENTIFIER_MAX_LENGTH

DEFAULT_STACK_NAME = "dbscale-providers"
"""The stack ``dbscale providers deploy`` makes unless told otherwise."""
DEFAULT_PREFIX = "dbscale-"
"""The identifier prefix the providers may manage unless told otherwise (``""``: any cluster)."""
PREFIX_PLACEHOLDER = "qqdbscaleprefixqq-"
"""The prefix the shipped template was synthesized for; no real template contains it."""
TEMPLATE_RESOURCE = "providers.template.json"

EXPORT_NAMES: dict[str, str] = {
    "Custom::RedshiftCluster": "dbscale-RedshiftClusterServiceToken",
    "Custom::AuroraCluster": "dbscale-AuroraClusterServiceToken",
    "Custom::AuroraClone": "dbscale-AuroraCloneServiceToken",
    "Custom::DatabaseBootstrap": "dbscale-DatabaseBootstrapServiceToken",
}
"""The ServiceToken export of each resource type: ``!ImportValue dbscale-RedshiftClusterServiceToken``."""

CODE_PARAMETERS = ("CodeBucket", "CodeKey")
# The longest prefix that still leaves room for a cluster name after it.
PREFIX_MAX_LENGTH = CLUSTER_IDENTIFIER_MAX_LENGTH - 8


def prefix_problem(prefix: str) -> str | None:
    """Why no cluster identifier can start with ``prefix``, or None when one can (``""``: any cluster).

    Identifiers are lower-case letters, digits and single hyphens, a letter first; the prefix also
    leaves room for a name after it.
    """
    if prefix == "":
        return None
    valid = (
        prefix[0].isalpha()
        and prefix.isascii()
        and all(c.isalnum() or c == "-" for c in prefix)
        and prefix.lower() == prefix
        and "--" not in prefix
    )
    if not valid:
        return "use lower-case letters, digits and single hyphens, a letter first (e.g. 'dbscale-' or 'team-a-')"
    if len(prefix) > PREFIX_MAX_LENGTH:
        return f"at most {PREFIX_MAX_LENGTH} characters, so a cluster name fits after it"
    return None


def check_prefix(prefix: str) -> str:
    """``prefix`` if a cluster identifier can start with it, else InvalidRequest naming ``--prefix``."""
    problem = prefix_problem(prefix)
    if problem is not None:
        raise InvalidRequest(f"--prefix '{prefix}' cannot start a cluster identifier: {problem}", field="prefix")
    return prefix


def check_guardrails(guardrails: Guardrails, prefix: str) -> Guardrails:
    """``guardrails`` if the providers' IAM scope (``prefix``) can honour them, else InvalidRequest.

    An adopt prefix outside ``prefix`` would be allowed by the guardrails and then denied by IAM.
    """
    outside = [p for p in guardrails.adopt_prefixes if not p.startswith(prefix)]
    if outside:
        raise InvalidRequest(
            f"--guardrails adopt_prefixes {outside} are outside --prefix '{prefix}': the providers may only manage "
            f"clusters whose identifiers start with '{prefix}' (widen --prefix, or adopt under it)",
            field="guardrails",
        )
    return guardrails


@lru_cache(maxsize=1)
def _source_text() -> str:
    return (files("dbscale.deploy") / "data" / TEMPLATE_RESOURCE).read_text(encoding="utf-8")


def template_source() -> dict[str, Any]:
    """A fresh copy of the shipped template, placeholder prefix and code parameters included."""
    source: dict[str, Any] = json.loads(_source_text())
    return source


def render_template(
    *,
    prefix: str = DEFAULT_PREFIX,
    guardrails: Guardrails | None = None,
    code: tuple[str, str] | None = None,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The providers' template for ``prefix`` and ``guardrails`` (default: strict).

    ``code`` is ``(bucket, key)`` of the uploaded bundle: given, the functions point at it and the
    code parameters are gone (what ``dbscale providers package`` writes); absent, the template keeps
    the ``CodeBucket``/``CodeKey`` parameters (what ``deploy`` passes values for).
    """
    prefix = check_prefix(prefix)
    policy = check_guardrails(guardrails or Guardrails(), prefix)
    template: dict[str, Any] = _replace_placeholder(
        copy.deepcopy(source) if source is not None else template_source(), prefix
    )
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        if GUARDRAILS_ENV in variables:
            variables[GUARDRAILS_ENV] = policy.to_json()
        if code is not None:
            properties["Code"] = {"S3Bucket": code[0], "S3Key": code[1]}
    if code is not None:
        parameters = template.get("Parameters", {})
        for name in CODE_PARAMETERS:
            parameters.pop(name, None)
        if not parameters:
            template.pop("Parameters", None)
    return template


def _replace_placeholder(value: Any, prefix: str) -> Any:
    """``value`` with every occurrence of the placeholder prefix in its strings replaced by ``prefix``."""
    if isinstance(value, str):
        return value.replace(PREFIX_PLACEHOLDER, prefix)
    if isinstance(value, list):
        return [_replace_placeholder(item, prefix) for item in value]
    if isinstance(value, dict):
        return {_replace_placeholder(k, prefix): _replace_placeholder(v, prefix) for k, v in value.items()}
    return value


def template_body(template: dict[str, Any]) -> str:
    """The template as the compact JSON sent to CloudFormation (stable key order)."""
    return json.dumps(template, separators=(",", ":"), sort_keys=True)
