"""Console, JSON output and the AWS session/region handling every command shares."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from ..core.errors import InvalidRequest

if TYPE_CHECKING:
    import boto3

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_MINUTES = {"s": 1 / 60, "m": 1.0, "": 1.0, "h": 60.0, "d": 1440.0}


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colour, stable for scripts)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def minutes(text: str, *, option: str) -> float:
    """``"10m"``, ``"90s"``, ``"2h"``, ``"1d"`` or a bare number of minutes, as minutes (> 0)."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidRequest(f"{option} must be a duration such as 10m, 90s, 2h or 1d, got {text!r}", field=option)
    return float(match.group(1)) * _UNIT_MINUTES[match.group(2)]


def session(region: str | None) -> boto3.Session:
    """A boto3 session for ``region`` (default: the environment's or profile's region)."""
    import boto3

    made = boto3.Session(region_name=region) if region else boto3.Session()
    if not made.region_name:
        raise InvalidRequest("no AWS region: pass --region or set AWS_REGION (or a profile's region)", field="region")
    return made


def regions(given: list[str] | None, all_regions: bool) -> list[str]:
    """The regions a fleet command covers: ``--all-regions``, the ``--region`` list, or the default one."""
    if all_regions:
        from ..core.advisor import all_regions as every

        return every(session(None) if not given else session(given[0]))
    if given:
        return list(dict.fromkeys(given))
    return [str(session(None).region_name)]


def tags(pairs: list[str] | None) -> dict[str, str]:
    """``["K=V", ...]`` as a dict."""
    found: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidRequest(f"--tag takes KEY=VALUE, got {pair!r}", field="tag")
        found[key] = value
    return found


def state_dir() -> Path:
    """Where operation files go: ``$DBSCALE_STATE_DIR``, else ``$XDG_STATE_HOME/dbscale``, else
    ``~/.local/state/dbscale``."""
    if os.environ.get("DBSCALE_STATE_DIR"):
        return Path(os.environ["DBSCALE_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dbscale"


def money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"
