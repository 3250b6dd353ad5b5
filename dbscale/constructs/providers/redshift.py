"""``RedshiftClusterProvider``: the provider of ``Custom::RedshiftCluster``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from aws_cdk import aws_logs as logs
from constructs import Construct

from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE, REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX

from .._support import is_token
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
        "redshift:EnableLogging",
        "redshift:DisableLogging",
        "redshift:DescribeLoggingStatus",
        "redshift:ModifyClusterIamRoles",
        "redshift:RebootCluster",
    ]
    # dbscale's own TLS parameter group ('<cluster>-dbscale-tls'): made with dbscale's tag, changed
    # and deleted only while it carries it; any named group is only read (its require_ssl).
    _READ_GROUP_ACTIONS: ClassVar[list[str]] = ["redshift:DescribeClusterParameters"]
    # RestoreFromClusterSnapshot authorizes on the new cluster and on the snapshot: one statement.
    _RESTORE_ACTIONS: ClassVar[list[str]] = ["redshift:RestoreFromClusterSnapshot"]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cluster_identifier_prefix: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
        memory_size: int = 256,
        guardrails: Guardrails | None = None,
        iam_role_arns: Sequence[str] = (),
    ) -> None:
        """:param iam_role_arns: standalone providers: the IAM roles templates may attach to clusters
        (``IamRoles``), which the provider may pass to Redshift. Default none (a template's
        ``IamRoles`` is then refused by IAM). The cluster constructs grant their own roles.
        Other parameters: see :class:`ClusterProvider`."""
        super().__init__(
            scope,
            id,
            cluster_identifier_prefix=cluster_identifier_prefix,
            log_retention=log_retention,
            memory_size=memory_size,
            guardrails=guardrails,
        )
        if iam_role_arns:
            self.grant_pass_roles(list(iam_role_arns))

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
        self._allow(
            "NoResourceLevelActions",
            [
                "secretsmanager:GetRandomPassword",
                "redshift:DescribeClusters",
                "redshift:DescribeClusterParameterGroups",
            ],
            ["*"],
        )
        self._grant_service_linked_role("redshift.amazonaws.com", "AWSServiceRoleForRedshift")
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('secretsmanager', 'secret:redshift!*')}",
                "Resource::*",
            ],
            "the admin secret is created by Redshift with a generated name under the 'redshift!' prefix "
            "(ManageMasterPassword); secretsmanager:GetRandomPassword, redshift:DescribeClusters, "
            "DescribeClusterParameterGroups and (with a restore) DescribeClusterSnapshots (read only) support no "
            "resource-level permissions",
        )

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        self._grant_clusters(self._arn("redshift", f"cluster:{identifier}"))
        self._grant_parameter_groups(
            self._arn("redshift", f"parametergroup:{identifier}{REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX}"),
            [self._arn("redshift", f"parametergroup:{parameter_group_name}")] if parameter_group_name else [],
        )
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

    def _grant_parameter_groups(self, owned: str, named: list[str]) -> None:
        self._allow(
            "CreateParameterGroups",
            ["redshift:CreateClusterParameterGroup", "redshift:CreateTags"],
            [owned],
            _CREATED_WITH_DBSCALE_TAG,
        )
        self._allow(
            "ChangeParameterGroups",
            ["redshift:ModifyClusterParameterGroup", "redshift:DeleteClusterParameterGroup"],
            [owned],
            _MADE_BY_DBSCALE,
        )
        self._allow("ReadParameterGroups", self._READ_GROUP_ACTIONS, [owned, *named])

    # --- grants for what a cluster is given ---------------------------------------------------

    def grant_pass_roles(self, role_arns: list[str]) -> None:
        """Let the provider attach these IAM roles to clusters (``IamRoles``): iam:PassRole to Redshift only."""
        self._allow(
            "PassRolesToRedshift",
            ["iam:PassRole"],
            role_arns,
            {"StringEquals": {"iam:PassedToService": "redshift.amazonaws.com"}},
        )
        self._allow("ReadRoles", ["iam:GetRole"], role_arns)  # the preflight: each exists and trusts Redshift

    def grant_restore(self, identifier: str, snapshot_arn: str) -> None:
        """Let the provider restore cluster ``identifier`` from the snapshot ``snapshot_arn``."""
        self._allow("Restore", self._RESTORE_ACTIONS, [self._arn("redshift", f"cluster:{identifier}"), snapshot_arn])
        self._allow("FindSnapshots", ["redshift:DescribeClusterSnapshots"], ["*"])  # no resource-level form

    def grant_secret_key(self, key_arn: str) -> None:
        """Let Secrets Manager encrypt the admin secret with ``key_arn`` on the provider's behalf
        (``MasterPasswordSecretKmsKeyId``)."""
        self._allow(
            "KmsForAdminSecret",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            [key_arn],
            {"StringEquals": {"kms:ViaService": f"secretsmanager.{self._region}.amazonaws.com"}},
        )

    def _grant_prefix(self, prefix: str) -> None:
        self._grant_clusters(self._arn("redshift", f"cluster:{prefix}*"))
        self._grant_parameter_groups(
            self._arn("redshift", f"parametergroup:{prefix}*{REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX}"),
            [self._arn("redshift", "parametergroup:*")],
        )
        # Templates name their snapshots (any cluster's, shared from any account): read and restore only.
        any_snapshot = f"arn:{self._partition}:redshift:{self._region}:*:snapshot:*/*"
        self._allow("Restore", self._RESTORE_ACTIONS, [self._arn("redshift", f"cluster:{prefix}*"), any_snapshot])
        self._allow("FindSnapshots", ["redshift:DescribeClusterSnapshots"], ["*"])  # no resource-level form
        self.grant_secret_key(self._arn("kms", "key/*"))
        suffix = REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX
        nag_region = "<AWS::Region>" if is_token(self._region) else self._region  # as cdk-nag prints it
        self._allow("FinalSnapshots", self._SNAPSHOT_ACTIONS, [self._arn("redshift", f"snapshot:{prefix}*/*")])
        # Keys of templates this provider serves are unknown here: any key, but only through
        # Redshift and only for grants to Redshift itself.
        self._grant_key(self._arn("kms", "key/*"), via_service=True)
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('redshift', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('redshift', f'snapshot:{prefix}*/*')}",
                f"Resource::{self._nag_arn('kms', 'key/*')}",
                f"Resource::{self._nag_arn('redshift', f'parametergroup:{prefix}*{suffix}')}",
                f"Resource::{self._nag_arn('redshift', 'parametergroup:*')}",
                f"Resource::arn:<AWS::Partition>:redshift:{nag_region}:*:snapshot:*/*",
            ],
            f"a standalone provider serves templates unknown at synth time: clusters and dbscale's own parameter "
            f"groups are limited to the '{prefix}' identifier prefix (groups made with, and changed only while "
            "carrying, dbscale's tag); named parameter groups are only read; snapshots are only read and restored "
            "from; keys are usable only through Redshift for Redshift grants and through Secrets Manager for the "
            "admin secret",
        )
