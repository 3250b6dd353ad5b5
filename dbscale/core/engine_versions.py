"""Aurora engine versions that AWS still offers for new clusters, resolved when a cluster is created.

Templates and constructs pin only the major version (``16`` for Aurora PostgreSQL, ``8.0`` for Aurora
MySQL): the cluster parameter group family depends on it, but a pinned minor stops being offered
for new clusters within a year or two (cfn-lint flags such versions as deprecated). A major
version is resolved through ``DescribeDBEngineVersions`` at create time to the newest version of
that major AWS lists as ``available``; a full version (``16.6``, ``8.0.mysql_aurora.3.08.0``) is
used exactly as given, and None leaves the choice to RDS.
"""

from __future__ import annotations

import re
from typing import Any

from .aws import aws_errors
from .errors import InvalidRequest

# What a major-only version looks like, by engine.
_MAJOR_ONLY = {
    "aurora-postgresql": re.compile(r"^\d+$"),
    "aurora-mysql": re.compile(r"^\d+\.\d+$"),
}


def is_major_version(engine: str, version: str) -> bool:
    """True when ``version`` names only a major version of ``engine`` (``16``, ``8.0``)."""
    pattern = _MAJOR_ONLY.get(engine)
    return bool(pattern and pattern.match(version))


def major_version(engine: str, version: str) -> str:
    """The major version of a full or major-only version: ``16.6`` -> ``16``,
    ``8.0.mysql_aurora.3.08.0`` -> ``8.0``."""
    if engine == "aurora-mysql":
        return ".".join(version.split(".")[:2])
    return version.split(".")[0]


def parameter_group_family(engine: str, version: str) -> str:
    """The cluster parameter group family of a version (``aurora-postgresql16``, ``aurora-mysql8.0``)."""
    return f"{engine}{major_version(engine, version)}"


def version_key(version: str) -> tuple[int, ...]:
    """A version as a tuple of its numbers, for ordering: ``8.0.mysql_aurora.3.08.0`` -> ``(8, 0, 3, 8, 0)``."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def resolve_engine_version(client: Any, engine: str, version: str | None) -> str | None:
    """The version to create a cluster with: ``version`` itself unless it names only a major, then the
    newest version of that major that ``DescribeDBEngineVersions`` lists as available.

    Raises :class:`InvalidRequest` (field ``EngineVersion``) when AWS offers no version of that
    major for new clusters in the region.
    """
    if version is None or not is_major_version(engine, version):
        return version
    family = parameter_group_family(engine, version)
    with aws_errors(f"list the {engine} {version} versions offered for new clusters"):
        pages = client.get_paginator("describe_db_engine_versions").paginate(
            Engine=engine, DBParameterGroupFamily=family
        )
        offered = [
            v["EngineVersion"]
            for page in pages
            for v in page["DBEngineVersions"]
            if v.get("Status", "available") == "available" and major_version(engine, v["EngineVersion"]) == version
        ]
    if not offered:
        raise InvalidRequest(
            f"AWS offers no {engine} {version}.x version for new clusters in this region; give a major version "
            "it offers (aws rds describe-db-engine-versions) or a full version",
            field="EngineVersion",
        )
    return str(max(offered, key=version_key))


def satisfies(engine: str, wanted: str, running: str) -> bool:
    """True when a cluster running ``running`` already has the version ``wanted`` (a full version,
    or a major version that ``running`` belongs to): nothing to change."""
    if is_major_version(engine, wanted):
        return major_version(engine, running) == wanted
    return wanted == running
