"""Set attributes on objects (moto classes) for a while and put the originals back."""

from __future__ import annotations

from typing import Any

_MISSING = object()


class Patcher:
    """Records every attribute it sets so that :meth:`restore` undoes them, last first.

    Works on classes: an attribute a class only inherited is deleted again on restore, so the
    inherited one shows through as before.
    """

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, target: Any, name: str, value: Any) -> None:
        original = vars(target).get(name, _MISSING) if hasattr(target, "__dict__") else getattr(target, name)
        self._saved.append((target, name, original))
        setattr(target, name, value)

    def restore(self) -> None:
        while self._saved:
            target, name, original = self._saved.pop()
            if original is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, original)

    @property
    def active(self) -> bool:
        return bool(self._saved)
