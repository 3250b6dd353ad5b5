"""The layout's limits across ``dbscale/`` (issue 25): module, class and function sizes, import cycles and
private names imported from another module.

Nothing is over a limit (the lists of exceptions this test kept while the code was split are gone):
modules <= 500 lines, classes <= 300, functions <= 80, no ``_name`` taken from another module, no
import cycle. Sizes are lines from the first line to the last of the definition.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dbscale"
MODULE_LINES = 500
CLASS_LINES = 300
FUNCTION_LINES = 80


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: int


@functools.lru_cache(maxsize=1)
def modules() -> tuple[Module, ...]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        text = path.read_text(encoding="utf-8")
        found.append(Module(name, path, ast.parse(text), len(text.splitlines())))
    return tuple(found)


def _resolve(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def definitions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from definitions(node, f"{name}.")


def _size(node: ast.AST) -> int:
    return int(getattr(node, "end_lineno", 0)) - int(getattr(node, "lineno", 0)) + 1


def measured() -> dict[str, dict[str, int] | set[str]]:
    long_modules: dict[str, int] = {}
    long_classes: dict[str, int] = {}
    long_functions: dict[str, int] = {}
    private: set[str] = set()
    names = {m.name for m in modules()}
    for module in modules():
        if module.lines > MODULE_LINES:
            long_modules[module.name] = module.lines
        for name, node in definitions(module.tree):
            size = _size(node)
            if isinstance(node, ast.ClassDef) and size > CLASS_LINES:
                long_classes[f"{module.name}.{name}"] = size
            elif not isinstance(node, ast.ClassDef) and size > FUNCTION_LINES:
                long_functions[f"{module.name}.{name}"] = size
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom) and (node.module or node.level):
                source = _resolve(module, node)
                if source.startswith("dbscale") and source != module.name:
                    for alias in node.names:
                        # A private name of another module (a submodule named _x is a module, not a name).
                        dunder = alias.name.startswith("__") and alias.name.endswith("__")
                        if alias.name.startswith("_") and not dunder and f"{source}.{alias.name}" not in names:
                            private.add(f"{module.name}: {source}.{alias.name}")
    return {"modules": long_modules, "classes": long_classes, "functions": long_functions, "private": private}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for other in node.orelse:
                yield other
                yield from _runtime_nodes(other)
            continue
        yield node
        yield from _runtime_nodes(node)


def import_graph() -> dict[str, set[str]]:
    """Module -> the dbscale modules it imports when it runs (at any level, function bodies included;
    not the imports for type annotations under ``if TYPE_CHECKING:``)."""
    names = {m.name for m in modules()}
    graph: dict[str, set[str]] = {}
    for module in modules():
        edges: set[str] = set()
        for node in _runtime_nodes(module.tree):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in names}
            elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
                source = _resolve(module, node)
                for alias in node.names:
                    if f"{source}.{alias.name}" in names:
                        edges.add(f"{source}.{alias.name}")
                    elif source in names:
                        edges.add(source)
        graph[module.name] = edges - {module.name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module, ignoring a package's ``__init__``
    importing its own submodules (the way a package exports its names)."""
    pruned = {name: {e for e in edges if not e.startswith(f"{name}.")} for name, edges in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in pruned.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(pruned):
        if name not in index:
            visit(name)
    return found


# Imports deferred into a function on purpose, left out of the cycle check: the table of step runners
# (dbscale.core.operation.RUNNERS) imports a service's runner when a saved operation of that service is
# first resumed, so that loading the core (a Lambda cold start) does not import every service.
DEFERRED_BY_DESIGN = {
    ("dbscale.core.operation", "dbscale.core.redshift.steps"),
    ("dbscale.core.operation", "dbscale.core.aurora.steps"),
    ("dbscale.core.operation", "dbscale.core.clones.steps"),
}


def test_no_import_cycles() -> None:
    graph = import_graph()
    for source, target in DEFERRED_BY_DESIGN:
        assert target in graph[source], f"{source} no longer imports {target}: take it off DEFERRED_BY_DESIGN"
        graph[source].discard(target)
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("kind", "limit"), [("modules", MODULE_LINES), ("classes", CLASS_LINES), ("functions", FUNCTION_LINES)]
)
def test_nothing_is_over_its_size_limit(kind: str, limit: int) -> None:
    over = measured()[kind]
    assert over == {}, f"over {limit} lines, split them: {over}"


def test_no_private_name_is_imported_from_another_module() -> None:
    private = measured()["private"]
    assert private == set(), f"make these public in their home module (or move them): {sorted(private)}"


def test_the_measures_see_what_they_measure() -> None:
    # A measure that found nothing to measure would pass every test above.
    assert len(modules()) > 150
    sizes = {f"{m.name}.{name}": _size(node) for m in modules() for name, node in definitions(m.tree)}
    assert len(sizes) > 1500 and max(sizes.values()) > 200


def test_every_step_a_plan_can_name_has_a_marked_method() -> None:
    """Steps are found through ``@step`` tables, not ``getattr``: every action the core can write into
    a plan (a saved operation) is in its runner's table, under the method name it always had."""
    import re

    from dbscale.core.operation import RUNNERS

    text = "\n".join(p.read_text(encoding="utf-8") for p in (PACKAGE / "core").rglob("*.py"))
    written = set(re.findall(r'"action": "([a-z_]+)"', text))
    written |= {
        a for group in re.findall(r"_(?:resume|pause)_steps = \(([^)]*)\)", text) for a in re.findall(r'"(\w+)"', group)
    }
    tables = {service: factory().STEPS for service, factory in RUNNERS.items()}
    known = {action for table in tables.values() for action in table}
    assert written <= known, f"actions without a @step method: {sorted(written - known)}"
    for table in tables.values():
        assert all(method.__name__ == f"_{action}" for action, method in table.items())
