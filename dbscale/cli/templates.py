"""Templates for ``dbscale validate``: read a CloudFormation template (JSON, or YAML with the short-form
intrinsic tags), find its dbscale resources, and resolve what is known before a deploy.

What a deploy resolves and this cannot (``!GetAtt``, ``!ImportValue``, a ``!Ref`` to a resource,
conditions) raises :class:`Unresolved`; the property is then left out of the check and noted. A
``!Ref`` to a parameter takes its ``--parameters`` value, else its ``Default``; ``AWS::Region`` and
``AWS::Partition`` come from the session, ``AWS::AccountId`` from STS (read once, only when asked).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import InvalidRequest
from ..deploy.template import EXPORT_NAMES

RESOURCE_TYPES = tuple(EXPORT_NAMES)
"""The dbscale types the preflight checks (``Custom::RedshiftCluster`` ...)."""
GENERIC_TYPE = "AWS::CloudFormation::CustomResource"
_SUB = re.compile(r"\$\{([^}]*)\}")
NO_VALUE = object()
"""``!Ref AWS::NoValue``: the property (or list item) is left out, as CloudFormation does."""


class Unresolved(Exception):
    """A value only a deploy knows (the message says which function or reference)."""


@dataclass(frozen=True)
class TemplateResource:
    """One dbscale resource of a template: where it is, its type and its raw properties."""

    file: str
    logical_id: str
    resource_type: str
    properties: dict[str, Any]


def template_files(path: Path) -> list[Path]:
    """``path`` itself, or for a directory (``cdk.out``) every ``*.template.json`` in it (nested
    assemblies and stacks included; asset directories left out)."""
    if not path.exists():
        raise InvalidRequest(f"no such file or directory: {path}", field="template")
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.rglob("*.template.json") if not any(part.startswith("asset.") for part in p.parts))
    if not found:
        raise InvalidRequest(f"no *.template.json in {path} (run cdk synth first)", field="template")
    return found


def load_template(path: Path) -> dict[str, Any]:
    """The template at ``path`` as a dict: JSON, else YAML (short-form tags read as their long form,
    ``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``)."""
    text = path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(text) if text.lstrip().startswith("{") else _load_yaml(text)
    except ValueError as err:  # json.JSONDecodeError and yaml.YAMLError (made a ValueError below)
        raise InvalidRequest(f"{path} is not a readable template: {err}", field="template") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("Resources"), dict):
        raise InvalidRequest(f"{path} is not a CloudFormation template (no Resources)", field="template")
    return loaded


def _load_yaml(text: str) -> Any:
    try:
        import yaml
    except ImportError:  # not a dependency of dbscale: the JSON form needs nothing
        raise InvalidRequest(
            "reading a YAML template needs PyYAML (pip install pyyaml); or give the JSON form "
            "(cdk synth writes JSON to cdk.out/)",
            field="template",
        ) from None

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # (PyYAML has no stubs here)
        """SafeLoader that reads every ``!Tag`` as CloudFormation's long form."""

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", intrinsic)
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader: no object construction
    except yaml.YAMLError as err:
        raise ValueError(str(err)) from None


def dbscale_type(resource: dict[str, Any]) -> str | None:
    """The dbscale type of a template resource: its ``Type``, or for a generic custom resource the
    type whose ServiceToken export it imports (``!ImportValue dbscale-AuroraClusterServiceToken``)."""
    kind = resource.get("Type")
    if kind in RESOURCE_TYPES:
        return str(kind)
    if not isinstance(kind, str) or not (kind == GENERIC_TYPE or kind.startswith("Custom::")):
        return None
    token = (resource.get("Properties") or {}).get("ServiceToken")
    imported = token.get("Fn::ImportValue") if isinstance(token, dict) else None
    for name, export in EXPORT_NAMES.items():
        if imported == export:
            return name
    return None


def dbscale_resources(template: dict[str, Any], file: str) -> list[TemplateResource]:
    """Every dbscale resource of ``template``, in template order."""
    found = []
    for logical_id, resource in template["Resources"].items():
        kind = dbscale_type(resource) if isinstance(resource, dict) else None
        if kind is not None:
            properties = resource.get("Properties") or {}
            found.append(TemplateResource(file, str(logical_id), kind, dict(properties)))
    return found


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Each template parameter's value: the one ``given`` (``--parameters``), else its Default; a
    list type (``CommaDelimitedList``, ``List<...>``) as a list."""
    values: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        value: Any = given.get(name, spec.get("Default"))
        if value is None:
            continue
        kind = str(spec.get("Type") or "")
        if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        values[name] = value
    return values


@dataclass
class Resolver:
    """Resolves the intrinsic functions a template's values use, where no deploy is needed."""

    parameters: dict[str, Any]
    region: str
    account: Callable[[], str]
    _account: list[str] = field(default_factory=list)

    def resolve(self, value: Any) -> Any:
        """``value`` with its ``Ref``, ``Fn::Sub`` and ``Fn::Join`` resolved; :class:`Unresolved`
        for any other function, or a reference to a resource."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                if key == "Ref":
                    return self.ref(str(arg))
                if key == "Fn::Sub":
                    return self.sub(arg)
                if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                    parts = self.resolve(arg[1])
                    if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
                        return str(arg[0]).join(parts)
                if key.startswith("Fn::") or key == "Condition":
                    raise Unresolved(key)
            return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        return value

    def ref(self, name: str) -> Any:
        """A parameter's value or a pseudo parameter's."""
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::Region":
            return self.region
        if name == "AWS::Partition":
            return "aws-cn" if self.region.startswith("cn-") else "aws-us-gov" if "-gov-" in self.region else "aws"
        if name == "AWS::URLSuffix":
            return "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        if name == "AWS::AccountId":
            if not self._account:
                self._account.append(self.account())
            return self._account[0]
        if name == "AWS::NoValue":
            return NO_VALUE
        raise Unresolved(f"Ref {name}")

    def sub(self, arg: Any) -> str:
        """``Fn::Sub``: ``${Name}`` from its own variables, the parameters or the pseudo parameters."""
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise Unresolved("Fn::Sub")
        own = {k: self.resolve(v) for k, v in variables.items()}

        def one(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if "." in name and name not in own:
                raise Unresolved(f"Fn::Sub ${{{name}}}")
            value = own[name] if name in own else self.ref(name)
            if not isinstance(value, (str, int, float)):
                raise Unresolved(f"Fn::Sub ${{{name}}}")
            return str(value)

        return _SUB.sub(one, text)


def resolve_properties(raw: dict[str, Any], resolver: Resolver) -> tuple[dict[str, Any], dict[str, str]]:
    """(the properties resolved, property -> what left it unresolved); ``ServiceToken`` left out."""
    resolved: dict[str, Any] = {}
    unresolved: dict[str, str] = {}
    for name, value in raw.items():
        if name == "ServiceToken":
            continue
        try:
            found = resolver.resolve(value)
        except Unresolved as err:
            unresolved[name] = str(err)
            continue
        if found is not NO_VALUE:
            resolved[name] = found
    return resolved, unresolved


def parse_pairs(pairs: list[str] | None, *, option: str) -> dict[str, str]:
    """``["Key=Value", ...]`` as a dict (``option`` names the flag in the error)."""
    found: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"{option} takes KEY=VALUE, got {pair!r}", field=option.lstrip("-"))
        found[key] = value
    return found
