"""Compatibility alias: the providers now live in :mod:`dbscale.constructs.providers`, one module each."""

from __future__ import annotations

from . import providers as _providers
from .providers import *  # noqa: F403 (the alias re-exports exactly the package's names)
from .providers._base import _shared_code

__all__ = [*_providers.__all__, "_shared_code"]
