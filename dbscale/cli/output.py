"""Console, JSON output, durations, the global options and the AWS session every command shares."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, ConsoleDimensions

from ..core.errors import InvalidRequest

if TYPE_CHECKING:
    import boto3

UNWRAPPED_WIDTH = 100_000
"""The console width outside a terminal: lines are as long as their content, never wrapped."""


@dataclass
class Settings:
    """The global options given before the command (``dbscale --profile P --region R --output json
    --debug COMMAND``), read by :func:`session` and the commands. ``interrupted`` is what Ctrl-C would
    leave running, set once an operation has been saved to ``operation_file`` (``None``: nothing was
    changed yet)."""

    profile: str | None = None
    region: str | None = None
    output: str | None = None
    debug: bool = False
    interrupted: str | None = None
    operation_file: Path | None = None


settings = Settings()


def configure(*, profile: str | None, region: str | None, output: str | None, debug: bool) -> None:
    """Set the global options for this run (the root callback calls it before every command)."""
    settings.profile, settings.region, settings.output, settings.debug = profile, region, output, debug
    settings.interrupted, settings.operation_file = None, None
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
        logger = logging.getLogger("dbscale")
        logger.setLevel(logging.DEBUG)
        if not any(getattr(h, "_dbscale_cli", False) for h in logger.handlers):
            handler._dbscale_cli = True  # type: ignore[attr-defined]
            logger.addHandler(handler)


def on_terminal(stream: IO[str]) -> bool:
    """True when ``stream`` is a terminal (the only place where output is wrapped to a width)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class _Console(Console):
    """A rich console that wraps only in a terminal: piped or redirected, a line is as long as its
    content (a path, a command or a table row is never cut), whatever ``COLUMNS`` says."""

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size in a terminal, else :data:`UNWRAPPED_WIDTH` columns."""
        measured = Console.size.fget(self)  # type: ignore[attr-defined]
        return measured if on_terminal(self.file) else ConsoleDimensions(UNWRAPPED_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = _Console(highlight=False)
err_console = _Console(stderr=True, highlight=False)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_MINUTES = {"s": 1 / 60, "m": 1.0, "": 1.0, "h": 60.0, "d": 1440.0}


def wants_json(flag: bool) -> bool:
    """A command's ``--json``, or the global ``--output json`` (the command's own flag wins)."""
    return flag or settings.output == "json"


def duration(seconds: float) -> str:
    """A duration as people write it, at most two units: ``10 s``, ``2 min 30 s``, ``1 h 5 min``,
    ``3 d 4 h`` (rounded to the smaller unit shown)."""
    seconds = max(0.0, float(seconds))
    if seconds < 59.95 and seconds != int(seconds):
        return f"{round(seconds, 1):g} s"
    if round(seconds) < 3600:
        return _two(round(seconds), 60, "min", "s")
    if round(seconds / 60) < 1440:
        return _two(round(seconds / 60), 60, "h", "min")
    return _two(round(seconds / 3600), 24, "d", "h")


def age(seconds: float) -> str:
    """How long ago, compact for a table column: ``45s``, ``12m``, ``2h05m``, ``1d03h``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _two(count: int, per: int, big: str, small: str) -> str:
    high, low = divmod(count, per)
    if not high:
        return f"{low} {small}"
    return f"{high} {big}" + (f" {low} {small}" if low else "")


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
    """A boto3 session for ``region``: the command's ``--region``, else the global one, else the
    environment's or the profile's; with the global ``--profile``. ``--debug`` logs each AWS call."""
    from ..core.aws import new_session

    made = new_session(profile_name=settings.profile or None, region_name=region or settings.region or None)
    if settings.debug:
        made.events.register("provide-client-params", log_call)
    if not made.region_name:
        raise InvalidRequest(
            "no AWS region: pass --region or set AWS_DEFAULT_REGION (or a profile's region)", field="region"
        )
    return made


def log_call(model: Any, params: dict[str, Any], **_: Any) -> None:
    """``--debug``: one line on stderr per AWS call (the call and its parameter names, no values)."""
    service = model.service_model.service_name
    sys.stderr.write(f"debug: AWS {service}.{model.name}({', '.join(sorted(params))})\n")


def split_regions(given: list[str] | None) -> list[str] | None:
    """``--region``/``--regions`` values, each one region or a comma list, as one list (None: none given)."""
    return [r.strip() for value in given or [] for r in value.split(",") if r.strip()] or None


def regions(given: list[str] | None, all_regions: bool) -> list[str]:
    """The regions a fleet command covers: ``--all-regions``, the ``--region``/``--regions`` list (each
    value one region or a comma list), or the default one."""
    given = split_regions(given)
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
