"""The native resources an ``AuroraCluster`` makes besides its network and key: the TLS cluster
parameter group and the Enhanced Monitoring role."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from constructs import Construct

from dbscale.core.engine_versions import parameter_group_family
from dbscale.core.limits import AURORA_AUDIT_PARAMETERS

from ._support import fail, unresolved

# The parameter that makes the engine refuse unencrypted connections.
TLS_PARAMETERS: dict[str, dict[str, str]] = {
    "aurora-postgresql": {"rds.force_ssl": "1"},
    "aurora-mysql": {"require_secure_transport": "ON"},
}


def monitoring_role(owner: Construct, path: str) -> iam.Role:
    """The role RDS Enhanced Monitoring publishes OS metrics with (AWS's managed policy for it);
    ``path`` is the cluster construct's path, for the description."""
    role = iam.Role(
        owner,
        "MonitoringRole",
        assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonRDSEnhancedMonitoringRole")
        ],
        description=f"RDS Enhanced Monitoring for dbscale Aurora cluster {path}",
    )
    Validations.of(role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
            reason="AWS's managed policy for RDS Enhanced Monitoring: it only lets RDS write OS metrics to "
            "the RDSOSMetrics log group, and AWS keeps it current with the service",
        )
    )
    return role


def tls_parameter_group(
    owner: Construct, path: str, engine: str, version: str | None
) -> rds.CfnDBClusterParameterGroup:
    """The cluster parameter group that requires TLS (and turns audit logging on, for Aurora MySQL);
    its family follows the engine and major version, so both must be literals."""
    if version is None or unresolved(engine, version):
        raise fail(
            owner,
            "require_tls needs a literal engine and engine_version to choose the parameter group family",
            field="engine_version",
        )
    return rds.CfnDBClusterParameterGroup(
        owner,
        "ParameterGroup",
        description=f"dbscale Aurora cluster {path}: TLS required",
        family=parameter_group_family(engine, version),
        # Audit logging too (Aurora MySQL), so the exported audit log has content.
        parameters={**TLS_PARAMETERS[engine], **dict(AURORA_AUDIT_PARAMETERS[engine])},
    )
