"""Custom::DatabaseBootstrap's references: the cluster (with its Data API on) and the master secret
(readable by the provider, as the Data API reads it with the provider's credentials)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ..errors import Problem
from .common import other_region, rds_cluster, unless_missing
from .engine import Check, PreflightContext, error_code


def aurora_cluster(context: PreflightContext, arn: str) -> list[Problem]:
    prop = "ClusterArn"
    found = other_region(context, prop, arn, "cluster")
    if found:
        return found
    cluster = rds_cluster(context, arn)
    if cluster is None:
        return [Problem(prop, f"no Aurora cluster '{arn}' in {context.region}", "give the ARN of a cluster there")]
    if not cluster.get("HttpEndpointEnabled"):
        return [
            Problem(
                prop,
                f"cluster '{arn}' has its Data API off",
                "set EnableHttpEndpoint true on the cluster (the bootstrap runs its SQL through the Data API)",
            )
        ]
    return []


def redshift_cluster(context: PreflightContext, name: str) -> list[Problem]:
    prop = "ClusterIdentifier"
    redshift = context.client("redshift")
    found = unless_missing(lambda: redshift.describe_clusters(ClusterIdentifier=name), "ClusterNotFound")
    if not (found or {}).get("Clusters"):
        return [Problem(prop, f"no Redshift cluster '{name}' in {context.region}", "give a cluster that exists")]
    return []


def secret(context: PreflightContext, arn: str) -> list[Problem]:
    """The provider can read the secret (the Data API reads it as the provider); its value is dropped."""
    prop = "SecretArn"
    found = other_region(context, prop, arn, "secret")
    if found:
        return found
    try:
        context.client("secretsmanager").get_secret_value(SecretId=arn)
    except ClientError as err:
        code = error_code(err)
        if code == "ResourceNotFoundException":
            return [Problem(prop, f"no secret '{arn}' in {context.region}", "give the cluster's master user secret")]
        if code in ("InvalidRequestException", "AccessDeniedException", "DecryptionFailure"):
            return [Problem(prop, f"secret '{arn}' cannot be read by the provider ({code})", "")]
        raise
    return []


def checks(props: Mapping[str, Any]) -> list[Check]:
    """The cluster of the engine the bootstrap names, and its secret."""
    found = []
    if props.get("ClusterArn"):
        found.append(Check("ClusterArn", props["ClusterArn"], aurora_cluster))
    if props.get("ClusterIdentifier"):
        found.append(Check("ClusterIdentifier", props["ClusterIdentifier"], redshift_cluster))
    found.append(Check("SecretArn", props["SecretArn"], secret))
    return found
