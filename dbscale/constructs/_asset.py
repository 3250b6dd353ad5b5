"""The provider Lambda's code, staged at synth time without Docker.

The asset holds exactly what the handlers import at run time: ``dbscale/__init__.py``,
``dbscale/core/**.py`` (its subpackages included), ``dbscale/handlers/**.py``, the installed
``crhelper`` package, and the ``tzdata`` package (the IANA time zone files ``zoneinfo`` falls back
on: the autoscaler's schedules need them, and a Lambda runtime image need not carry them). Nothing
from CDK (``dbscale.constructs`` is left out), and no boto3: every Lambda Python runtime ships it.

Only ``.py`` files are copied from the code (no ``__pycache__``, no stubs), in sorted order, so two
synths of the same source produce the same asset hash and CloudFormation does not redeploy the function.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_STAGED: Path | None = None


def source_files() -> dict[str, Path]:
    """Relative asset path -> source file, for everything the asset must contain."""
    import crhelper
    import tzdata

    import dbscale

    package = Path(dbscale.__file__).parent
    files: dict[str, Path] = {"dbscale/__init__.py": package / "__init__.py"}
    for sub in ("core", "handlers"):
        for path in sorted((package / sub).rglob("*.py")):
            files[f"dbscale/{path.relative_to(package).as_posix()}"] = path
    crhelper_dir = Path(crhelper.__file__).parent
    for path in sorted(crhelper_dir.glob("*.py")):
        files[f"crhelper/{path.name}"] = path
    tzdata_dir = Path(tzdata.__file__).parent
    for path in sorted(tzdata_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"tzdata/{path.relative_to(tzdata_dir).as_posix()}"] = path
    return files


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
