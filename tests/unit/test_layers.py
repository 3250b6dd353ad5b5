"""The layers of dbscale import downwards only: core <- cfn <- handlers <- constructs (issue 25).

Every import statement of every module under ``dbscale/`` is read with ast (function-level and
``TYPE_CHECKING`` imports included), relative imports resolved, and checked against what its layer
may not import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dbscale"

FORBIDDEN = {
    "dbscale.core": ("dbscale.cfn", "dbscale.handlers", "dbscale.constructs", "dbscale.cli", "dbscale.deploy"),
    "dbscale.cfn": ("dbscale.handlers", "dbscale.constructs", "dbscale.cli"),
    "dbscale.handlers": ("dbscale.constructs", "dbscale.cli"),
    "dbscale.constructs": ("dbscale.handlers",),
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_statements(path: Path, root: Path = PACKAGE) -> list[tuple[int, list[str]]]:
    """(line, absolute module names) of every import statement in ``path``; ``from x import y`` gives
    ``x`` and ``x.y`` (``y`` may be a module)."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, [alias.name]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, [module] + [f"{module}.{alias.name}" for alias in node.names]))
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    """One line per import statement of a layer that names a module its layer may not import."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = _module_name(path, root)
        for layer, forbidden in FORBIDDEN.items():
            if name != layer and not name.startswith(layer + "."):
                continue
            for line, modules in import_statements(path, root):
                bad = [m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden)]
                if bad:
                    found.append(f"{path.relative_to(root.parent)}:{line}: {layer} imports {bad[0]}")
    return found


def test_every_layer_imports_only_the_layers_below_it() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("core/x.py", "from dbscale.cfn import Prop\n", "dbscale.core imports dbscale.cfn"),
        ("core/sub/x.py", "from ...handlers import redshift_cluster\n", "dbscale.core imports dbscale.handlers"),
        ("core/x.py", "def f():\n    import dbscale.deploy.bundle\n", "dbscale.core imports dbscale.deploy.bundle"),
        ("cfn/x.py", "from ..handlers.cluster import owned_by\n", "dbscale.cfn imports dbscale.handlers"),
        ("cfn/x.py", "from dbscale import cli\n", "dbscale.cfn imports dbscale.cli"),
        (
            "handlers/x.py",
            "from dbscale.constructs import RedshiftCluster\n",
            "dbscale.handlers imports dbscale.constructs",
        ),
        (
            "constructs/x.py",
            "from dbscale.handlers import aurora_clone\n",
            "dbscale.constructs imports dbscale.handlers",
        ),
    ],
)
def test_the_scan_finds_an_upward_import(tmp_path: Path, where: str, source: str, expected: str) -> None:
    root = tmp_path / "dbscale"
    path = root / where
    path.parent.mkdir(parents=True)
    path.write_text(source, encoding="utf-8")
    found = violations(root)
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_pass(tmp_path: Path) -> None:
    root = tmp_path / "dbscale"
    for where, source in {
        "cfn/x.py": "from dbscale.core.errors import InvalidRequest\nfrom .schema import Prop\n",
        "handlers/x.py": "from dbscale.cfn import Provider\n",
        "constructs/x.py": "from dbscale.cfn.schema import Prop\nfrom dbscale.core import limits\n",
    }.items():
        (root / where).parent.mkdir(parents=True, exist_ok=True)
        (root / where).write_text(source, encoding="utf-8")
    assert violations(root) == []
