"""``DescribeDBEngineVersions`` for moto's RDS (moto does not implement it), and CreateDBCluster /
ModifyDBCluster that refuse a version AWS does not offer, as AWS does.

The catalog is test data in AWS's shape, not AWS's current list: each engine has versions that
are ``available`` and versions that are ``deprecated`` (listed only with ``IncludeAll``, refused
for new clusters). AWS's rules kept: filters ``Engine``, ``EngineVersion`` (exact),
``DBParameterGroupFamily``, ``DefaultOnly``, ``IncludeAll``; ``MaxRecords`` 20-100 (default
100) with ``Marker`` pagination.

Use as a context manager (after the ``aws`` fixture); ``catalog.offered`` lists what it serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

from .patching import Patcher


@dataclass(frozen=True)
class EngineVersion:
    engine: str
    version: str
    family: str
    status: str = "available"
    default: bool = False

    def shape(self) -> dict[str, Any]:
        return {
            "Engine": self.engine,
            "EngineVersion": self.version,
            "DBParameterGroupFamily": self.family,
            "DBEngineDescription": f"{self.engine} (test catalog)",
            "DBEngineVersionDescription": f"{self.engine} {self.version}",
            "Status": self.status,
        }


def _pg(version: str, status: str = "available", default: bool = False) -> EngineVersion:
    return EngineVersion("aurora-postgresql", version, f"aurora-postgresql{version.split('.')[0]}", status, default)


def _mysql(aurora: str, status: str = "available", default: bool = False) -> EngineVersion:
    return EngineVersion("aurora-mysql", f"8.0.mysql_aurora.{aurora}", "aurora-mysql8.0", status, default)


DEFAULT_CATALOG: tuple[EngineVersion, ...] = (
    _pg("15.4", "deprecated"),
    _pg("15.10"),
    _pg("16.1", "deprecated"),
    _pg("16.6", "deprecated"),
    _pg("16.8", default=True),
    _pg("16.10"),
    _pg("17.4"),
    _mysql("3.04.0", "deprecated"),
    _mysql("3.08.0", "deprecated"),
    _mysql("3.08.2", default=True),
    _mysql("3.10.0"),
)


class EngineVersionCatalog:
    """Serves ``versions`` through DescribeDBEngineVersions and holds CreateDBCluster/ModifyDBCluster to them."""

    def __init__(self, versions: tuple[EngineVersion, ...] = DEFAULT_CATALOG) -> None:
        self.versions = versions
        self.describe_calls = 0
        self._patcher = Patcher()

    @property
    def offered(self) -> list[str]:
        return [v.version for v in self.versions if v.status == "available"]

    def __enter__(self) -> EngineVersionCatalog:
        served = vars(RDSResponse).get("describe_db_engine_versions")
        if served is not None and not getattr(served, "dbscale_fake", False):
            raise RuntimeError("moto now implements DescribeDBEngineVersions; revisit tests/fakes/engine_versions.py")
        catalog = self

        def describe_db_engine_versions(response: RDSResponse) -> ActionResult:
            catalog.describe_calls += 1
            return ActionResult(catalog.describe(response.params))

        def held(original: Any) -> Any:
            def call(backend: RDSBackend, kwargs: dict[str, Any]) -> Any:
                catalog.check(kwargs.get("engine"), kwargs.get("engine_version"), backend, kwargs)
                return original(backend, kwargs)

            return call

        self._patcher.set(RDSResponse, "describe_db_engine_versions", describe_db_engine_versions)
        self._patcher.set(RDSBackend, "create_db_cluster", held(RDSBackend.create_db_cluster))
        self._patcher.set(RDSBackend, "modify_db_cluster", held(RDSBackend.modify_db_cluster))
        return self

    def __exit__(self, *exc: object) -> None:
        self._patcher.restore()

    def describe(self, params: Any) -> dict[str, Any]:
        max_records = int(params.get("MaxRecords") or 100)
        if not 20 <= max_records <= 100:
            raise InvalidParameterValue("MaxRecords must be between 20 and 100")
        include_all = str(params.get("IncludeAll", "false")).lower() == "true"
        default_only = str(params.get("DefaultOnly", "false")).lower() == "true"
        wanted = {
            "engine": params.get("Engine"),
            "version": params.get("EngineVersion"),
            "family": params.get("DBParameterGroupFamily"),
        }
        found = [
            v
            for v in self.versions
            if all(value is None or getattr(v, key) == value for key, value in wanted.items())
            and (include_all or v.status == "available")
            and (not default_only or v.default)
        ]
        start = int(params.get("Marker") or 0)
        page = found[start : start + max_records]
        result: dict[str, Any] = {"DBEngineVersions": [v.shape() for v in page]}
        if start + max_records < len(found):
            result["Marker"] = str(start + max_records)
        return result

    def check(self, engine: str | None, version: str | None, backend: RDSBackend, kwargs: dict[str, Any]) -> None:
        if version is None:
            return
        if engine is None:  # ModifyDBCluster names no engine: the cluster's
            engine = backend.clusters[kwargs["db_cluster_identifier"]].engine
        if not any(v.engine == engine and v.version == version and v.status == "available" for v in self.versions):
            raise InvalidParameterCombination(f"Cannot find version {version} for {engine}")
