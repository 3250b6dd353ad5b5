"""Two memos that make moto answer faster, with the same answers (test time only, no behaviour).

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

:func:`install` fails loudly when the moto symbols it wraps move (``ShimObsolete``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

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


def install() -> None:
    """Install both memos once per process (idempotent)."""
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
    installed = [(target, name, getattr(target, name)) for target, name, _ in _ORIGINALS]
    for target, name, original in _ORIGINALS:
        setattr(target, name, original)
    try:
        yield
    finally:
        for target, name, memo in installed:
            setattr(target, name, memo)
