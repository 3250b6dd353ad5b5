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
    elastic_shrink_factor: int = 0
    """Elastic resize shrinks the count to as little as current / this; 0 means ``elastic_factor``."""


def _redshift_table(*types: RedshiftNodeType) -> Mapping[str, RedshiftNodeType]:
    return MappingProxyType({t.name: t for t in types})


# Node ranges: https://docs.aws.amazon.com/redshift/latest/mgmt/working-with-clusters.html
# ("Node type details"); elastic bounds: .../mgmt/resizing-cluster.html ("Elastic resize").
# Verified against those pages (see docs/aws-facts.md, section 1):
# - vCPU/GiB/slices and create ranges for dc2.*, ra3.xlplus/4xlarge/16xlarge; ra3.xlplus creates up to
#   16 and elastic-resizes to 32, ra3.4xlarge creates up to 32 and elastic-resizes to 64.
# - Elastic growth/reduction (resizing-cluster.html table): ra3.16xlarge/4xlarge 4x / to 1/4;
#   ra3.xlplus 2x / to 1/4; ra3.large 2x / to 1/2; dc2.* 2x / to 1/2. elastic_factor holds the
#   growth limit, so for ra3.xlplus the shrink bound it implies (1/2) is stricter than AWS's (1/4).
# - ra3.large row (2 vCPU, 16 GiB, 2 slices, 1 or 2-16 nodes) matches secondary summaries of the
#   current guide only; its elastic_max_nodes (32) is NOT verified.
# - usd_per_node_hour: not readable from https://aws.amazon.com/redshift/pricing/ here; the values
#   match third-party Price List API captures (unverified first-hand).
# - DC2 is deprecated (AWS, April 2025) and the API now also accepts rg.large/xlarge/4xlarge/12xlarge
#   (API_CreateCluster NodeType), which this table does not list.
REDSHIFT_NODE_TYPES: Mapping[str, RedshiftNodeType] = _redshift_table(
    RedshiftNodeType("dc2.large", 2, 15, 2, 1, 32, 32, 2, 0.25),
    RedshiftNodeType("dc2.8xlarge", 32, 244, 16, 2, 128, 128, 2, 4.80),
    RedshiftNodeType("ra3.large", 2, 16, 2, 1, 16, 32, 2, 0.543),
    RedshiftNodeType("ra3.xlplus", 4, 32, 2, 1, 16, 32, 2, 1.086, elastic_shrink_factor=4),
    RedshiftNodeType("ra3.4xlarge", 12, 96, 4, 2, 32, 64, 4, 3.26),
    RedshiftNodeType("ra3.16xlarge", 48, 384, 16, 2, 128, 128, 4, 13.04),
)

REDSHIFT_DEFAULT_PORT = 5439
REDSHIFT_RESIZE_TYPES: tuple[str, ...] = ("auto", "elastic", "classic")
"""``auto`` lets dbscale choose elastic resize when AWS allows it, classic otherwise."""
REDSHIFT_PORT_RANGE = (1150, 65535)
REDSHIFT_RA3_PORT_RANGES: tuple[tuple[int, int], ...] = ((5431, 5455), (8191, 8215))
"""New RA3 (and RG) clusters accept only these ports (CreateCluster API reference, ``Port``)."""
# CreateCluster/ModifyCluster Port: DC2 1150-65535; RA3/RG clusters must use 5431-5455 or 8191-8215
# (existing RA3/RG clusters may keep other ports). This single range is only right for DC2.
# https://docs.aws.amazon.com/redshift/latest/APIReference/API_CreateCluster.html

# --- Aurora ---------------------------------------------------------------------------------

AURORA_ENGINES: tuple[str, ...] = ("aurora-postgresql", "aurora-mysql")
AURORA_DEFAULT_MASTER_USERNAME: Mapping[str, str] = MappingProxyType(
    {"aurora-postgresql": "postgres", "aurora-mysql": "admin"}
)
AURORA_DEFAULT_PORT: Mapping[str, int] = MappingProxyType({"aurora-postgresql": 5432, "aurora-mysql": 3306})
AURORA_BACKUP_RETENTION_DAYS = (1, 35)
"""Aurora keeps automated backups for 1 to 35 days."""
AURORA_MAX_READERS = 15
"""An Aurora cluster has at most 15 Aurora Replicas besides its writer.

https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-replicas-adding.html
"""

AURORA_SERVERLESS_INSTANCE_CLASS = "db.serverless"
SERVERLESS_V2_MIN_ACU = 0.0
"""Serverless v2 minimum capacity may be 0 (auto-pause) on recent engine versions.

0 needs Aurora PostgreSQL 13.15/14.12/15.7/16.3+ or Aurora MySQL 3.08.0+; older versions start at
0.5. Max is 256 (128 on older versions), in 0.5 steps; a max of 1 is the lowest (the max must be
above 0.5). https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.how-it-works.html
"""
SERVERLESS_V2_MAX_ACU = 256.0
SERVERLESS_V2_AUTO_PAUSE_SECONDS = (300, 86_400)
"""With a 0-ACU minimum, how long an instance must be idle before Aurora pauses it: 5 minutes to
one day (AWS's default 300). https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html"""
SERVERLESS_V2_LOWEST_MAX_ACU = 1.0
SERVERLESS_V2_ACU_STEP = 0.5
SERVERLESS_V2_GIB_PER_ACU = 2
SERVERLESS_V2_USD_PER_ACU_HOUR = 0.12
# Aurora Standard, us-east-1 ($0.16 on I/O-Optimized): matches third-party Price List API captures;
# not readable from https://aws.amazon.com/rds/aurora/pricing/ here (unverified first-hand).

MAX_CLONES_PER_SOURCE = 15
"""Copy-on-write clones per source before Aurora falls back to full copies.

The Aurora User Guide ("Limitations of Aurora cloning") now says you can create as many clones as the
Region's DB cluster quota allows (40 by default), and up to 15 of them with the copy-on-write
protocol; past 15 the next clone is a full copy (it acts like a point-in-time restore: slower, full
storage). So 15 is not a hard error limit. One current localized copy of the page no longer states
the 15. RestoreDBClusterToPointInTime defaults to a full copy unless RestoreType='copy-on-write'.
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Clone.html
"""

ATHENA_USD_PER_TB = 5.0
"""Athena SQL query price per TB (10**12 bytes) scanned.

$5/TB, rounded up to the nearest MB, 10 MB minimum per query: secondary sources only; the table on
https://aws.amazon.com/athena/pricing/ was not readable here, and whether AWS's TB/MB are decimal is
not stated in what could be checked.
"""
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
# vCPU/GiB verified there for db.t3, db.t4g, db.r5, db.r6g, db.r6i and db.x2g; db.r7g and db.r8g are
# not verified (they follow the same 8 GiB per vCPU shape). usd_per_hour (Aurora PostgreSQL, Aurora
# Standard, us-east-1) is not verified: https://aws.amazon.com/rds/aurora/pricing/ was not readable.
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

# --- Names, tags and numbers in requests (checked by dbscale.core.validation) ----------------
# API references (CreateCluster, CreateDBCluster, Tag, CreateClusterSubnetGroup,
# CreateDBSubnetGroup, CreateDBClusterParameterGroup), as quoted in each constant's docstring.

TAG_KEY_MAX_LENGTH = 128
"""Tag keys: 1-128 Unicode characters (Redshift and RDS Tag)."""
TAG_VALUE_MAX_LENGTH = 256
"""Tag values: 0-256 Unicode characters (Redshift and RDS Tag)."""
TAG_ALLOWED_PUNCTUATION = "_.:/=+-@"
"""Besides Unicode letters (L*), separators (Z*) and numbers (N*), tags may contain only these:
the Java regex ``^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`` of RDS's Tag, also Redshift's rule."""
TAG_RESERVED_KEY_PREFIXES: tuple[str, ...] = ("aws:", "dbscale:")
"""Keys no user tag may start with: AWS's own (case-insensitive) and the ones dbscale writes."""

REDSHIFT_DB_NAME_MAX_LENGTH = 64
"""Redshift DBName: 1-64 alphanumeric characters, lowercase letters only (CreateCluster)."""
REDSHIFT_MASTER_USERNAME_MAX_LENGTH = 128
"""Redshift MasterUsername: 1-128 of lowercase letters, digits, ``_ + . @ -``, a letter first,
not ``public`` (CreateCluster)."""
AURORA_DB_NAME_MAX_LENGTH: Mapping[str, int] = MappingProxyType({"aurora-postgresql": 63, "aurora-mysql": 64})
"""Aurora DatabaseName: a letter first, then letters, digits and underscores; up to 63 characters
(PostgreSQL identifiers) or 64 (MySQL) (CreateDBCluster, DatabaseName)."""
AURORA_MASTER_USERNAME_MAX_LENGTH: Mapping[str, int] = MappingProxyType({"aurora-postgresql": 63, "aurora-mysql": 16})
"""Aurora MasterUsername: a letter first, then letters, digits and underscores. CreateDBCluster
says 1-16 letters or numbers; Aurora PostgreSQL accepts up to 63 (its identifier limit)."""
GROUP_NAME_MAX_LENGTH = 255
"""Subnet and parameter group names: at most 255 characters (CreateClusterSubnetGroup,
CreateDBSubnetGroup, CreateDBClusterParameterGroup)."""
SECURITY_GROUP_ID_HEX_LENGTHS: tuple[int, ...] = (8, 17)
"""``sg-`` then 8 (older) or 17 hexadecimal digits."""
KMS_KEY_ID_MAX_LENGTH = 2048
"""KMS key ids: key id, key ARN, alias name or alias ARN, 1-2048 characters (KMS KeyIdType)."""
ENGINE_VERSION_MAX_LENGTH = 64
"""Aurora engine versions such as ``16.4`` or ``8.0.mysql_aurora.3.08.0``: ASCII letters, digits,
``.``, ``_`` and ``-``; 64 characters is far above any version AWS has published."""

REQUEST_INTEGER_MAX_DIGITS = 18
"""A whole number in a request has at most 18 digits: every count, port and limit dbscale takes is
far below 10**18, and the cap keeps parsing linear (no 10,000-digit integers)."""
REQUEST_NUMBER_MAX_LENGTH = 64
"""A decimal number in a request is at most 64 characters long."""
MAX_COPY_AGE_HOURS = 87_600.0
"""``MaxCopyAgeHours``/``max_copy_age`` at most 10 years (87,600 hours): Aurora has existed for
less, so a larger limit means "no limit"; the bound keeps the age a valid ``timedelta``."""
EARLIEST_TIMESTAMP_YEAR = 2014
"""``CopyCreatedSince`` no earlier than 2014-01-01 UTC: Aurora launched in 2014, so no copy is
older, and the bound keeps time-zone arithmetic clear of ``datetime``'s year-1 limit."""

# --- Redshift cluster settings (CreateCluster / ModifyCluster / EnableLogging) -----------------

REDSHIFT_AUTOMATED_SNAPSHOT_RETENTION_DAYS = (0, 35)
"""AutomatedSnapshotRetentionPeriod: 0-35 days; 0 turns automated snapshots off, which RA3 node
types do not allow (their minimum is 1) (CreateCluster, ModifyCluster)."""
REDSHIFT_DEFAULT_AUTOMATED_SNAPSHOT_RETENTION_DAYS = 7
"""dbscale keeps a week of automated snapshots unless told otherwise (AWS's own default is 1)."""
REDSHIFT_MANUAL_SNAPSHOT_RETENTION_DAYS = (1, 3653)
"""ManualSnapshotRetentionPeriod: -1 (keep forever, AWS's default) or 1-3653 days."""
REDSHIFT_MANUAL_SNAPSHOT_KEEP_FOREVER = -1
REDSHIFT_MAINTENANCE_WINDOW_MIN_MINUTES = 30
"""PreferredMaintenanceWindow ``ddd:hh24:mi-ddd:hh24:mi`` (UTC): at least 30 minutes long."""
REDSHIFT_LOG_EXPORTS: tuple[str, ...] = ("connectionlog", "userlog", "useractivitylog")
"""The log types Redshift exports (EnableLogging LogExports); dbscale exports all three by default."""
REDSHIFT_LOG_DESTINATIONS: tuple[str, ...] = ("cloudwatch", "s3")
REDSHIFT_LOG_S3_KEY_PREFIX_MAX_LENGTH = 512
"""S3KeyPrefix: Redshift documents the characters, not a length; S3 keys are at most 1,024 bytes
and Redshift appends its own path and file name, so dbscale allows half of that."""
S3_BUCKET_NAME_LENGTH = (3, 63)
"""S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, a letter or digit at each end."""
REDSHIFT_MAX_IAM_ROLES = 50
"""IamRoles: at most 50 roles per cluster (Redshift quota "IAM roles for a cluster")."""
REDSHIFT_PARAMETER_GROUP_FAMILY = "redshift-1.0"
"""The only Redshift parameter group family."""
REDSHIFT_TLS_PARAMETER_GROUP_SUFFIX = "-dbscale-tls"
"""dbscale's own parameter group of a cluster is named ``<cluster identifier>-dbscale-tls``."""
REDSHIFT_TLS_PARAMETERS: Mapping[str, str] = MappingProxyType(
    {"require_ssl": "true", "enable_user_activity_logging": "true"}
)
"""What dbscale's own parameter group sets: TLS required for every connection, and the user
activity log recorded (without it the exported useractivitylog stays empty)."""

# --- Aurora settings (issue 12: parity with AWS::RDS::DBCluster / AWS::RDS::DBInstance) ------------

AURORA_PERFORMANCE_INSIGHTS_RETENTION_DAYS: tuple[int, ...] = (7, *(31 * months for months in range(1, 24)), 731)
"""Performance Insights keeps data 7 days (free tier), a multiple of 31 days (1 to 23 months), or 731
days. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"""
AURORA_PERFORMANCE_INSIGHTS_UNSUPPORTED_CLASSES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"aurora-mysql": ("db.t2.", "db.t3.", "db.t4g.micro", "db.t4g.small"), "aurora-postgresql": ()}
)
"""Instance classes (prefixes) without Performance Insights: Aurora MySQL on db.t2, db.t3 and
db.t4g.micro/small. https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_DatabaseInsights.Engines.html"""
AURORA_MONITORING_INTERVALS: tuple[int, ...] = (0, 1, 5, 10, 15, 30, 60)
"""Enhanced Monitoring intervals in seconds; 0 turns it off (then no MonitoringRoleArn)."""
AURORA_LOG_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "aurora-postgresql": ("postgresql", "instance", "iam-db-auth-error"),
        "aurora-mysql": ("audit", "error", "general", "slowquery", "instance", "iam-db-auth-error"),
    }
)
"""Log types an Aurora cluster can export to CloudWatch Logs (EnableCloudwatchLogsExports)."""
AURORA_DEFAULT_LOG_EXPORTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"aurora-postgresql": ("postgresql",), "aurora-mysql": ("audit", "error", "slowquery")}
)
"""What dbscale exports when EnableCloudwatchLogsExports is not given (``[]`` turns it off)."""
AURORA_TLS_PARAMETER: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"aurora-postgresql": ("rds.force_ssl", "1"), "aurora-mysql": ("require_secure_transport", "ON")}
)
"""The cluster parameter that makes clients use TLS, and its 'required' value. Both engines' default
groups leave it off (rds.force_ssl 0, require_secure_transport OFF)."""
AURORA_AUDIT_PARAMETERS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType(
    {
        "aurora-postgresql": (),
        "aurora-mysql": (("server_audit_logging", "1"), ("server_audit_events", "CONNECT,QUERY_DCL,QUERY_DDL")),
    }
)
"""What dbscale's own cluster parameter group also sets so the exported audit log has content."""
AURORA_AUTO_PAUSE_MINIMUM_VERSIONS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "aurora-postgresql": MappingProxyType({"13": "13.15", "14": "14.12", "15": "15.7", "16": "16.3"}),
        "aurora-mysql": MappingProxyType({"8.0": "8.0.mysql_aurora.3.08.0"}),
    }
)
"""The lowest version of each major that accepts a 0-ACU Serverless v2 minimum (auto-pause); majors
above those listed all do, majors below do not.
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.requirements.html"""
AURORA_WINDOW_MINIMUM_MINUTES = 30
"""PreferredBackupWindow and PreferredMaintenanceWindow last at least 30 minutes and must not overlap."""


# --- Long operations (the handlers' Step Functions executions; read by `dbscale status`) -------

OPERATIONS_STATE_MACHINE_SUFFIX = "-operations"
"""A provider function's state machine is named ``<function name>-operations``."""
OPERATION_DOCUMENT_KEY = "dbscale-operation"
"""The marker of an operation document (an execution's input) and of a check's payload."""
OPERATION_DOCUMENT_VERSION = 1
EXECUTION_NAME_PATTERN = r"^[0-9a-f]{24}-[0-9a-f]{24}$"
"""An execution is named ``<resource key>-<request hash>`` (24 hex characters each)."""
STEP_FUNCTIONS_INPUT_MAX_BYTES = 262_144
"""Step Functions' limit on an execution's input and every state's input and output (256 KiB, UTF-8)."""
