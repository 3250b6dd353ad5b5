"""How `make test` splits the suite over its workers (tests/conftest.py): every test of a shared
set-up group, and every test of a file with module-, class- or package-scoped fixtures, lands in one
unit; every other test is a unit of its own."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SHARED_SETUP_GROUPS, scheduling_unit

ROOT = Path(__file__).resolve().parents[2]
WIDE = re.compile(r"""scope\s*=\s*["'](module|class|package)["']""")


def test_every_test_file_is_scheduled_by_the_rule() -> None:
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py"))
    assert len(files) > 50
    for path in files:
        a, b = scheduling_unit(f"{path}::test_a"), scheduling_unit(f"{path}::test_b[1]")
        group = next((g for g, prefixes in SHARED_SETUP_GROUPS.items() if path.startswith(prefixes)), None)
        if group is not None:
            assert a == b == group, path
        elif WIDE.search((ROOT / path).read_text()):
            assert a == b == path, path  # its module fixture is made once
        else:
            assert (a, b) == (f"{path}::test_a", f"{path}::test_b[1]"), path


def test_the_cdk_and_database_server_files_share_their_worker() -> None:
    assert scheduling_unit("tests/constructs/test_clusters.py::t") == "cdk"
    assert scheduling_unit("tests/audit/test_native_lint.py::t") == "cdk"
    assert scheduling_unit("tests/e2e/test_provider_iam.py::t") == "cdk"
    assert scheduling_unit("tests/unit/test_bootstrap.py::t[mysql]") == "dbservers"
    assert scheduling_unit("tests/e2e/test_cli.py::t") == "tests/e2e/test_cli.py"  # module-scoped moto_server
