"""``DatabaseBootstrapProvider``: the provider of ``Custom::DatabaseBootstrap``."""

from __future__ import annotations

from constructs import IConstruct

from ._base import ClusterProvider


class DatabaseBootstrapProvider(ClusterProvider):
    """The provider of ``Custom::DatabaseBootstrap`` (handler ``dbscale.handlers.database_bootstrap.handler``).

    Not in a VPC: it reaches the databases through the RDS Data API and the Redshift Data API. Its
    role may run statements on the clusters of the bootstraps registered with it and read their
    master secrets and users' secrets, nothing else.

    A standalone provider (``cluster_identifier_prefix``, for plain templates) may run statements on
    the Aurora and Redshift clusters whose identifiers start with the prefix, signed in with their
    managed master secrets (RDS's ``rds!cluster-<uuid>`` only when tagged ``aws:rds:primaryDBClusterArn``
    with such a cluster; Redshift's ``redshift!<prefix>...``), and read users' secrets whose names
    start with the prefix. The handler refuses a managed master secret as a user's secret.
    """

    resource_type = "Custom::DatabaseBootstrap"
    handler_name = "dbscale.handlers.database_bootstrap.handler"
    singleton_id = "DbscaleDatabaseBootstrapProvider"
    service = "rds"

    def _grant_fixed(self) -> None:
        """Nothing: every grant names a registered cluster or secret."""

    def _grant_cluster(self, identifier: str, *, subnet_group_name: str, parameter_group_name: str | None) -> None:
        raise NotImplementedError("DatabaseBootstrapProvider registers bootstraps with grant_bootstrap()")

    def _grant_prefix(self, prefix: str) -> None:
        self._allow("RdsDataApi", ["rds-data:ExecuteStatement"], [self._arn("rds", f"cluster:{prefix}*")])
        # The preflight finds the cluster (and that its Data API is on) before the first statement.
        self._allow("FindRdsClusters", ["rds:DescribeDBClusters"], [self._arn("rds", f"cluster:{prefix}*")])
        self._allow("FindRedshiftClusters", ["redshift:DescribeClusters"], ["*"])  # no resource type in IAM
        self._allow(
            "RedshiftDataApi", ["redshift-data:ExecuteStatement"], [self._arn("redshift", f"cluster:{prefix}*")]
        )
        self._allow(
            "RedshiftDataApiStatements",
            ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:CancelStatement"],
            ["*"],
        )
        # RDS names a managed master secret rds!cluster-<uuid> and tags it with its cluster's ARN;
        # Redshift names it redshift!<cluster>-<user>-<suffix>. Users' secrets: named under the prefix.
        self._allow(
            "RdsMasterSecrets",
            ["secretsmanager:GetSecretValue"],
            [self._arn("secretsmanager", "secret:rds!cluster-*")],
            {
                "StringLike": {
                    "secretsmanager:ResourceTag/aws:rds:primaryDBClusterArn": self._arn("rds", f"cluster:{prefix}*")
                }
            },
        )
        self._allow(
            "DatabaseSecrets",
            ["secretsmanager:GetSecretValue"],
            [
                self._arn("secretsmanager", f"secret:redshift!{prefix}*"),
                self._arn("secretsmanager", f"secret:{prefix}*"),
            ],
        )
        self._acknowledge(
            [
                f"Resource::{self._nag_arn('rds', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('redshift', f'cluster:{prefix}*')}",
                f"Resource::{self._nag_arn('secretsmanager', 'secret:rds!cluster-*')}",
                f"Resource::{self._nag_arn('secretsmanager', f'secret:redshift!{prefix}*')}",
                f"Resource::{self._nag_arn('secretsmanager', f'secret:{prefix}*')}",
                "Resource::*",
            ],
            f"a standalone provider serves templates unknown here: statements only on clusters under the '{prefix}' "
            "prefix; their managed master secrets (rds!cluster-<uuid> only when tagged with such a cluster's ARN, "
            "redshift!<cluster>-...); users' secrets under the prefix (never a master secret: the handler refuses "
            "one); redshift-data statement actions and redshift:DescribeClusters (read only) support no "
            "resource-level permissions",
        )

    def grant_bootstrap(
        self,
        resource: IConstruct,
        *,
        cluster_arn: str | None,
        redshift_cluster: str | None,
        secret_arns: list[str],
    ) -> None:
        """Let the role run SQL on one cluster with ``secret_arns``; ``resource`` waits for the grant."""
        if cluster_arn is not None:
            self._allow("RdsDataApi", ["rds-data:ExecuteStatement"], [cluster_arn])
            self._allow("FindRdsClusters", ["rds:DescribeDBClusters"], [cluster_arn])  # the preflight
        if redshift_cluster is not None:
            cluster = self._arn("redshift", f"cluster:{redshift_cluster}")
            self._allow("RedshiftDataApi", ["redshift-data:ExecuteStatement"], [cluster])
            # Statement ids are the caller's own: these actions have no resource type in IAM, nor has
            # redshift:DescribeClusters (the preflight finds the cluster before the first statement).
            self._allow(
                "RedshiftDataApiStatements",
                [
                    "redshift-data:DescribeStatement",
                    "redshift-data:GetStatementResult",
                    "redshift-data:CancelStatement",
                    "redshift:DescribeClusters",
                ],
                ["*"],
            )
            self._acknowledge(
                ["Resource::*"],
                "redshift-data DescribeStatement, GetStatementResult and CancelStatement support no resource-level "
                "permissions; they only ever reach the statements this role ran; redshift:DescribeClusters "
                "(read only) has no resource type",
            )
        # The Data APIs read the secret as the caller.
        self._allow("DatabaseSecrets", ["secretsmanager:GetSecretValue"], secret_arns)
        resource.node.add_dependency(self.role)
        resource.node.add_dependency(self.policy)
