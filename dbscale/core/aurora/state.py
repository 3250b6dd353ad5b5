"""Reading an Aurora cluster through :class:`~dbscale.core.aurora.RdsProvisioning`: its writer's class,
readers, ACU range, status, description and connection details, read fresh from AWS on every access."""

from __future__ import annotations

from typing import Any

from ..provisioning import ClusterProvisioning, ConnectionInfo
from .describe import SETTLED, acu_range, describe_db_cluster, describe_db_instance

# Create options dbscale sets itself or refuses (no password ever passes through dbscale).
RESERVED_OPTIONS = frozenset({"DBClusterIdentifier", "Engine", "EngineVersion", "ServerlessV2ScalingConfiguration"})
FORBIDDEN_OPTIONS = frozenset({"MasterUserPassword", "ManageMasterUserPassword"})


class AuroraState(ClusterProvisioning):
    """The reading part of :class:`~dbscale.core.aurora.RdsProvisioning` and what names the service:
    AWS's names for the same things as Redshift's."""

    service = "aurora"
    _client_service = "rds"
    _label = "Aurora cluster"
    _tags_key = "TagList"
    _already_exists_codes = frozenset({"DBClusterAlreadyExistsFault"})
    _reserved_options = RESERVED_OPTIONS
    _forbidden_options = FORBIDDEN_OPTIONS
    _managed_password_option = "ManageMasterUserPassword"
    _tagging_calls = ("add_tags_to_resource", "remove_tags_from_resource")
    _status_key = "Status"
    _settled_states = SETTLED

    def _describe(self) -> dict[str, Any]:
        return describe_db_cluster(self._client, self._name)

    def _writer(self, cluster: dict[str, Any]) -> dict[str, Any] | None:
        for member in cluster.get("DBClusterMembers", []):
            if member.get("IsClusterWriter"):
                return describe_db_instance(self._client, member["DBInstanceIdentifier"])
        return None

    @property
    def instance_type(self) -> str | None:
        """The writer's DB instance class (``db.serverless`` for Serverless v2); None without a writer."""
        writer = self._writer(self._describe())
        return None if writer is None else str(writer["DBInstanceClass"])

    @property
    def reader_count(self) -> int:
        """The number of reader instances."""
        return sum(1 for m in self._describe().get("DBClusterMembers", []) if not m.get("IsClusterWriter"))

    @property
    def status(self) -> str:
        """AWS's cluster Status, e.g. ``available``, ``stopped``, ``modifying``."""
        return str(self._describe()["Status"])

    @property
    def paused(self) -> bool:
        """True when the cluster is stopped (not while it is stopping)."""
        return self.status == "stopped"

    @property
    def serverless_v2_capacity(self) -> tuple[float, float] | None:
        """The Serverless v2 (min, max) ACU range, or None when the cluster has none."""
        return acu_range(self._describe())

    @property
    def engine(self) -> str:
        """``aurora-postgresql`` or ``aurora-mysql``."""
        return str(self._describe()["Engine"])

    def describe(self) -> dict[str, Any]:
        """The cluster as DescribeDBClusters returns it (no secret values are in it)."""
        return self._describe()

    def __repr__(self) -> str:
        try:
            c = self._describe()
            writer = self._writer(c)
        except Exception:  # a repr must not raise
            return f"RdsProvisioning(cluster_name={self._name!r})"
        readers = sum(1 for m in c.get("DBClusterMembers", []) if not m.get("IsClusterWriter"))
        return (
            f"RdsProvisioning(cluster_name={self._name!r}, engine={c.get('Engine')!r}, "
            f"instance_type={writer['DBInstanceClass'] if writer else None!r}, reader_count={readers}, "
            f"serverless_v2_capacity={acu_range(c)}, status={c['Status']!r}, adopted={not self._owned(c)})"
        )

    def connection_info(self) -> ConnectionInfo:
        """Writer and reader endpoints, port, database, user and the managed secret's ARN (never a password)."""
        c = self._describe()
        return ConnectionInfo(
            host=c.get("Endpoint"),
            port=c.get("Port"),
            database=c.get("DatabaseName"),
            user=c.get("MasterUsername"),
            secret_arn=(c.get("MasterUserSecret") or {}).get("SecretArn"),
            reader_host=c.get("ReaderEndpoint"),
        )

    def _arn(self, cluster: dict[str, Any]) -> str:
        return str(cluster["DBClusterArn"])
