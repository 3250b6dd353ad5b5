"""``RedshiftClusterProvider``: the provider of ``Custom::RedshiftCluster``."""

from __future__ import annotations

from typing import Any, ClassVar

from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE

from ._base import MANAGED_SECRET_ACTIONS, ClusterProvider

# The handler creates every cluster with dbscale's tag and deletes only clusters that carry it
# (an adopted cluster is never deleted): IAM holds it to both.
_CREATED_WITH_DBSCALE_TAG: dict[str, Any] = {
    "StringEquals": {f"aws:RequestTag/{CREATED_BY_TAG_KEY}": CREATED_BY_TAG_VALUE}
}
_MADE_BY_DBSCALE: dict[str, Any] = {"StringEquals": {f"aws:ResourceTag/{CREATED_BY_TAG_KEY}": CREATED_BY_TAG_VALUE}}


class RedshiftClusterProvider(ClusterProvider):
    """The provider of ``Custom::RedshiftCluster`` (handler ``dbscale.handlers.redshift_cluster.handler``)."""

    resource_type = "Custom::RedshiftCluster"
    handler_name = "dbscale.handlers.redshift_cluster.handler"
    singleton_id = "DbscaleRedshiftClusterProvider"
    service = "redshift"

    _CLUSTER_ACTIONS: ClassVar[list[str]] = [
        "redshift:ModifyCluster",
        "redshift:ResizeCluster",
        "redshift:DescribeResize",
        "redshift:PauseCluster",
        "redshift:ResumeCluster",
        "redshift:CreateTags",
        "redshift:DeleteTags",
    ]
    # DeleteCluster with a final snapshot also authorizes CreateClusterSnapshot on the snapshot.
    _SNAPSHOT_ACTIONS: ClassVar[list[str]] = ["redshift:CreateClusterSnapshot", "redshift:CreateTags"]

    def _grant_fixed(self) -> None:
        # ManageMasterPassword: Redshift creates the admin secret ('redshift!...') as the caller.
        self._allow(
            "ManagedAdminSecret",
            MANAGED_SECRET_ACTIONS,
            [self._arn("secretsmanager", "secret:redshift!*")],
        )
        # GetRandomPassword and redshift:DescribeClusters have no resource type in IAM: '*' is the
        # only form that works (a cluster ARN there would deny every describe on real AWS).
        self._allow("NoResourceLevelActions", ["secretsmanager:GetRandomPassword", "redshift:DescribeClusters"], ["*"])
        self._grant_service_linked_role("redshift.amazonaws.com", "AWSServiceRoleForRedshift")
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('secretsmanager', 'secret:redshift!*')}",
                "Resource::*",
            ],
            "the admin secret is created by Redshift with a generated name under the 'redshift!' prefix "
            "(ManageMasterPassword); secretsmanager:GetRandomPassword and redshift:DescribeClusters (read only) "
            "support no resource-level permissions",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        self._grant_clusters(self._arn("redshift", f"cluster:{identifier}"))
        self._allow(
            "FinalSnapshots",
            self._SNAPSHOT_ACTIONS,
            [self._arn("redshift", f"snapshot:{identifier}/*")],
        )
        self._acknowledge(
            [f"Resource::{self._nag_arn('redshift', f'snapshot:{identifier}/*')}"],
            "final snapshots are named at deletion time; the grant covers only snapshots of this cluster",
        )

    def _grant_clusters(self, clusters: str) -> None:
        """Create, change and delete clusters ``clusters`` (an ARN or pattern): create only with
        dbscale's tag, delete only what carries it."""
        self._allow("Clusters", self._CLUSTER_ACTIONS, [clusters])
        self._allow("CreateClusters", ["redshift:CreateCluster"], [clusters], _CREATED_WITH_DBSCALE_TAG)
        self._allow("DeleteClusters", ["redshift:DeleteCluster"], [clusters], _MADE_BY_DBSCALE)

    def _grant_prefix(self, prefix: str) -> None:
        self._grant_clusters(self._arn("redshift", f"cluster:{prefix}*"))
        self._allow("FinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("redshift", f"snapshot:{prefix}*/*")])
        # Keys of templates this provider serves are unknown here: any key, but only through
        # Redshift and only for grants to Redshift itself.
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('redshift', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('redshift', f'snapshot:{prefix}*/*')}",
                f"Resource::{self._nag_arn('kms', 'key/*')}",
            ],
            f"a standalone provider serves templates unknown at synth time: clusters are limited to the "
            f"'{prefix}' identifier prefix, keys to use through Redshift for Redshift grants",
        )
