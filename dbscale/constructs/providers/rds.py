"""What the two Aurora providers (cluster and clone) share, and the tag conditions that keep each
one to the clusters it manages.

Both providers serve clusters whose identifiers may share a prefix (``dbscale-`` in ``app.py``),
so ARNs alone cannot tell a production cluster from a clone. The handlers tag what they make
(:mod:`dbscale.core.clones`: ``dbscale:clone-of`` on clones, ``dbscale:copy-of`` on copies and
their seed snapshots; :mod:`dbscale.core.limits`: ``dbscale:created-by`` on everything), and the
destructive actions are conditioned on those tags (``aws:ResourceTag``, which every action on an
RDS cluster or cluster snapshot carries). Create and restore calls carry ``aws:RequestTag``
instead: the resource has no tags yet. Instances are created with their cluster's kind tags
(:data:`dbscale.core.aurora.INSTANCE_KIND_TAG_KEYS`), so instance actions are conditioned the same way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dbscale.core.clones import CLONE_OF_TAG_KEY, COPY_OF_TAG_KEY
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE

from ._base import MANAGED_SECRET_ACTIONS, ClusterProvider


def resource_tag(key: str) -> str:
    return f"aws:ResourceTag/{key}"


def request_tag(key: str) -> str:
    return f"aws:RequestTag/{key}"


# Neither a clone nor a copy: what the Aurora provider made or adopted.
NOT_A_CLONE_OR_COPY: dict[str, Any] = {
    "Null": {resource_tag(CLONE_OF_TAG_KEY): "true", resource_tag(COPY_OF_TAG_KEY): "true"}
}
# Made by dbscale and neither a clone nor a copy: what the Aurora provider may delete.
MADE_BY_THE_CLUSTER_PROVIDER: dict[str, Any] = {
    **NOT_A_CLONE_OR_COPY,
    "StringEquals": {resource_tag(CREATED_BY_TAG_KEY): CREATED_BY_TAG_VALUE},
}
# A cluster created with dbscale's tag (CreateDBCluster always sends it).
CREATED_WITH_DBSCALE_TAG: dict[str, Any] = {"StringEquals": {request_tag(CREATED_BY_TAG_KEY): CREATED_BY_TAG_VALUE}}
IS_A_CLONE: dict[str, Any] = {"Null": {resource_tag(CLONE_OF_TAG_KEY): "false"}}
IS_A_COPY: dict[str, Any] = {"Null": {resource_tag(COPY_OF_TAG_KEY): "false"}}


# An instance the Aurora provider creates: tagged as dbscale's, and neither as a clone's nor a copy's.
CREATED_AS_A_CLUSTER_INSTANCE: dict[str, Any] = {
    "StringEquals": {request_tag(CREATED_BY_TAG_KEY): CREATED_BY_TAG_VALUE},
    "Null": {
        request_tag(CLONE_OF_TAG_KEY): "true",
        request_tag(COPY_OF_TAG_KEY): "true",
        resource_tag(CREATED_BY_TAG_KEY): "true",
    },
}


def created_as(kind_tag: str) -> dict[str, Any]:
    """A create or restore request (or the tagging it implies) that marks the new resource with
    ``kind_tag``, on a resource that carries no dbscale tag yet: an existing cluster another
    provider made cannot be re-tagged into this provider's reach."""
    return {"Null": {request_tag(kind_tag): "false", resource_tag(CREATED_BY_TAG_KEY): "true"}}


class RdsProvider(ClusterProvider):
    """What the Aurora providers share: RDS's managed master user secret and service-linked role,
    and the actions on a cluster, its instances and its final snapshots once it exists."""

    service = "rds"

    # Changes to an existing cluster; each provider conditions them on the cluster's tags. Tags
    # given to a create or restore call are authorized as AddTagsToResource on the new cluster.
    _CHANGE_ACTIONS: ClassVar[list[str]] = [
        "rds:ModifyDBCluster",
        "rds:FailoverDBCluster",
        "rds:StartDBCluster",
        "rds:CreateDBInstance",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
    ]
    # Instances are created with their cluster's kind tags (authorized as AddTagsToResource on the
    # new instance), then changed or deleted only while they carry the right ones.
    _INSTANCE_CREATE_ACTIONS: ClassVar[list[str]] = ["rds:CreateDBInstance", "rds:AddTagsToResource"]
    _INSTANCE_CHANGE_ACTIONS: ClassVar[list[str]] = ["rds:ModifyDBInstance", "rds:DeleteDBInstance"]
    # DeleteDBCluster with a final snapshot authorizes on the snapshot too; CopyTagsToSnapshot tags it.
    _SNAPSHOT_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBClusterSnapshot",
        "rds:DeleteDBCluster",
        "rds:AddTagsToResource",
    ]

    def _grant_rds_common(self, findings: list[str], reason: str) -> None:
        """The managed-secret and service-linked-role grants; ``findings``/``reason``: the caller's
        own wildcards, acknowledged together with these."""
        self._allow(
            "ManagedMasterUserSecret",
            MANAGED_SECRET_ACTIONS,
            [self._arn("secretsmanager", "secret:rds!*")],
        )
        # The preflight reads the account's quotas (DBClusters, DBInstances) before a create.
        self._allow(
            "NoResourceLevelActions", ["secretsmanager:GetRandomPassword", "rds:DescribeAccountAttributes"], ["*"]
        )
        self._grant_service_linked_role("rds.amazonaws.com", "AWSServiceRoleForRDS")
        self._acknowledge(
            [f"Resource::{self._nag_arn('secretsmanager', 'secret:rds!*')}", *findings, "Resource::*"],
            "the master user secret is created by RDS under the 'rds!' prefix with a generated name; "
            "secretsmanager:GetRandomPassword and rds:DescribeAccountAttributes (read only) support no "
            f"resource-level permissions; {reason}",
        )
