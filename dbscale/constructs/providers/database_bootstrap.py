"""``DatabaseBootstrapProvider``: the provider of ``Custom::DatabaseBootstrap``."""

from __future__ import annotations

from constructs import IConstruct

from ._base import ClusterProvider


class DatabaseBootstrapProvider(ClusterProvider):
    """The provider of ``Custom::DatabaseBootstrap`` (handler ``dbscale.handlers.database_bootstrap.handler``).

    Not in a VPC: it reaches the databases through the RDS Data API and the Redshift Data API. Its
    role may run statements on the clusters of the bootstraps registered with it and read their
    master secrets and users' secrets, nothing else.
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
        raise NotImplementedError("DatabaseBootstrapProvider serves only the bootstraps of its stack")

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
        if redshift_cluster is not None:
            cluster = self._arn("redshift", f"cluster:{redshift_cluster}")
            self._allow("RedshiftDataApi", ["redshift-data:ExecuteStatement"], [cluster])
            # Statement ids are the caller's own: these actions have no resource type in IAM.
            self._allow(
                "RedshiftDataApiStatements",
                [
                    "redshift-data:DescribeStatement",
                    "redshift-data:GetStatementResult",
                    "redshift-data:CancelStatement",
                ],
                ["*"],
            )
            self._acknowledge(
                ["Resource::*"],
                "redshift-data DescribeStatement, GetStatementResult and CancelStatement support no resource-level "
                "permissions; they only ever reach the statements this role ran",
            )
        # The Data APIs read the secret as the caller.
        self._allow("DatabaseSecrets", ["secretsmanager:GetSecretValue"], secret_arns)
        resource.node.add_dependency(self.role)
        resource.node.add_dependency(self.policy)
