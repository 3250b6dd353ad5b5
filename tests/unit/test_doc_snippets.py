"""Every ```python block in README.md and docs/ is valid Python whose names are all imported or defined.

A snippet may use a few names of the code around it (``self`` inside a stack, the ``stack``, the
``app``, the ``vpc``: :data:`CONTEXT`); any other name it uses must be imported, assigned or defined
in the snippet, or be a builtin. That is what stops a snippet using a class it does not import.
What a snippet imports from ``dbscale`` must exist (a renamed class breaks the snippet that names it).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CONTEXT = frozenset({"self", "stack", "app", "vpc"})
"""Names a snippet may take from the code around it (the CDK stack it is written in)."""
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def snippets() -> list[tuple[str, str]]:
    """(``path:line``, code) of every ```python block."""
    found = []
    for path in DOCS:
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(1)) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the code binds anywhere (imports, assignments, definitions, parameters, loop and
    ``with``/``except`` targets); scopes are not told apart, which is enough for snippets."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def free_names(code: str) -> set[str]:
    """The names ``code`` uses but neither binds nor gets from builtins or :data:`CONTEXT`."""
    tree = ast.parse(code)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return used - bound_names(tree) - set(dir(builtins)) - CONTEXT


def dbscale_imports(code: str) -> list[tuple[str, str | None]]:
    """(module, name) of each ``from dbscale... import name`` (name None for ``import dbscale...``)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "dbscale":
            found += [(str(node.module), alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names if alias.name.split(".")[0] == "dbscale"]
    return found


def test_the_docs_have_python_snippets() -> None:
    assert len(snippets()) >= 10


@pytest.mark.parametrize(("where", "code"), snippets(), ids=[where for where, _ in snippets()])
def test_snippet_compiles_and_imports_what_it_uses(where: str, code: str) -> None:
    try:
        compile(code, where, "exec")
    except SyntaxError as err:
        pytest.fail(f"{where}: the snippet is not valid Python: {err}")
    missing = sorted(free_names(code))
    assert not missing, f"{where}: the snippet uses {', '.join(missing)} without importing or defining it"
    for module, name in dbscale_imports(code):
        imported = importlib.import_module(module)
        assert name is None or hasattr(imported, name), f"{where}: {module} has no {name}"


def test_the_check_catches_a_missing_import() -> None:
    assert free_names("from dbscale.constructs import Autoscaler\nAutoscaler(stack, 'A', redshift=warehouse)\n") == {
        "warehouse"
    }
    assert free_names("import dbscale.core\nfor x in range(2):\n    print(x, dbscale.core)\n") == set()
