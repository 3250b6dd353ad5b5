"""What some tests need beyond Python and Node, and what happens when it is missing.

A test that needs a database server or a browser calls :func:`missing` when there is none. On a
developer's machine that is a skip whose reason names the thing and the one command that installs
it, and the run ends with one line gathering them (:func:`summary_line`, printed by
``tests/conftest.py``). Where ``DBSCALE_REQUIRE_TEST_SERVERS`` is set (``.ci/run`` sets it) it is a
failure instead, so CI can never pass without running those tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import NoReturn

import pytest

REQUIRE_ENV = "DBSCALE_REQUIRE_TEST_SERVERS"
_REASON = re.compile(r"^needs (?P<what>[^:]+): (?P<install>[^;]+)(;|$)")


def required() -> bool:
    """True where a missing server or browser fails the test instead of skipping it."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def missing(what: str, install: str, detail: str = "") -> NoReturn:
    """Skip (or, where required, fail) the calling test: ``what`` is not on this machine and
    ``install`` is the one command that brings it."""
    reason = f"needs {what}: {install}" + (f"; {detail}" if detail and install not in detail else "")
    if required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set: a missing server or browser is an error)", pytrace=False)
    pytest.skip(reason)


def summary_line(skip_reasons: Iterable[str]) -> str | None:
    """One line naming what the skipped tests needed and the command installing all of it, or
    None when no test was skipped for want of a server or browser."""
    counts: dict[str, int] = {}
    installs: dict[str, str] = {}
    for reason in skip_reasons:
        match = _REASON.match(reason.removeprefix("Skipped: "))
        if match:
            what = match["what"].strip()
            counts[what] = counts.get(what, 0) + 1
            installs[what] = match["install"].strip()
    if not counts:
        return None
    named = ", ".join(f"{n} need{'s' if n == 1 else ''} {what}" for what, n in counts.items())
    apt = sorted({i.removeprefix("apt-get install ") for i in installs.values() if i.startswith("apt-get install ")})
    other = sorted({i for i in installs.values() if not i.startswith("apt-get install ")})
    commands = ([f"apt-get install {' '.join(apt)}"] if apt else []) + other
    return f"NOT RUN: {sum(counts.values())} tests ({named}); install with: {' && '.join(commands)}"
