"""The layout's limits across ``dbscale/`` (issue 25): module, class and function sizes, import cycles and
private names imported from another module.

Where the code is over a limit today, the excess is listed below with its size: the test fails when a
listed item grows, when a new one appears, and when a listed one is fixed but still listed (so the
lists only shrink). Sizes are lines from the first line to the last of the definition.
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

# Over a limit today (lines). Split them; never add to these.
LONG_MODULES: dict[str, int] = {
    "dbscale.core.advisor.recommend": 539,
    "dbscale.core.aurora.provisioning": 527,
    "dbscale.core.pricing": 552,
}
LONG_CLASSES: dict[str, int] = {
    "dbscale.constructs.aurora.AuroraCluster": 376,
    "dbscale.constructs.autoscaler.Autoscaler": 334,
    "dbscale.constructs.providers._base.ClusterProvider": 380,
    "dbscale.constructs.redshift.RedshiftCluster": 384,
    "dbscale.core.aurora.provisioning.RdsProvisioning": 447,
    "dbscale.core.aurora.steps.AuroraSteps": 350,
    "dbscale.core.autoscale.aurora_rules._AuroraRules": 345,
    "dbscale.core.autoscale.redshift_rules._RedshiftRules": 346,
    "dbscale.core.autoscale.runner.Autoscaler": 440,
    "dbscale.core.redshift.provisioning.RedshiftProvisioning": 384,
    "dbscale.handlers.aurora_cluster.AuroraClusterResource": 390,
    "dbscale.handlers.cluster.ClusterResource": 336,
}
LONG_FUNCTIONS: dict[str, int] = {
    "dbscale.constructs.aurora.AuroraCluster.__init__": 182,
    "dbscale.constructs.autoscaler.Autoscaler.__init__": 100,
    "dbscale.constructs.autoscaler.Autoscaler._grant": 104,
    "dbscale.constructs.clone_pool.ClonePoolMaintenance.__init__": 85,
    "dbscale.constructs.clone_pool.ClonePoolMaintenance._grant": 93,
    "dbscale.constructs.database_bootstrap.DatabaseBootstrap.__init__": 118,
    "dbscale.constructs.providers._base.ClusterProvider.__init__": 102,
    "dbscale.constructs.redshift.RedshiftCluster.__init__": 138,
    "dbscale.constructs.redshift.RedshiftCluster._settings": 140,
    "dbscale.core.aurora.provisioning.RdsProvisioning.__init__": 85,
    "dbscale.core.aurora.rescale.plan_rescale": 116,
    "dbscale.core.autoscale.aurora_rules._AuroraRules._aurora_up": 83,
    "dbscale.core.autoscale.aurora_rules._AuroraRules._decide_aurora": 206,
    "dbscale.core.autoscale.policy.AutoscalePolicy.__post_init__": 110,
    "dbscale.core.autoscale.redshift_rules._RedshiftRules._decide_redshift": 343,
    "dbscale.core.clones.provision.provision_clone": 122,
    "dbscale.deploy.stack.ProvidersDeployment.deploy": 87,
}
# "importing.module: from.module._name" pairs that cross modules today.
PRIVATE_IMPORTS: set[str] = {
    "dbscale.constructs.providers.aurora: dbscale.constructs.providers._rds._RdsProvider",
    "dbscale.constructs.providers.aurora_clone: dbscale.constructs.providers._rds._RdsProvider",
    "dbscale.core.aurora.provisioning: dbscale.core.aurora.describe._SETTLED",
    "dbscale.core.aurora.provisioning: dbscale.core.aurora.describe._next_numbers",
    "dbscale.core.aurora.rescale: dbscale.core.aurora.describe._members",
    "dbscale.core.aurora.rescale: dbscale.core.aurora.describe._next_numbers",
    "dbscale.core.aurora.steps: dbscale.core.aurora.describe._SETTLED",
    "dbscale.core.aurora.steps: dbscale.core.aurora.describe._USABLE",
    "dbscale.core.aurora.steps: dbscale.core.aurora.describe._pending_reboot",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.observe._Observed",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._Decide",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._Results",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._Rules",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._ceil_acu",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._fmt",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._in_cooldown",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._minutes",
    "dbscale.core.autoscale.aurora_rules: dbscale.core.autoscale.rules._scaled",
    "dbscale.core.autoscale.config: dbscale.core.autoscale.policy._known",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.observe._Observed",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._Decide",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._Results",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._Rules",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._fmt",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._in_cooldown",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._minutes",
    "dbscale.core.autoscale.redshift_rules: dbscale.core.autoscale.rules._scaled",
    "dbscale.core.autoscale.rules: dbscale.core.autoscale.decisions._CHANGES",
    "dbscale.core.autoscale.runner: dbscale.core.autoscale.aurora_rules._AuroraRules",
    "dbscale.core.autoscale.runner: dbscale.core.autoscale.observe._Observed",
    "dbscale.core.autoscale.runner: dbscale.core.autoscale.observe._Observing",
    "dbscale.core.autoscale.runner: dbscale.core.autoscale.redshift_rules._RedshiftRules",
    "dbscale.core.autoscale.runner: dbscale.core.autoscale.rules._minutes",
    "dbscale.core.autoscale.strategies: dbscale.core.autoscale.observe._Observed",
    "dbscale.core.scaling.athena: dbscale.core.scaling.metrics._fmt",
    "dbscale.core.scaling.athena: dbscale.core.scaling.metrics._usd",
    "dbscale.core.scaling.athena: dbscale.core.scaling.plans._ScalingContext",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.checks._LATENCY_METRICS",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.checks._MYSQL_QUERY_TIME",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.checks._POSTGRES_DURATION",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.checks._SLOW_LOG_SETUPS",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.checks._engine_family",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.metrics._cluster_metric",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.metrics._fmt",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.metrics._instance_metric",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.metrics._mean",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.plans._AuroraState",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.plans._MetricPlan",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.plans._Plan",
    "dbscale.core.scaling.aurora_checks: dbscale.core.scaling.plans._ScalingContext",
    "dbscale.core.scaling.plans: dbscale.core.scaling.checks._AURORA_KINDS",
    "dbscale.core.scaling.plans: dbscale.core.scaling.checks._REDSHIFT_KINDS",
    "dbscale.core.scaling.plans: dbscale.core.scaling.metrics._fmt",
    "dbscale.core.scaling.provision: dbscale.core.scaling.athena._AthenaChecks",
    "dbscale.core.scaling.provision: dbscale.core.scaling.aurora_checks._AuroraChecks",
    "dbscale.core.scaling.provision: dbscale.core.scaling.checks._REDSHIFT_KINDS",
    "dbscale.core.scaling.provision: dbscale.core.scaling.checks._positive",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._AURORA",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._MetricPlan",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._Plan",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._REDSHIFT",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._Service",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._State",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._StatementPlan",
    "dbscale.core.scaling.provision: dbscale.core.scaling.plans._plan_on",
    "dbscale.core.scaling.provision: dbscale.core.scaling.redshift_checks._RedshiftChecks",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.metrics._fmt",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.metrics._mean",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.metrics._redshift_metric",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.metrics._sql_time",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.plans._MetricPlan",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.plans._Plan",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.plans._RedshiftState",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.plans._ScalingContext",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.plans._StatementPlan",
    "dbscale.core.scaling.redshift_checks: dbscale.core.scaling.plans._long",
}


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
    ("kind", "allowed", "limit"),
    [
        ("modules", LONG_MODULES, MODULE_LINES),
        ("classes", LONG_CLASSES, CLASS_LINES),
        ("functions", LONG_FUNCTIONS, FUNCTION_LINES),
    ],
)
def test_sizes_only_shrink(kind: str, allowed: dict[str, int], limit: int) -> None:
    now = measured()[kind]
    assert isinstance(now, dict)
    new = {k: v for k, v in now.items() if k not in allowed}
    grown = {k: (allowed[k], v) for k, v in now.items() if k in allowed and v > allowed[k]}
    fixed = sorted(set(allowed) - set(now))
    assert not new, f"over {limit} lines, split them: {new}"
    assert not grown, f"grew (listed, now): {grown}"
    assert not fixed, f"within {limit} lines now: take them off the list in tests/unit/test_layout.py: {fixed}"


def test_no_new_private_imports_across_modules() -> None:
    now = measured()["private"]
    assert isinstance(now, set)
    assert not now - PRIVATE_IMPORTS, f"make these public in their home module: {sorted(now - PRIVATE_IMPORTS)}"
    assert not PRIVATE_IMPORTS - now, f"gone: take them off the list: {sorted(PRIVATE_IMPORTS - now)}"


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
