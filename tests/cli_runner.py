"""Run the ``dbscale`` command line in process, as the console script does (exit code and output)."""

from __future__ import annotations

import pytest

from dbscale.cli import main


def dbscale(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``dbscale ARGS``: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err
