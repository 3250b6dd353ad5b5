"""The example's analytics queries (``sql/analytics/*.sql``), by name, through any StatementExecutor.

    python examples/telemetry/telemetry_analytics.py --cluster-arn ARN --secret-arn ARN devices
    python examples/telemetry/telemetry_analytics.py ... cpu_in_window start="2026-11-25 17:00" end="2026-11-25 18:00"

In AWS it runs through the RDS Data API (signed in with the application user's secret).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ANALYTICS = Path(__file__).resolve().parent / "sql" / "analytics"
MIGRATIONS = Path(__file__).resolve().parent / "sql" / "migrations"


def query_names() -> list[str]:
    """The analytics queries, by file name without ``.sql``."""
    return sorted(p.stem for p in ANALYTICS.glob("*.sql"))


def query(executor: Any, name: str, **parameters: Any) -> list[tuple[Any, ...]]:
    """Run analytics query ``name`` with its ``:parameters``; the rows."""
    if name not in query_names():
        raise ValueError(f"no query {name!r}; known: {', '.join(query_names())}")
    sql = (ANALYTICS / f"{name}.sql").read_text()
    return list(executor.execute(sql, parameters or None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cluster-arn", required=True)
    parser.add_argument("--secret-arn", required=True, help="the application user's secret")
    parser.add_argument("name", choices=query_names())
    parser.add_argument("params", nargs="*", help="name=value (numbers are passed as numbers)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from dbscale.core.bootstrap.executors import RdsDataExecutor, plain_rows

    parameters: dict[str, Any] = {}
    for item in args.params:
        key, _, value = item.partition("=")
        parameters[key] = int(value) if value.isdigit() else value
    executor = RdsDataExecutor(args.cluster_arn, args.secret_arn, "mysql")
    for row in plain_rows(query(executor, args.name, **parameters)):
        print("\t".join(str(v) for v in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
