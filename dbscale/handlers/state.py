"""What the resource types keep between invocations: their part of the operation state
(``state.resource``, see :class:`dbscale.cfn.state.OperationState`), one dataclass per kind.

Every field has a default and only the fields that differ from it are saved; the names are the
keys a version-3 state kept beside the runtime's, so an operation saved by the previous release
loads as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbscale.cfn.state import ResourceState


@dataclass
class OperationSteps(ResourceState):
    """A resource that drives one :class:`~dbscale.core.operation.Operation` at a time."""

    op: dict[str, Any] | None = None
    """The running operation (``Operation.to_dict()``), None between operations."""


@dataclass
class ClusterSteps(OperationSteps):
    """Custom::RedshiftCluster and Custom::AuroraCluster."""

    adopted: bool = False
    """The cluster existed and AdoptExisting took it over (it is never deleted)."""
    keep_size: bool = False
    """Autoscaled, and the update leaves the size properties as they were: keep the cluster's size."""
    settings: dict[str, Any] | None = None
    """Settings an Update changes, applied with the next round's operation."""
    rounds: int = 0
    """Rounds of changes so far (each brings the cluster towards the declared properties)."""
    plan: dict[str, Any] | None = None
    """The rescale plan for the attributes: ``{"method": ..., "minutes": [low, high]}``."""


@dataclass
class CloneSteps(OperationSteps):
    """Custom::AuroraClone."""

    converged: bool = False
    """The writer has been brought to the declared class (the last round)."""
    cloned_from: str | None = None
    """What a new clone was cloned from (set by its create; an existing clone has None)."""
