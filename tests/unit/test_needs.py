"""tests/needs.py: a missing server or browser is a skip with a reason on a developer's machine,
a failure where DBSCALE_REQUIRE_TEST_SERVERS is set, and one summary line at the end of the run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.needs import REQUIRE_ENV, missing, required, summary_line

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "expected"), [("", False), ("0", False), ("false", False), ("1", True), ("yes", True)]
)
def test_required_reads_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv(REQUIRE_ENV, value)
    assert required() is expected


def test_missing_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"^needs Chromium: apt-get install chromium$"):
        missing("Chromium", "apt-get install chromium")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"needs Chromium: apt-get install chromium.*{REQUIRE_ENV} is set"):
        missing("Chromium", "apt-get install chromium")


def test_summary_line_gathers_what_and_one_command() -> None:
    reasons = [
        "needs a MariaDB/MySQL server: apt-get install mariadb-server; no MariaDB/MySQL server: ...",
        "Skipped: needs a MariaDB/MySQL server: apt-get install mariadb-server",
        "needs Chromium: apt-get install chromium",
        "moto now has it",  # an ordinary skip is not counted
    ]
    line = summary_line(reasons)
    assert line == (
        "NOT RUN: 3 tests (2 need a MariaDB/MySQL server, 1 needs Chromium); "
        "install with: apt-get install chromium mariadb-server"
    )
    assert summary_line(["moto now has it"]) is None and summary_line([]) is None


def test_a_run_missing_a_browser_ends_with_the_line(tmp_path: Path) -> None:
    """A real pytest run of a test whose browser is missing, through the project's conftest hook."""
    (tmp_path / "test_probe.py").write_text(
        textwrap.dedent(
            """
            from tests.needs import missing

            def test_needs_a_browser():
                missing("Chromium", "apt-get install chromium")
            """
        )
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), REQUIRE_ENV: ""}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c",
         str(ROOT / "pyproject.toml"), "--confcutdir", str(ROOT), "--noconftest", "-p", "tests.conftest",
         str(tmp_path / "test_probe.py")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and "1 skipped" in lines[-1], done.stdout
    assert lines[-2] == "NOT RUN: 1 tests (1 needs Chromium); install with: apt-get install chromium", done.stdout
