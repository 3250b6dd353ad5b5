"""The custom resource providers: one Lambda function per resource type, shared by a stack's clusters.

A provider is the Lambda handler (``dbscale.handlers.<type>.handler``) with a role that
can do what the handler does and no more. Two ways to get one:

* ``RedshiftClusterProvider.of(scope)`` — the per-stack singleton every ``RedshiftCluster`` uses.
  Its role is scoped to exactly the clusters (and their keys, subnet groups, parameter groups)
  registered with it at synth time.
* ``RedshiftClusterProvider(scope, id, cluster_identifier_prefix="dbscale-")`` — a standalone
  provider for plain CloudFormation templates (see ``examples/raw-cloudformation.yaml``); its role
  is scoped to identifiers starting with the prefix, since the templates it serves are unknown here.

The function is not in a VPC: it only calls AWS APIs (Redshift, RDS, Step Functions) over
their public endpoints and never connects to a database, so a VPC would add ENIs, NAT cost and
cold-start time for nothing.
"""

from ._base import ClusterProvider, check_provider_prefix
from .aurora import AuroraClusterProvider
from .aurora_clone import DEFAULT_INSTANCE_GROUPS, AuroraCloneProvider, Grant, copy_grants
from .database_bootstrap import DatabaseBootstrapProvider
from .redshift import RedshiftClusterProvider

__all__ = [
    "DEFAULT_INSTANCE_GROUPS",
    "AuroraCloneProvider",
    "AuroraClusterProvider",
    "ClusterProvider",
    "DatabaseBootstrapProvider",
    "Grant",
    "RedshiftClusterProvider",
    "check_provider_prefix",
    "copy_grants",
]
