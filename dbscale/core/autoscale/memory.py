"""What the autoscaler remembers between invocations, and where (SSM, or a dict)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Protocol

from ..aws import aws_errors, client
from ..errors import AwsError, InvalidRequest

if TYPE_CHECKING:
    import boto3


LOG = logging.getLogger("dbscale.autoscaler")
STATE_PARAMETER_PREFIX = "/dbscale/autoscaler"

_SSM_STANDARD_MAX = 4096
"""An SSM Standard parameter holds up to 4 KB; larger state uses the Advanced tier (8 KB)."""


@dataclass(frozen=True)
class Memory:
    """What the autoscaler remembers about one cluster between invocations (epoch seconds)."""

    last_action: str | None = None
    last_action_at: float | None = None
    last_evaluated_at: float | None = None
    underused_since: float | None = None
    idle_since: float | None = None
    paused_by_autoscaler: bool = False
    stopped_since: float | None = None
    operation: Mapping[str, Any] | None = None
    forecast_off: bool = False
    forecast_off_until: float | None = None
    acu_min_before_pause: float | None = None
    forecast_flip_since: float | None = None
    last_action_rule: str | None = None
    forecast_distrusted_since: float | None = None
    forecast_good_since: float | None = None
    forecast_miss: Mapping[str, Any] | None = None
    catch_up_to: int | None = None
    settled_at: float | None = None
    last_load: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON kept in the store (field by field: every field but the two mappings is a scalar)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["operation"] = dict(self.operation) if self.operation is not None else None
        data["forecast_miss"] = dict(self.forecast_miss) if self.forecast_miss is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Memory:
        if not data:
            return cls()
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def without_streaks(self) -> Memory:
        return replace(self, underused_since=None, idle_since=None, last_evaluated_at=None)


# --- state stores ------------------------------------------------------------------------------


class StateStore(Protocol):
    """Where the autoscaler keeps each cluster's :class:`Memory` (a small JSON-safe dict)."""

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, data: dict[str, Any]) -> None: ...


class MemoryStateStore:
    """A dict: for tests, simulations and one-process use (forgotten when the process ends)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, Any]] = {}

    def load(self, key: str) -> dict[str, Any] | None:
        found = self.data.get(key)
        return json.loads(json.dumps(found)) if found is not None else None

    def save(self, key: str, data: dict[str, Any]) -> None:
        self.data[key] = json.loads(json.dumps(data))


class SsmStateStore:
    """One SSM parameter per cluster: ``<prefix>/<service>/<cluster>`` (``<prefix>/dry-run/...`` in dry run).

    A Standard parameter (free, 4 KB) holds the memory and an in-flight operation; a larger
    document goes to the Advanced tier (8 KB). Every write is a new parameter version, so SSM keeps
    the last 100 states of each cluster.
    """

    def __init__(self, prefix: str = STATE_PARAMETER_PREFIX, *, session: boto3.Session | None = None) -> None:
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise InvalidRequest(f"prefix '{prefix}' must start with '/' and not end with '/'", field="prefix")
        self.prefix = prefix
        self._session = session

    def name(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def load(self, key: str) -> dict[str, Any] | None:
        ssm = client("ssm", self._session)
        try:
            with aws_errors(f"read the autoscaler state {self.name(key)}"):
                value = ssm.get_parameter(Name=self.name(key))["Parameter"]["Value"]
        except AwsError as err:
            if err.code == "ParameterNotFound":
                return None
            raise
        try:
            data = json.loads(value)
        except ValueError:
            LOG.warning("autoscaler state %s is not JSON; starting afresh", self.name(key))
            return None
        return data if isinstance(data, dict) else None

    def save(self, key: str, data: dict[str, Any]) -> None:
        value = json.dumps(data, separators=(",", ":"), sort_keys=True)
        ssm = client("ssm", self._session)
        with aws_errors(f"write the autoscaler state {self.name(key)}"):
            ssm.put_parameter(
                Name=self.name(key),
                Value=value,
                Type="String",
                Overwrite=True,
                Tier="Standard" if len(value.encode()) <= _SSM_STANDARD_MAX else "Advanced",
            )
