"""Acknowledged findings of the lint of the rendered native templates, each with its reason.

Keys are ``(rule, resource)`` glob patterns (fnmatch): the rule id (``E3025``,
``AwsSolutions-RDS10``, ``HIPAA.Security-RDSInBackupPlan`` ...) and the rendered resource's
logical id (``AppDbCluster``, ``DevCloneInstance1``; a template name for template-level findings).
Every entry must still match a finding: tests/audit/test_native_lint.py fails on a stale one.

``ACKNOWLEDGED`` are accepted for good. ``PENDING_PARITY`` is for findings a change in flight will
fix, each naming the property that fixes it; it is empty now that issue 12's property parity and
secure defaults are in (the 52 findings pending before them went away, or moved to
``ACKNOWLEDGED`` with a real reason). The test fails on an entry of either table that matches no
finding, so neither can go stale.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

Key = tuple[str, str]

_CLONE_ENGINE = (
    "a clone's engine, encryption and key are its source's: RestoreDBClusterToPointInTime (copy-on-write) "
    "takes no Engine or StorageEncrypted, so rules keyed on them cannot evaluate"
)
_CLONE_DISPOSABLE = "a developer's clone is made to be thrown away with its stack (the source keeps the data)"
_BACKUP_PLAN = (
    "AWS Backup plans are the account's choice, made outside the cluster resource (a native DBInstance is "
    "flagged the same); the cluster's automated backups cover its instances"
)
_DEFAULT_PORT = (
    "the default port is not an access control: the cluster is private, reachable only through its security group"
)

ACKNOWLEDGED: dict[Key, str] = {
    ("I4010", "*"): (
        "informational: top-level Metadata.com.aws.cloudformation.Context describes a deployed template's "
        "architecture; the rendered templates are an audit view, never deployed"
    ),
    ("E3025", "DevCloneInstance1"): (
        "the example's developer clone class db.t4g.medium is not offered for Aurora PostgreSQL in "
        "il-central-1 (cfn-lint checks every region); a deployer there picks another InstanceClass"
    ),
    ("I3013", "DevCloneCluster"): f"BackupRetentionPeriod: {_CLONE_DISPOSABLE}",
    ("AwsSolutions-RDS11", "*AppDbCluster"): _DEFAULT_PORT,
    ("AwsSolutions-RDS11", "DevCloneCluster"): _DEFAULT_PORT,
    ("AwsSolutions-RS4", "*WarehouseCluster"): _DEFAULT_PORT,
    ("AwsSolutions-RDS6", "*AppDbCluster"): (
        "the example authenticates with the managed master password in Secrets Manager; IAM database "
        "authentication is an opt-in (EnableIAMDatabaseAuthentication) for applications that use it"
    ),
    ("*-RDSInBackupPlan", "*Instance*"): _BACKUP_PLAN,
    ("AwsSolutions-RDS2", "DevCloneCluster"): _CLONE_ENGINE,
    ("*-RDSStorageEncrypted", "DevCloneCluster"): _CLONE_ENGINE,
    ("AwsSolutions-RDS14", "DevCloneCluster"): _CLONE_ENGINE,
    ("AwsSolutions-RDS16", "DevCloneCluster"): _CLONE_ENGINE,
    ("*-RDSLoggingEnabled", "DevCloneCluster"): _CLONE_ENGINE,
    ("AwsSolutions-RDS10", "DevCloneCluster"): _CLONE_DISPOSABLE,
    ("*-RDSInstanceDeletionProtectionEnabled", "DevCloneCluster"): _CLONE_DISPOSABLE,
    ("AwsSolutions-RDS10", "*AppDbCluster"): (
        "the example follows CDK's rule: deletion protection comes with RemovalPolicy.RETAIN; AppDb's policy is "
        "SNAPSHOT (a final snapshot keeps the data on delete), so DeletionProtection stays off (it is a prop)"
    ),
    ("*-RDSInstanceDeletionProtectionEnabled", "*AppDbCluster"): (
        "the example follows CDK's rule: deletion protection comes with RemovalPolicy.RETAIN; AppDb's policy is "
        "SNAPSHOT (a final snapshot keeps the data on delete), so DeletionProtection stays off (it is a prop)"
    ),
    ("*-RDSEnhancedMonitoringEnabled", "DevCloneInstance*"): (
        f"{_CLONE_DISPOSABLE}; Custom::AuroraClone has no monitoring properties (issue 12 lists them for "
        "Custom::AuroraCluster)"
    ),
}


PENDING_PARITY: dict[Key, str] = {}
"""Empty since the parity work merged (findings it fixed went away; what stays is in ACKNOWLEDGED)."""


def matches(key: Key, finding: Key) -> bool:
    return fnmatchcase(finding[0], key[0]) and fnmatchcase(finding[1], key[1])


def triage(findings: set[Key]) -> tuple[list[Key], list[str]]:
    """(findings no entry covers, stale entries of either table that match no finding)."""
    tables = {"ACKNOWLEDGED": ACKNOWLEDGED, "PENDING_PARITY": PENDING_PARITY}
    return triage_with(findings, tables)


def triage_with(findings: set[Key], tables: dict[str, dict[Key, str]]) -> tuple[list[Key], list[str]]:
    uncovered = sorted(f for f in findings if not any(matches(k, f) for t in tables.values() for k in t))
    stale = [
        f"{name}[{key!r}] ({reason})"
        for name, table in tables.items()
        for key, reason in table.items()
        if not any(matches(key, f) for f in findings)
    ]
    return uncovered, stale
