"""The configuration the Autoscaler construct hands its handler."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequest

if TYPE_CHECKING:
    pass
from .decisions import ClusterRef
from .memory import STATE_PARAMETER_PREFIX
from .policy import AutoscalePolicy, known_keys

CONFIG_ENV = "DBSCALE_AUTOSCALER"
"""The environment variable holding the handler's :class:`AutoscalerConfig` as JSON."""


# --- configuration shared by the construct and the handler -------------------------------------


@dataclass(frozen=True)
class AutoscalerConfig:
    """What the ``Autoscaler`` construct hands the handler (environment variable :data:`CONFIG_ENV`)."""

    policy: AutoscalePolicy
    clusters: tuple[ClusterRef, ...]
    dry_run: bool = False
    state_prefix: str = STATE_PARAMETER_PREFIX

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_dict(),
            "clusters": [
                {"service": c.service, "name": c.name, "declared_paused": c.declared_paused} for c in self.clusters
            ],
            "dry_run": self.dry_run,
            "state_prefix": self.state_prefix,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoscalerConfig:
        values = known_keys(cls, data, "config")
        clusters = values.get("clusters") or []
        if not isinstance(clusters, list):
            raise InvalidRequest("config.clusters must be a list", field="config.clusters")
        return cls(
            policy=AutoscalePolicy.from_dict(values.get("policy") or {}),
            clusters=tuple(ClusterRef(**known_keys(ClusterRef, c, "config.clusters[]")) for c in clusters),
            dry_run=bool(values.get("dry_run", False)),
            state_prefix=str(values.get("state_prefix", STATE_PARAMETER_PREFIX)),
        )

    @classmethod
    def from_json(cls, text: str) -> AutoscalerConfig:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise InvalidRequest(f"{CONFIG_ENV} is not JSON: {err}", field=CONFIG_ENV) from None
        return cls.from_dict(data)
