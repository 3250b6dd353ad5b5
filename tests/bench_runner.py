"""Run a ``bench/`` script in its quick mode, as ``make bench`` does, and read its JSON figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def quick_figures(script: str, *, timeout: float) -> dict[str, Any]:
    """``bench/<script> --quick --json`` on moto (fake credentials, no endpoint or profile): the
    figures it prints last; AssertionError with its output when it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
