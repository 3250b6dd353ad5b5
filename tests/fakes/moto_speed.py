"""Memos that make moto answer faster, with the same answers (test time only, no behaviour).

Profiled on the suite's slowest test (a 5-hour resize checked every 5 s, 7,558 calls), moto spends
more time deciding *how* to serialize a response than anything else, and recomputes it on every call:

* ``AttributePicker.get_possible_keys``: for each member of each shape of each response, which
  attribute names of the Python object to try. It depends only on the picker's class and alias
  providers, the object's class (its name: ``ClassPrefixAlias``) and ``Meta`` (explicit aliases),
  the member key, the member shape and the shape it is serialized under (``shape.parent``), all
  fixed while a process runs; the memo keys on exactly those (holding the shapes, so no id is ever
  reused).
* ``method_names_from_class`` (``inspect.getmembers`` over the response class, per request), used
  only as ``action in method_names``: answered by looking the one action up on the class. Exact
  even while a shim adds or removes a method, which a memo of the list would not be.

Two more costs that are the same on every call and that no answer depends on:

* moto's KMS makes an RSA-2048 private key for every key it creates, symmetric ones included
  (~80 ms each; most clusters the suite makes are encrypted). :class:`_KeyOnFirstUse` makes it
  when the key is first used to sign, verify or show its public key, the only places moto reads it.
* moto's CloudFormation reads every template with PyYAML's pure-Python loader, JSON ones too
  (~0.35 s for the providers' 52 KB template, twice per change set): a template that is JSON is
  read with ``json`` first (YAML is a superset of JSON: the same dict), anything else as before.
* xmltodict 1.0 checks every element name it writes (moto's XML answers) against a list of
  forbidden characters; the names repeat, the check's answer does not change: memoized per name.

:func:`install` fails loudly when the moto symbols it wraps move (``ShimObsolete``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import types
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from .patching import Patcher

_installed = False
_ORIGINALS: list[tuple[Any, str, Any]] = []


class _FunctionNames:
    """``name in _FunctionNames(cls)`` is ``name in method_names_from_class(cls)``, without listing."""

    __slots__ = ("_cls",)

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self._cls, name, None))


def _memo_possible_keys(original: Callable[..., Iterator[str]]) -> Callable[..., Iterator[str]]:
    memo: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def get_possible_keys(self: Any, context: Any) -> Iterator[str]:
        shape = context.shape
        key = (
            type(self),
            tuple(self.alias_providers),
            type(context.obj),  # ClassPrefixAlias: DBInstanceIdentifier -> identifier on a DBInstance
            getattr(context.obj, "Meta", None),
            context.key,
            shape,
            getattr(shape, "parent", None),
        )
        found = memo.get(key)
        if found is None:
            found = memo[key] = tuple(original(self, context))
        return iter(found)

    return get_possible_keys


class _KeyOnFirstUse:
    """Stands in for moto's private key of a KMS key; generates it on the first attribute read."""

    def __init__(self, generate: Callable[[str], Any], key_spec: str) -> None:
        self._generate, self._key_spec, self._key = generate, key_spec, None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._key is None:
            self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


def _memo_valid_names(original: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    valid: set[tuple[str, str]] = set()

    def validate_name(value: Any, kind: str) -> None:
        if isinstance(value, str) and (value, kind) in valid:
            return
        original(value, kind)  # raises for an invalid name, every time
        if isinstance(value, str):
            valid.add((value, kind))

    return validate_name


class _JsonFirstYaml(types.ModuleType):
    """PyYAML, except that ``load`` of a JSON document is ``json.loads`` (the same result, faster)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(yaml, name)

    def load(self, stream: Any, Loader: Any = None) -> Any:
        if isinstance(stream, (str, bytes)) and stream.lstrip()[:1] in ("{", b"{"):
            try:
                return json.loads(stream)
            except ValueError:
                pass
        return yaml.load(stream, Loader=Loader)


_JSON_FIRST_YAML = _JsonFirstYaml("yaml")


def install() -> None:
    """Install the memos once per process (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.core import responses, serialize

    from .moto_shims import ShimObsolete

    if "if action in method_names:" not in inspect.getsource(responses.BaseResponse.call_action):
        raise ShimObsolete(
            "moto's call_action no longer asks 'action in method_names': review tests/fakes/moto_speed.py"
        )
    if "self.alias_providers" not in inspect.getsource(serialize.AttributePicker.__init__) or any(
        "get_possible_keys" not in vars(cls) for cls in (serialize.AttributePicker, serialize.XFormedAttributePicker)
    ):
        raise ShimObsolete("moto's AttributePicker.get_possible_keys moved: review tests/fakes/moto_speed.py")
    import xmltodict
    from moto.kms import models as kms_models

    if "generate_private_key(self.key_spec)" not in inspect.getsource(kms_models.Key.__init__):
        raise ShimObsolete("moto's KMS Key makes its private key elsewhere: review tests/fakes/moto_speed.py")
    if not callable(getattr(xmltodict, "_validate_name", None)):
        raise ShimObsolete("xmltodict._validate_name moved: review tests/fakes/moto_speed.py")
    generate = kms_models.generate_private_key
    _ORIGINALS.append((kms_models, "generate_private_key", generate))
    kms_models.generate_private_key = lambda key_spec: _KeyOnFirstUse(generate, key_spec)
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation import responses as cfn_responses

    for module in (cfn_models, cfn_responses):
        if getattr(module, "yaml", None) is not yaml:
            raise ShimObsolete(f"{module.__name__} no longer uses yaml: review tests/fakes/moto_speed.py")
        _ORIGINALS.append((module, "yaml", yaml))
        module.yaml = _JSON_FIRST_YAML  # type: ignore[attr-defined]
    _ORIGINALS.append((xmltodict, "_validate_name", xmltodict._validate_name))
    xmltodict._validate_name = _memo_valid_names(xmltodict._validate_name)
    _ORIGINALS.append((responses, "method_names_from_class", responses.method_names_from_class))
    responses.method_names_from_class = _FunctionNames  # type: ignore[assignment]
    for cls in (serialize.AttributePicker, serialize.XFormedAttributePicker):
        original = vars(cls)["get_possible_keys"]
        _ORIGINALS.append((cls, "get_possible_keys", original))
        cls.get_possible_keys = _memo_possible_keys(original)  # type: ignore[method-assign]
    _installed = True


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """moto as it is without the memos, for a while (the test that both answer the same)."""
    patcher = Patcher()
    for target, name, original in _ORIGINALS:
        patcher.set(target, name, original)
    try:
        yield
    finally:
        patcher.restore()
