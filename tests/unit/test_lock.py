"""requirements/dev.lock stays the lock of pyproject.toml: every declared requirement is pinned there
at a version its range admits, every pin carries hashes, and the venv runs what the lock says."""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")


def pins() -> dict[str, list[tuple[Version, str | None, list[str]]]]:
    """Name -> [(version, marker, hashes)] as the lock lists them (a universal lock may pin one
    name at several versions, each for its own Python versions)."""
    found: dict[str, list[tuple[Version, str | None, list[str]]]] = {}
    current: list[str] | None = None
    for line in LOCK.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = []
            entry = (Version(match["version"]), match["marker"], current)
            found.setdefault(canonicalize_name(match["name"]), []).append(entry)
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            current.append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    build = [line.split("#")[0].strip() for line in (ROOT / "requirements" / "build.in").read_text().splitlines()]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["dev"]]] + [
        Requirement(r) for r in build if r
    ]


def _applies(marker: str | None, python: str) -> bool:
    from packaging.markers import Marker

    environment = default_environment() | {"python_version": python, "python_full_version": f"{python}.0"}
    return marker is None or Marker(marker).evaluate(environment)


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13"])
def test_every_declared_requirement_is_pinned_within_its_range(python: str) -> None:
    locked = pins()
    environment = default_environment() | {"python_version": python, "python_full_version": f"{python}.0"}
    stale = []
    for requirement in declared():
        if requirement.marker is not None and not requirement.marker.evaluate(environment | {"extra": "dev"}):
            continue
        versions = [
            v for v, marker, _ in locked.get(canonicalize_name(requirement.name), []) if _applies(marker, python)
        ]
        if not versions or not all(requirement.specifier.contains(v, prereleases=True) for v in versions):
            stale.append(f"{requirement} (locked: {versions or 'nothing'})")
    assert stale == [], f"requirements/dev.lock is stale for Python {python}: run `make lock`: {stale}"


def test_every_pin_has_hashes() -> None:
    unhashed = [name for name, entries in pins().items() for _, _, hashes in entries if not hashes]
    assert unhashed == []
    assert all(len(h) == 64 for entries in pins().values() for _, _, hashes in entries for h in hashes)


@pytest.mark.skipif(not LOCK.with_name("uv.txt").exists(), reason="no uv pin")
def test_this_venv_runs_the_locked_versions_when_made_by_make() -> None:
    """Under `make test` (a venv made from the lock) every installed locked package is at its pin."""
    if Path(sys.prefix) != ROOT / ".venv":
        pytest.skip("not the venv `make` made from the lock (make test-latest, or a hand-made venv)")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    off = []
    for name, entries in pins().items():
        wanted = [v for v, marker, _ in entries if _applies(marker, python)]
        if not wanted:
            continue  # pinned for another platform or Python only
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            off.append(f"{name} missing (lock: {wanted})")
            continue
        if installed not in wanted:
            off.append(f"{name} {installed} (lock: {wanted})")
    assert off == []
