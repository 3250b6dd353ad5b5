"""The generated reference docs (docs/reference/) match the code, and the hand-written lists that
name every member of a code table (README's exception hierarchy) name them all.

Imports ``dbscale.constructs`` (so ``aws_cdk``) to read the constructs' signatures; nothing is
synthesized.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    """``tools/reference_docs.py``, loaded as a module (``tools`` is not a package)."""
    spec = importlib.util.spec_from_file_location("reference_docs", ROOT / "tools" / "reference_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered(reference: ModuleType) -> dict[Path, str]:
    return dict(reference.render())


def _diff(path: Path, expected: str) -> str:
    committed = path.read_text().splitlines() if path.is_file() else []
    lines = difflib.unified_diff(committed, expected.splitlines(), "committed", "from the code", lineterm="", n=1)
    return "\n".join(list(lines)[:40])


def test_the_committed_reference_docs_are_up_to_date(reference: ModuleType, rendered: dict[Path, str]) -> None:
    stale = reference.stale(rendered)
    assert not stale, "\n\n".join(
        f"{path.relative_to(ROOT)} is out of date: regenerate it with `{reference.REGENERATE}` "
        f"(python tools/reference_docs.py) and commit the result.\n{_diff(path, rendered[path])}"
        for path in stale
    )


def test_every_construct_and_custom_resource_type_is_documented(rendered: dict[Path, str]) -> None:
    import dbscale.constructs as constructs
    from dbscale.cfn import Provider

    text = rendered[ROOT / "docs" / "reference" / "constructs.md"]
    classes = [
        name
        for name in constructs.__all__
        if inspect.isclass(getattr(constructs, name)) and not issubclass(getattr(constructs, name), BaseException)
    ]
    assert {"RedshiftCluster", "AuroraCluster", "AuroraClone", "DatabaseBootstrap", "Autoscaler"} <= set(classes)
    assert [name for name in classes if f"\n## {name}\n" not in text] == []

    resources = rendered[ROOT / "docs" / "reference" / "custom-resources.md"]
    types = sorted(
        module.provider.resource.resource_type
        for module in _handler_modules()
        if isinstance(getattr(module, "provider", None), Provider)
    )
    assert types == [
        "Custom::AuroraClone",
        "Custom::AuroraCluster",
        "Custom::DatabaseBootstrap",
        "Custom::RedshiftCluster",
    ]
    assert [t for t in types if f"\n## {t}\n" not in resources] == []


def _handler_modules() -> Iterator[ModuleType]:
    import importlib
    import pkgutil

    import dbscale.handlers

    for info in pkgutil.iter_modules(dbscale.handlers.__path__):
        yield importlib.import_module(f"dbscale.handlers.{info.name}")


def test_update_behaviour_is_read_from_the_handlers(rendered: dict[Path, str]) -> None:
    text = rendered[ROOT / "docs" / "reference" / "custom-resources.md"]
    for row in (
        "| `ClusterIdentifier` | String | yes |  |  | replacement |",  # identifier_property
        "| `DBName` | String |  | `dev` |  | refused |",  # immutable=True
        "| `Port` | Integer |  | `5439` |  | in place (modify) |",  # in the resource's settings
        "| `NumberOfNodes` | Integer | yes |  |  | in place (rescale) |",  # read by converge's rescale
        "| `Paused` | Boolean |  | `false` |  | in place (rescale) |",
        "| `SkipFinalSnapshot` | Boolean |  | `false` |  | read at Delete |",
        "| `AdoptExisting` | Boolean |  | `false` |  | Create only |",
        "| `MasterUserSecretKmsKeyId` | String |  |  |  | refused once set |",  # KEYS_SET_ONCE
        "| `CopyOk` | Boolean |  | `false` |  | Create only |",
    ):
        assert row in text


def test_a_changed_docstring_or_schema_makes_the_docs_stale(
    reference: ModuleType, rendered: dict[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbscale.cfn.schema import Prop
    from dbscale.constructs import RedshiftCluster
    from dbscale.handlers import redshift_cluster

    assert reference.stale(rendered) == []
    monkeypatch.setattr(
        RedshiftCluster, "__doc__", (RedshiftCluster.__doc__ or "").replace(":param port:", ":param port: changed,")
    )
    assert reference.stale(reference.render()) == [ROOT / "docs" / "reference" / "constructs.md"]
    monkeypatch.undo()

    schema = (*redshift_cluster.SCHEMA, Prop("NewProperty", "int", default=1))
    monkeypatch.setattr(redshift_cluster.RedshiftClusterResource, "schema", schema)
    assert ROOT / "docs" / "reference" / "custom-resources.md" in reference.stale(reference.render())


def test_readme_names_every_exception_of_the_hierarchy() -> None:
    from dbscale.core import errors

    names = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.DbscaleError) and value.__module__ == errors.__name__
    ]
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in names if f"`{name}`" not in readme]
    assert not missing, f"README.md's exception hierarchy (dbscale/core/errors.py) does not name {', '.join(missing)}"


def test_parameter_links_follow_the_constructs_helper_methods(reference: ModuleType) -> None:
    """The properties are built by helper methods (``self._restore(...)``, ``self._set_up_network(...)``)
    whose parameters are named otherwise: a call binds them to its arguments, what a method returns
    stands for its call, and a resource made on the way (the subnet group) cuts the link."""
    from dbscale.constructs import AuroraCluster, RedshiftCluster

    def links(cls: type) -> dict[str, list[str]]:
        parameters = {p.name for p, _ in reference._parameters(cls)}
        resource_type = f"Custom::{cls.__name__}"
        resource = next(r for r in reference.resource_docs() if r.resource_type == resource_type)
        return reference.parameter_properties(cls, parameters, {row[0].strip("`") for row in resource.rows})

    aurora = links(AuroraCluster)
    assert aurora["restore_source_cluster"] == ["SourceDBClusterIdentifier"]  # _restore(self, snapshot, source, ...)
    assert aurora["removal_policy"] == ["SkipFinalSnapshot", "DeletionProtection"]  # _lifecycle(self, policy, ...)
    assert aurora["engine_version"] == ["EngineVersion", "DBClusterParameterGroupName"]  # _parameter_group's return
    assert sorted(aurora["encryption_key"]) == ["KmsKeyId", "MasterUserSecretKmsKeyId", "PerformanceInsightsKmsKeyId"]
    redshift = links(RedshiftCluster)
    assert redshift["security_groups"] == redshift["vpc"] == ["VpcSecurityGroupIds"]  # ClusterBase._set_up_network
    assert "vpc_subnets" not in redshift  # only into the subnet group, a resource of its own
    assert redshift["log_key_prefix"] == ["LoggingProperties"]
