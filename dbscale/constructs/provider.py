"""Compatibility alias: the providers now live in :mod:`dbscale.constructs.providers`, one module each."""

from __future__ import annotations

from .providers import (
    DEFAULT_INSTANCE_GROUPS,
    POLL_PREFIX,
    AuroraCloneProvider,
    AuroraClusterProvider,
    ClusterProvider,
    Grant,
    RedshiftClusterProvider,
    check_provider_prefix,
    copy_grants,
)
from .providers._base import _shared_code

__all__ = [
    "DEFAULT_INSTANCE_GROUPS",
    "POLL_PREFIX",
    "AuroraCloneProvider",
    "AuroraClusterProvider",
    "ClusterProvider",
    "Grant",
    "RedshiftClusterProvider",
    "_shared_code",
    "check_provider_prefix",
    "copy_grants",
]
