"""Reading a Redshift cluster through :class:`~dbscale.core.redshift.RedshiftProvisioning`: its shape,
status, description and connection details, read fresh from AWS on every access."""

from __future__ import annotations

from typing import Any

from ..provisioning import ClusterProvisioning, ConnectionInfo
from .describe import SETTLED, cluster_arn, describe_cluster

# Create options dbscale sets itself or refuses (no password ever passes through dbscale).
RESERVED_OPTIONS = frozenset({"ClusterIdentifier", "NodeType", "NumberOfNodes", "ClusterType"})
FORBIDDEN_OPTIONS = frozenset({"MasterUserPassword", "ManageMasterPassword"})


class RedshiftState(ClusterProvisioning):
    """The reading part of :class:`~dbscale.core.redshift.RedshiftProvisioning` and what names the
    service: AWS's names for the same things as Aurora's."""

    service = "redshift"
    _client_service = "redshift"
    _label = "Redshift cluster"
    _tags_key = "Tags"
    _already_exists_codes = frozenset({"ClusterAlreadyExists", "ClusterAlreadyExistsFault"})
    _reserved_options = RESERVED_OPTIONS
    _forbidden_options = FORBIDDEN_OPTIONS
    _managed_password_option = "ManageMasterPassword"
    _tagging_calls = ("create_tags", "delete_tags")
    _status_key = "ClusterStatus"
    _settled_states = SETTLED

    def _describe(self) -> dict[str, Any]:
        return describe_cluster(self._client, self._name)

    @property
    def instance_type(self) -> str:
        """The node type, e.g. ``ra3.xlplus``."""
        return str(self._describe()["NodeType"])

    @property
    def cluster_size(self) -> int:
        """The number of nodes."""
        return int(self._describe()["NumberOfNodes"])

    @property
    def status(self) -> str:
        """AWS's ClusterStatus, e.g. ``available``, ``resizing``, ``paused``."""
        return str(self._describe()["ClusterStatus"])

    @property
    def paused(self) -> bool:
        """True when the cluster is paused (not while it is pausing)."""
        return self.status == "paused"

    def __repr__(self) -> str:
        try:
            c = self._describe()
        except Exception:  # a repr must not raise
            return f"RedshiftProvisioning(cluster_name={self._name!r})"
        return (
            f"RedshiftProvisioning(cluster_name={self._name!r}, instance_type={c['NodeType']!r}, "
            f"cluster_size={c['NumberOfNodes']}, status={c['ClusterStatus']!r}, "
            f"adopted={not self._owned(c)})"
        )

    def describe(self) -> dict[str, Any]:
        """The cluster as DescribeClusters returns it (no secret values are in it)."""
        return self._describe()

    def connection_info(self) -> ConnectionInfo:
        """Endpoint, database, user and the ARN of the AWS-managed secret (never a password)."""
        c = self._describe()
        endpoint = c.get("Endpoint") or {}
        return ConnectionInfo(
            host=endpoint.get("Address"),
            port=endpoint.get("Port"),
            database=c.get("DBName"),
            user=c.get("MasterUsername"),
            secret_arn=c.get("MasterPasswordSecretArn"),
        )

    def _arn(self, cluster: dict[str, Any]) -> str:
        return cluster_arn(self._session, cluster, self._name)
