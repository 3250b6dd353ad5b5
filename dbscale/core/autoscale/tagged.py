"""Autoscaling by tag: which clusters of an account and region carry a policy name, and the policies.

A cluster joins the tag autoscaler by carrying the tag :data:`TAG_KEY` (``dbscale:autoscale``) whose
value names a policy of the policy document, a JSON object ``{"<policy>": {<AutoscalePolicy fields>}}``
kept in one SSM parameter. :func:`discover` lists the tagged Redshift and Aurora clusters;
:func:`parse_policies` validates the document (strictly: the whole document fails, naming the
parameter and the policy); :func:`plan_run` decides which clusters are managed under which policy,
and which are skipped and why (a policy the document does not name, a per-cluster ``Autoscaler``).

Precedence: a cluster a per-cluster ``Autoscaler`` manages is left to it. The per-cluster
Autoscaler keeps its memory in ``/dbscale/autoscaler/<service>/<cluster>`` (or under ``dry-run/``),
written at its first evaluation; the tag autoscaler keeps its own under :data:`TAGGED_STATE_PREFIX`
and skips every cluster that has the per-cluster parameter (:func:`per_cluster_owned`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client
from ..errors import AwsError, InvalidRequest
from ..validation import validate_tag
from .decisions import ClusterRef
from .memory import STATE_PARAMETER_PREFIX
from .policy import AutoscalePolicy

if TYPE_CHECKING:
    import boto3

TAG_KEY = "dbscale:autoscale"
"""The tag whose value names a cluster's policy (``dbscale:autoscale=<policy>``)."""
TAGGED_STATE_PREFIX = f"{STATE_PARAMETER_PREFIX}/tagged"
"""Where the tag autoscaler keeps each cluster's memory: ``/dbscale/autoscaler/tagged/<service>/<cluster>``."""
POLICIES_PARAMETER_ENV = "DBSCALE_AUTOSCALE_POLICIES_PARAMETER"
"""The tag autoscaler handler's environment: the name of the SSM parameter holding the policy document."""
TAG_KEY_ENV = "DBSCALE_AUTOSCALE_TAG_KEY"
"""The handler's environment: the tag key (default :data:`TAG_KEY`)."""
DRY_RUN_ENV = "DBSCALE_AUTOSCALE_DRY_RUN"
"""The handler's environment: ``true`` to decide, log and publish but change nothing."""
SKIP_METRIC = "TaggedClusterSkipped"
"""Published to ``dbscale/Autoscaler`` (dimensions ``Cluster`` and ``Reason``) for each cluster not driven."""

UNKNOWN_POLICY = "unknown_policy"
PER_CLUSTER = "per_cluster_autoscaler"
FAILED = "failed"
OUT_OF_TIME = "out_of_time"
SKIP_REASONS = (UNKNOWN_POLICY, PER_CLUSTER, FAILED, OUT_OF_TIME)
"""Why a tagged cluster was not driven in a run."""

_GET_PARAMETERS_MAX = 10
"""SSM GetParameters takes at most 10 names a call."""


# --- the policy document ------------------------------------------------------------------------


def parse_policies(text: str, *, parameter: str) -> dict[str, AutoscalePolicy]:
    """The policies of the JSON document ``text`` read from SSM ``parameter``, by name.

    Strict: anything wrong (not JSON, not an object, an empty or malformed name, an invalid policy)
    raises :class:`InvalidRequest` naming the parameter and the policy key, so a bad document stops
    the run before anything changes instead of silently managing clusters with defaults.
    """
    try:
        data = json.loads(text)
    except ValueError as err:
        raise InvalidRequest(f"the policy document {parameter} is not JSON: {err}", field=parameter) from None
    if not isinstance(data, Mapping) or not data:
        raise InvalidRequest(
            f'the policy document {parameter} must be a non-empty JSON object {{"<policy>": {{...}}}}', field=parameter
        )
    policies: dict[str, AutoscalePolicy] = {}
    for name, body in data.items():
        where = f"{parameter}[{name!r}]"
        try:
            if not name or name != name.strip():
                raise InvalidRequest("empty, or blank at an end")
            validate_tag("policy", name, field=where)
        except InvalidRequest as err:
            raise InvalidRequest(f"{where}: a policy name must be a tag value: {err}", field=where) from None
        try:
            policies[name] = AutoscalePolicy.from_dict(body)
        except InvalidRequest as err:
            raise InvalidRequest(f"{where}: {err}", field=f"{where}.{err.field or ''}".rstrip(".")) from None
        except TypeError as err:  # a field given a value of the wrong shape (e.g. a list for thresholds)
            raise InvalidRequest(f"{where}: {err}", field=where) from None
    return policies


def policies_document(policies: Mapping[str, AutoscalePolicy]) -> str:
    """The JSON document of ``policies`` (what :func:`parse_policies` reads back)."""
    return json.dumps({name: p.to_dict() for name, p in policies.items()}, sort_keys=True, separators=(",", ":"))


def load_policies(parameter: str, session: boto3.Session | None = None) -> dict[str, AutoscalePolicy]:
    """The policies of the SSM parameter ``parameter`` (read once per run; see :func:`parse_policies`)."""
    ssm = client("ssm", session)
    try:
        with aws_errors(f"read the autoscaling policies {parameter}"):
            text = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except AwsError as err:
        if err.code == "ParameterNotFound":
            raise InvalidRequest(f"the policy document {parameter} does not exist", field=parameter) from None
        raise
    return parse_policies(str(text), parameter=parameter)


# --- discovery ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaggedCluster:
    """A cluster carrying the tag: its reference and the policy name the tag gives."""

    ref: ClusterRef
    policy: str


def _tag(tags: Iterable[Mapping[str, Any]] | None, key: str) -> str | None:
    for tag in tags or ():
        if tag.get("Key") == key:
            return str(tag.get("Value", ""))
    return None


def discover(session: boto3.Session | None = None, *, tag_key: str = TAG_KEY) -> list[TaggedCluster]:
    """Every Redshift cluster and Aurora cluster of the session's account and region tagged ``tag_key``
    (all pages), Redshift first, each kind by name. Other RDS engines are ignored."""
    found: list[TaggedCluster] = []
    redshift = client("redshift", session)
    with aws_errors("list the Redshift clusters"):
        for page in redshift.get_paginator("describe_clusters").paginate():
            for c in page.get("Clusters") or []:
                value = _tag(c.get("Tags"), tag_key)
                if value is not None:
                    found.append(TaggedCluster(ClusterRef.redshift(str(c["ClusterIdentifier"])), value))
    aurora: list[TaggedCluster] = []
    rds = client("rds", session)
    with aws_errors("list the Aurora clusters"):
        for page in rds.get_paginator("describe_db_clusters").paginate():
            for c in page.get("DBClusters") or []:
                value = _tag(c.get("TagList"), tag_key)
                if value is not None and str(c.get("Engine", "")).startswith("aurora"):
                    aurora.append(TaggedCluster(ClusterRef.aurora(str(c["DBClusterIdentifier"])), value))
    by_name = sorted(found, key=lambda t: t.ref.name) + sorted(aurora, key=lambda t: t.ref.name)
    return by_name


def per_cluster_owned(
    refs: Iterable[ClusterRef], session: boto3.Session | None = None, *, prefix: str = STATE_PARAMETER_PREFIX
) -> set[str]:
    """The keys (``<service>/<name>``) of the clusters a per-cluster ``Autoscaler`` manages: those with
    its memory parameter ``<prefix>/<key>`` or ``<prefix>/dry-run/<key>`` (10 names a call)."""
    names = {f"{prefix}/{ref.key}": ref.key for ref in refs}
    names.update({f"{prefix}/dry-run/{ref.key}": ref.key for ref in refs})
    ssm = client("ssm", session)
    owned: set[str] = set()
    listed = sorted(names)
    for first in range(0, len(listed), _GET_PARAMETERS_MAX):
        with aws_errors("look for per-cluster autoscaler state"):
            answer = ssm.get_parameters(Names=listed[first : first + _GET_PARAMETERS_MAX])
        owned.update(names[p["Name"]] for p in answer.get("Parameters") or [] if p.get("Name") in names)
    return owned


# --- which cluster under which policy -----------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    """A tagged cluster not driven in a run: ``reason`` is one of :data:`SKIP_REASONS`."""

    ref: ClusterRef
    policy: str
    reason: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.ref.name,
            "service": self.ref.service,
            "policy": self.policy,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RunPlan:
    """The clusters to drive, grouped by policy name (each cluster once), and the skipped ones."""

    groups: dict[str, list[ClusterRef]] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)


def plan_run(tagged: Iterable[TaggedCluster], policies: Mapping[str, AutoscalePolicy], owned: set[str]) -> RunPlan:
    """Which tagged clusters are driven under which policy: a per-cluster ``Autoscaler`` wins (``owned``),
    a policy name the document lacks skips the cluster (never the run)."""
    plan = RunPlan()
    seen: set[str] = set()
    for t in tagged:
        if t.ref.key in seen:  # describe pages do not repeat clusters, but a cluster is driven once at most
            continue
        seen.add(t.ref.key)
        if t.ref.key in owned:
            detail = f"a per-cluster Autoscaler manages it ({STATE_PARAMETER_PREFIX}/{t.ref.key} exists)"
            plan.skipped.append(Skip(t.ref, t.policy, PER_CLUSTER, detail))
        elif t.policy not in policies:
            known = ", ".join(sorted(policies)) or "none"
            detail = f"its tag names policy {t.policy!r}, which the policy document lacks (it has: {known})"
            plan.skipped.append(Skip(t.ref, t.policy, UNKNOWN_POLICY, detail))
        else:
            plan.groups.setdefault(t.policy, []).append(t.ref)
    return plan
