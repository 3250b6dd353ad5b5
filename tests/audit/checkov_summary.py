"""Summarize checkov JSON reports: ``python -m tests.audit.checkov_summary LABEL=REPORT.json ...``.

Prints, per report, the totals and the passed/failed count of each check family (checkov's
check id, e.g. ``CKV_AWS_64``, with its name), failed families first. Used by ``make audit``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def _reports(data: Any) -> list[dict[str, Any]]:
    """checkov writes one object per framework, or a list of them."""
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    return [data] if isinstance(data, dict) else []


def summarize(label: str, path: Path) -> list[str]:
    text = path.read_text().strip()
    if not text:
        return [f"== {label}: no report ({path})"]
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    names: dict[str, str] = {}
    resources: set[str] = set()
    for report in _reports(json.loads(text)):
        results = report.get("results", {})
        for outcome, counter in (("passed_checks", passed), ("failed_checks", failed)):
            for check in results.get(outcome, []):
                counter[check["check_id"]] += 1
                names[check["check_id"]] = check.get("check_name", "")
                resources.add(f"{check.get('file_path')}:{check.get('resource')}")
    lines = [
        f"== {label}: {sum(passed.values())} passed, {sum(failed.values())} failed, "
        f"{len(set(passed) | set(failed))} check families, {len(resources)} resources"
    ]
    for check_id in sorted(set(passed) | set(failed), key=lambda c: (-failed[c], c)):
        lines.append(f"  {check_id:<14} passed {passed[check_id]:>3}  failed {failed[check_id]:>3}  {names[check_id]}")
    return lines


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for argument in argv:
        label, _, path = argument.partition("=")
        print("\n".join(summarize(label, Path(path or label))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
