"""The providers' Lambda code as one reproducible zip, made from the installed package.

The bundle holds exactly what the handlers import at run time: ``dbscale/__init__.py``,
``dbscale/core/**.py`` (its subpackages included), ``dbscale/cfn/**.py``, ``dbscale/handlers/**.py``
and the ``tzdata`` package (the IANA time zone files ``zoneinfo`` falls back on: the autoscaler's
schedules need them, and a Lambda runtime image need not carry them). Nothing from the CDK, no CLI,
no boto3 (every Lambda Python runtime ships it).

Only ``.py`` files are taken from the code (no ``__pycache__``, no stubs), in sorted order, with
fixed timestamps and modes, so the same source always gives the same bytes and the same hash: the
CDK asset and the S3 key of ``dbscale providers deploy`` change only when the code does.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

# 1980-01-01, the zip format's epoch: a timestamp that never changes the hash.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def source_files() -> dict[str, Path]:
    """Relative path in the bundle -> source file, for everything the providers need at run time."""
    import tzdata

    import dbscale

    package = Path(dbscale.__file__).parent
    files: dict[str, Path] = {"dbscale/__init__.py": package / "__init__.py"}
    for sub in ("core", "cfn", "handlers"):
        for path in sorted((package / sub).rglob("*.py")):
            files[f"dbscale/{path.relative_to(package).as_posix()}"] = path
    tzdata_dir = Path(tzdata.__file__).parent
    for path in sorted(tzdata_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"tzdata/{path.relative_to(tzdata_dir).as_posix()}"] = path
    return files


@dataclass(frozen=True)
class Bundle:
    """The zipped provider code: its bytes, their SHA-256 (hex) and the number of files."""

    data: bytes
    sha256: str
    file_count: int

    @property
    def s3_key(self) -> str:
        """Where the bundle goes in the code bucket: named by its hash, so an upload is never repeated."""
        return f"dbscale-providers/{self.sha256[:32]}.zip"


def build_bundle() -> Bundle:
    """Zip :func:`source_files` reproducibly (deflated, sorted, fixed times and modes)."""
    buffer = io.BytesIO()
    files = source_files()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in sorted(files):
            info = zipfile.ZipInfo(relative, date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16  # rw-r--r--: Lambda needs the files readable, nothing else
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[relative].read_bytes())
    data = buffer.getvalue()
    return Bundle(data=data, sha256=hashlib.sha256(data).hexdigest(), file_count=len(files))
