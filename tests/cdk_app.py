"""Synthesized CDK apps for tests: :func:`synthesize` and the example app (app.py), the latter made
once per test process for every test that only reads it (constructs and audit tests alike)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Synthesized:
    """A synthesized app: its App, its stacks by name, its cloud assembly directory."""

    app: Any
    stacks: dict[str, Any]
    outdir: Path

    def template(self, stack_name: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack_name}.template.json").read_text())

    def template_paths(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def synthesize(outdir: Path, build: Callable[[Any], None]) -> Synthesized:
    from aws_cdk import App, Stack

    app = App(outdir=str(outdir))
    build(app)
    app.synth()
    stacks = {c.node.id: c for c in app.node.children if isinstance(c, Stack)}
    return Synthesized(app, stacks, outdir)


def synthesize_example(outdir: Path) -> Synthesized:
    """The repository's example app (app.py's ``build_app``) synthesized into ``outdir``."""
    sys.path.insert(0, str(ROOT))
    try:
        import app as example_app
    finally:
        sys.path.remove(str(ROOT))
    return synthesize(outdir, lambda app: example_app.build_app(app))
