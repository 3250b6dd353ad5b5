"""Service limits, node specifications and list prices: the one place dbscale keeps AWS facts.

Prices are US East (N. Virginia) on-demand list prices in USD, used for relative cost decisions
(``can_boot_redshift``, the autoscaler, benchmarks), not for billing. Other regions differ by a
roughly constant factor, which cancels out in the comparisons dbscale makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

GIB = 1024**3
"""Bytes in a gibibyte."""
TB = 10**12
"""Bytes in a terabyte (decimal): Athena bills per TB scanned, not per TiB."""


# --- Redshift -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedshiftNodeType:
    """One provisioned Redshift node type.

    ``min_nodes``/``max_nodes`` bound the cluster size at creation and for classic resize.
    ``elastic_max_nodes`` is the largest size elastic resize can reach (it may exceed
    ``max_nodes`` for RA3). ``elastic_factor`` bounds one elastic resize of the node count: the new
    count is within [current / factor, current * factor].
    """

    name: str
    vcpu: int
    memory_gib: int
    slices_per_node: int
    min_nodes: int
    max_nodes: int
    elastic_max_nodes: int
    elastic_factor: int
    usd_per_node_hour: float


def _redshift_table(*types: RedshiftNodeType) -> Mapping[str, RedshiftNodeType]:
    return MappingProxyType({t.name: t for t in types})


# Node ranges: https://docs.aws.amazon.com/redshift/latest/mgmt/working-with-clusters.html
# ("Node type details"); elastic bounds: .../mgmt/resizing-cluster.html ("Elastic resize").
REDSHIFT_NODE_TYPES: Mapping[str, RedshiftNodeType] = _redshift_table(
    RedshiftNodeType("dc2.large", 2, 15, 2, 1, 32, 32, 2, 0.25),
    RedshiftNodeType("dc2.8xlarge", 32, 244, 16, 2, 128, 128, 2, 4.80),
    RedshiftNodeType("ra3.large", 2, 16, 2, 1, 16, 32, 2, 0.543),
    RedshiftNodeType("ra3.xlplus", 4, 32, 2, 1, 16, 32, 2, 1.086),
    RedshiftNodeType("ra3.4xlarge", 12, 96, 4, 2, 32, 64, 4, 3.26),
    RedshiftNodeType("ra3.16xlarge", 48, 384, 16, 2, 128, 128, 4, 13.04),
)

REDSHIFT_DEFAULT_PORT = 5439
REDSHIFT_PORT_RANGE = (1115, 65535)

# --- Aurora ---------------------------------------------------------------------------------

AURORA_ENGINES: tuple[str, ...] = ("aurora-postgresql", "aurora-mysql")
AURORA_DEFAULT_MASTER_USERNAME: Mapping[str, str] = MappingProxyType(
    {"aurora-postgresql": "postgres", "aurora-mysql": "admin"}
)
AURORA_DEFAULT_PORT: Mapping[str, int] = MappingProxyType(
    {"aurora-postgresql": 5432, "aurora-mysql": 3306}
)
AURORA_MAX_READERS = 15
"""An Aurora cluster has at most 15 Aurora Replicas besides its writer."""

AURORA_SERVERLESS_INSTANCE_CLASS = "db.serverless"
SERVERLESS_V2_MIN_ACU = 0.0
"""Serverless v2 minimum capacity may be 0 (auto-pause) on recent engine versions."""
SERVERLESS_V2_MAX_ACU = 256.0
SERVERLESS_V2_LOWEST_MAX_ACU = 1.0
SERVERLESS_V2_ACU_STEP = 0.5
SERVERLESS_V2_GIB_PER_ACU = 2
SERVERLESS_V2_USD_PER_ACU_HOUR = 0.12

MAX_CLONES_PER_SOURCE = 15
"""Aurora allows up to 15 copy-on-write clones based on one copy (including clones of clones)."""

ATHENA_USD_PER_TB = 5.0
"""Athena SQL query price per TB (10**12 bytes) scanned."""
ATHENA_MIN_BYTES_PER_QUERY = 10 * 1000**2
"""Athena bills at least 10 MB per query."""


@dataclass(frozen=True)
class AuroraInstanceClass:
    """One Aurora DB instance class: memory in GiB, vCPUs, and the on-demand price per hour (USD)."""

    name: str
    vcpu: int
    memory_gib: int
    usd_per_hour: float


def _aurora_table(*classes: AuroraInstanceClass) -> Mapping[str, AuroraInstanceClass]:
    return MappingProxyType({c.name: c for c in classes})


# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.DBInstanceClass.Summary.html
AURORA_INSTANCE_CLASSES: Mapping[str, AuroraInstanceClass] = _aurora_table(
    AuroraInstanceClass("db.t3.medium", 2, 4, 0.082),
    AuroraInstanceClass("db.t3.large", 2, 8, 0.164),
    AuroraInstanceClass("db.t4g.medium", 2, 4, 0.073),
    AuroraInstanceClass("db.t4g.large", 2, 8, 0.146),
    AuroraInstanceClass("db.r5.large", 2, 16, 0.29),
    AuroraInstanceClass("db.r5.xlarge", 4, 32, 0.58),
    AuroraInstanceClass("db.r5.2xlarge", 8, 64, 1.16),
    AuroraInstanceClass("db.r5.4xlarge", 16, 128, 2.32),
    AuroraInstanceClass("db.r5.8xlarge", 32, 256, 4.64),
    AuroraInstanceClass("db.r5.12xlarge", 48, 384, 6.96),
    AuroraInstanceClass("db.r5.16xlarge", 64, 512, 9.28),
    AuroraInstanceClass("db.r5.24xlarge", 96, 768, 13.92),
    AuroraInstanceClass("db.r6g.large", 2, 16, 0.26),
    AuroraInstanceClass("db.r6g.xlarge", 4, 32, 0.519),
    AuroraInstanceClass("db.r6g.2xlarge", 8, 64, 1.038),
    AuroraInstanceClass("db.r6g.4xlarge", 16, 128, 2.076),
    AuroraInstanceClass("db.r6g.8xlarge", 32, 256, 4.153),
    AuroraInstanceClass("db.r6g.12xlarge", 48, 384, 6.229),
    AuroraInstanceClass("db.r6g.16xlarge", 64, 512, 8.306),
    AuroraInstanceClass("db.r6i.large", 2, 16, 0.29),
    AuroraInstanceClass("db.r6i.xlarge", 4, 32, 0.58),
    AuroraInstanceClass("db.r6i.2xlarge", 8, 64, 1.16),
    AuroraInstanceClass("db.r6i.4xlarge", 16, 128, 2.32),
    AuroraInstanceClass("db.r6i.8xlarge", 32, 256, 4.64),
    AuroraInstanceClass("db.r7g.large", 2, 16, 0.276),
    AuroraInstanceClass("db.r7g.xlarge", 4, 32, 0.553),
    AuroraInstanceClass("db.r7g.2xlarge", 8, 64, 1.106),
    AuroraInstanceClass("db.r7g.4xlarge", 16, 128, 2.211),
    AuroraInstanceClass("db.r7g.8xlarge", 32, 256, 4.422),
    AuroraInstanceClass("db.r7g.12xlarge", 48, 384, 6.634),
    AuroraInstanceClass("db.r7g.16xlarge", 64, 512, 8.845),
    AuroraInstanceClass("db.r8g.large", 2, 16, 0.276),
    AuroraInstanceClass("db.r8g.xlarge", 4, 32, 0.552),
    AuroraInstanceClass("db.r8g.2xlarge", 8, 64, 1.104),
    AuroraInstanceClass("db.r8g.4xlarge", 16, 128, 2.208),
    AuroraInstanceClass("db.x2g.large", 2, 32, 0.419),
    AuroraInstanceClass("db.x2g.xlarge", 4, 64, 0.838),
    AuroraInstanceClass("db.x2g.2xlarge", 8, 128, 1.676),
)

# --- Identifiers ----------------------------------------------------------------------------

CLUSTER_IDENTIFIER_MAX_LENGTH = 63
"""Redshift and Aurora cluster identifiers: 1-63 characters, a letter first, then lowercase
letters, digits and single hyphens, not ending in a hyphen."""
SNAPSHOT_IDENTIFIER_MAX_LENGTH = 255

# --- Tags dbscale writes --------------------------------------------------------------------

CREATED_BY_TAG_KEY = "dbscale:created-by"
CREATED_BY_TAG_VALUE = "dbscale"
