"""What the two Aurora providers (cluster and clone) share."""

from __future__ import annotations

from typing import ClassVar

from ._base import ClusterProvider


class _RdsProvider(ClusterProvider):
    """What the Aurora providers share: RDS's managed master user secret and service-linked role,
    and the actions on a cluster, its instances and its final snapshots once it exists."""

    service = "rds"

    _MANAGE_ACTIONS: ClassVar[list[str]] = [
        "rds:ModifyDBCluster",
        "rds:FailoverDBCluster",
        "rds:StartDBCluster",
        "rds:DeleteDBCluster",
        "rds:CreateDBInstance",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:ListTagsForResource",
    ]
    _INSTANCE_ACTIONS: ClassVar[list[str]] = [
        "rds:CreateDBInstance",
        "rds:ModifyDBInstance",
        "rds:DeleteDBInstance",
        "rds:DescribeDBInstances",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:ListTagsForResource",
    ]
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
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:DescribeSecret",
                "secretsmanager:UpdateSecret",
                "secretsmanager:RotateSecret",
                "secretsmanager:DeleteSecret",
            ],
            [self._arn("secretsmanager", "secret:rds!*")],
        )
        self._allow("NoResourceLevelActions", ["secretsmanager:GetRandomPassword"], ["*"])
        self._grant_service_linked_role("rds.amazonaws.com", "AWSServiceRoleForRDS")
        self._acknowledge(
            [f"Resource::{self._nag_arn('secretsmanager', 'secret:rds!*')}", *findings, "Resource::*"],
            "the master user secret is created by RDS under the 'rds!' prefix with a generated name; "
            f"secretsmanager:GetRandomPassword supports no resource-level permissions; {reason}",
        )
