"""The provider Lambda's code, staged at synth time without Docker.

What goes in is :func:`dbscale.deploy.bundle.source_files` (the handlers' code and ``tzdata``,
nothing from the CDK), copied in sorted order, so two synths of the same source produce the same
asset hash and CloudFormation does not redeploy the function.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from dbscale.deploy.bundle import source_files

_STAGED: Path | None = None


def staged_handler_code() -> str:
    """A directory holding the provider code; staged once per process and removed at exit."""
    global _STAGED
    if _STAGED is None or not _STAGED.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="dbscale-provider-"))
        atexit.register(shutil.rmtree, staging, True)
        for relative, path in source_files().items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        _STAGED = staging
    return str(_STAGED)
