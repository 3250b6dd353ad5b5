"""Golden CloudFormation templates: what the construct tests' apps synthesize, kept in
``tests/data/templates/<app>.json`` so that a change to the constructs shows every place its
templates change (issue 25: a refactor changes none).

The templates are normalized before they are kept or compared: asset hashes (the provider code's S3
key, any 64-hex digest) become ``<hash>``, since every change to the handlers' code changes them.
Everything else is compared as it is: values, list order and the order of keys (the order of the
resources in the template follows the order the constructs made them).

A change that is meant: regenerate the files with ``DBSCALE_UPDATE_TEMPLATES=1`` on the tests that
read them, then review ``git diff tests/data/templates/``::

    DBSCALE_UPDATE_TEMPLATES=1 .venv/bin/python -m pytest -q tests/constructs/ -k template_unchanged
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "templates"
UPDATE_ENV = "DBSCALE_UPDATE_TEMPLATES"
MAX_LISTED = 40

_HASH = re.compile(r"[0-9a-f]{64}")


def normalized(value: Any) -> Any:
    """``value`` with every 64-hex digest (asset hashes, S3 keys) replaced by ``<hash>``."""
    if isinstance(value, str):
        return _HASH.sub("<hash>", value)
    if isinstance(value, dict):
        return {_HASH.sub("<hash>", k): normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def differences(old: Any, new: Any, path: str = "$") -> list[str]:
    """Where ``new`` differs from ``old``, one line per difference, each starting with its JSON path."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        found += [f"{path}.{k}: removed" for k in old if k not in new]
        found += [f"{path}.{k}: added {_short(new[k])}" for k in new if k not in old]
        for k in old:
            if k in new:
                found += differences(old[k], new[k], f"{path}.{k}")
        if not found and list(old) != list(new):
            found.append(f"{path}: same keys in another order")
        return found
    if isinstance(old, list) and isinstance(new, list):
        found = []
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            found += differences(a, b, f"{path}[{i}]")
        found += [f"{path}[{i}]: removed {_short(old[i])}" for i in range(len(new), len(old))]
        found += [f"{path}[{i}]: added {_short(new[i])}" for i in range(len(old), len(new))]
        return found
    if old != new or type(old) is not type(new):
        return [f"{path}: {_short(old)} -> {_short(new)}"]
    return []


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def assert_template_unchanged(name: str, templates: dict[str, dict[str, Any]]) -> None:
    """Compare ``templates`` (stack name -> template) with ``tests/data/templates/<name>.json``.

    With ``DBSCALE_UPDATE_TEMPLATES=1`` the file is written instead (and the test passes).
    """
    now = normalized(templates)
    path = GOLDEN / f"{name}.json"
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(now, indent=1) + "\n", encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"no golden template {path}: make it with {UPDATE_ENV}=1 (tests/constructs/templates.py)")
    kept = json.loads(path.read_text(encoding="utf-8"))
    found = differences(kept, now)
    if found:
        listed = "\n".join(found[:MAX_LISTED])
        more = f"\n... and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        raise AssertionError(
            f"the synthesized templates of {name} differ from {path.relative_to(GOLDEN.parents[2])} "
            f"({len(found)} differences; if meant, regenerate with {UPDATE_ENV}=1):\n{listed}{more}"
        )


def stack_templates(synth: Any) -> dict[str, dict[str, Any]]:
    """Every stack template of a synthesized app (``tests.cdk_app.Synthesized``), by stack name."""
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text(encoding="utf-8")) for p in synth.template_paths()
    }
