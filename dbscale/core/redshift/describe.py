"""Reading Redshift clusters: the states dbscale waits through or stops at, DescribeClusters, the ARN."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client
from ..provisioning import describe_one

if TYPE_CHECKING:
    import boto3

# States a change may start from; anything else is an operation in flight.
SETTLED = frozenset({"available", "paused"})
# States no amount of waiting fixes: a human has to look.
BROKEN = frozenset(
    {
        "hardware-failure",
        "incompatible-hsm",
        "incompatible-network",
        "incompatible-parameters",
        "incompatible-restore",
        "storage-full",
    }
)


def describe_cluster(redshift: Any, cluster_name: str) -> dict[str, Any]:
    """DescribeClusters for one cluster; :class:`ClusterNotFound` when it does not exist."""
    return describe_one(
        f"Redshift cluster '{cluster_name}'",
        lambda: redshift.describe_clusters(ClusterIdentifier=cluster_name)["Clusters"],
    )


def cluster_arn(session: boto3.Session | None, cluster: dict[str, Any], cluster_name: str) -> str:
    """The cluster's ARN (newer API versions return ``ClusterNamespaceArn`` only, so build it)."""
    sts = client("sts", session)
    with aws_errors("look up the AWS account"):
        account = sts.get_caller_identity()["Account"]
    region = sts.meta.region_name
    partition = sts.meta.partition
    return f"arn:{partition}:redshift:{region}:{account}:cluster:{cluster_name}"
