"""Every dbscale name and source path the docs mention in backticks still exists (issue 25: a layout
change must not leave README.md or docs/ pointing at a module, class or file that moved).

``dbscale.core.clones.ClonePool`` is imported and its attributes looked up; ``core/aurora/steps.py``,
``dbscale/cfn/`` or ``tests/unit/test_layout.py`` must be a file or folder of the repository (a path
without a top folder is looked for under ``dbscale/``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LAYERS = ("core", "cfn", "handlers", "constructs", "cli", "deploy")
TOP = ("dbscale", "tests", "bench", "tools", "examples", *LAYERS)
NOT_PYTHON = frozenset({"dbscale.migrations", "dbscale.clone_pool"})
"""Dotted names that are not Python: the bootstrap's migrations table and the clone pool's SQL schema."""

_NAME = re.compile(r"`[^`\n]*?\b(dbscale(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_PATH = re.compile(r"`((?:" + "|".join(TOP) + r")/(?:[\w.-]+/)*(?:[\w.-]+\.(?:py|md|json|sql|toml|txt)|))`")


def mentions(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(``doc:line``, what it names) for every match of ``pattern``'s group 1 in the docs."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module, or a module's attribute (to any depth)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def exists(path: str) -> bool:
    return (ROOT / path).exists() or (path.split("/")[0] in LAYERS and (ROOT / "dbscale" / path).exists())


NAMES = [m for m in mentions(_NAME) if m[1] not in NOT_PYTHON]
PATHS = mentions(_PATH)


def test_the_docs_mention_code() -> None:
    # A regex that stopped matching would pass every test below without checking anything.
    assert len(NAMES) > 50 and len(PATHS) > 30


@pytest.mark.parametrize(("where", "name"), NAMES, ids=[f"{w}:{n}" for w, n in NAMES])
def test_a_dotted_name_resolves(where: str, name: str) -> None:
    assert resolves(name), f"{where}: `{name}` is neither a module nor an attribute of one"


@pytest.mark.parametrize(("where", "path"), PATHS, ids=[f"{w}:{p}" for w, p in PATHS])
def test_a_path_exists(where: str, path: str) -> None:
    assert exists(path), f"{where}: `{path}` is not in the repository"


def test_the_check_catches_a_moved_name_and_path() -> None:
    assert resolves("dbscale.core.errors.DbscaleError")
    assert not resolves("dbscale.core.errors.NoSuchError")
    assert not resolves("dbscale.core.no_such_module")
    assert exists("core/aurora/") and exists("dbscale/cfn/state.py") and not exists("core/redshift.py")
