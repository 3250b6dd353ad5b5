"""The ``dbscale`` command line: status, plan, rescale, pause, resume, wait, check, clone, pool, advise, prices.

``main()`` is the console script. Every :class:`~dbscale.core.errors.DbscaleError` becomes one line
on stderr and a documented exit code (:mod:`dbscale.cli.errors`); ``--debug`` shows the traceback.
"""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
