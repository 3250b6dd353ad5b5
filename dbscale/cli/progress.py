"""Running an operation from the command line: save it to a file, follow it live, survive Ctrl-C.

The operation file (``Operation.to_dict()`` plus the region) is written before the first poll and
after every poll, so ``dbscale wait OPERATION-FILE`` can pick the operation up from any shell.
Ctrl-C stops watching, never the operation: AWS goes on, and the message says how to resume
(one line, never wrapped, so the command can be copied whole).
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..core.errors import InvalidRequest, OperationFailed, OperationTimeout
from ..core.operation import Operation, PollResult
from . import errors
from .output import console, duration, err_console, on_terminal, print_json, session, settings, state_dir

FILE_FORMAT = "dbscale-operation/1"


def save(op: Operation, region: str, path: Path, account: dict[str, Any] | None = None) -> None:
    """Write the operation file atomically; from now on Ctrl-C says how to resume watching it.
    ``account`` (a change across accounts: ``{"id", "role_name", "external_id"}``, ``role_name`` None
    in the caller's own account) is kept in the file, so that ``dbscale wait`` acts in that account."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": FILE_FORMAT,
        "region": region,
        "saved_at": datetime.now(tz=timezone.utc).isoformat(timespec="seconds"),
        "operation": op.to_dict(),
    }
    if account is not None:
        data["account"] = account
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    settings.interrupted = None if op.done or op.failure else left_running(op, path)
    settings.operation_file = path


def left_running(op: Operation, path: Path) -> str:
    """What Ctrl-C leaves running and how to resume watching it, as one line."""
    step = min(op.index + 1, len(op.steps))
    return (
        f"interrupted: {op.description} is still running in AWS (step {step}/{len(op.steps)}). "
        f"Resume watching it with: dbscale wait {shlex.quote(str(path))}"
    )


def default_path(op: Operation) -> Path:
    stamp = datetime.now(tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return state_dir() / "operations" / f"{op.service}-{op.cluster_name}-{stamp}.json"


def load(path: Path) -> tuple[Operation, str]:
    """The operation saved in ``path`` and its region."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InvalidRequest(f"cannot read operation file {path}: {err.strerror}", field="operation_file") from None
    except ValueError:
        raise InvalidRequest(f"{path} is not an operation file (not JSON)", field="operation_file") from None
    if not isinstance(data, dict) or data.get("format") != FILE_FORMAT or "operation" not in data:
        raise InvalidRequest(f"{path} is not a dbscale operation file", field="operation_file")
    region = str(data["region"])
    try:
        op = Operation.from_dict(data["operation"], session=account_session(data.get("account"), region))
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidRequest(f"{path} holds a damaged operation ({err})", field="operation_file") from None
    return op, region


def account_session(account: Any, region: str) -> Any:
    """The session an operation file's ``account`` record acts in: the caller's own without one (or
    without a role), else the role it names assumed again in that account (STS AssumeRole)."""
    if not account or not account.get("role_name"):
        return session(region)
    from ..core.fleet import AccountSessions

    sessions = AccountSessions(
        session, role_name=str(account["role_name"]), external_id=account.get("external_id"), sts_region=region
    )
    return sessions.session(str(account["id"]), region)


def start(
    op: Operation,
    region: str,
    *,
    wait: bool,
    timeout_minutes: float,
    poll_seconds: float,
    save_to: Path | None,
) -> int:
    """Save ``op``, poll it once (AWS accepts the first change), then follow it or print it as JSON.

    An operation that fails before any change could reach AWS (``Operation.may_have_changed_aws``)
    leaves no operation file: there is nothing to follow."""
    path = save_to or default_path(op)
    if not wait:
        result = begin(op, region, path)
    else:
        save(op, region, path)
        try:
            return follow(op, region, path, timeout_minutes=timeout_minutes, poll_seconds=poll_seconds)
        except BaseException as err:
            forget_unchanged(op, path, err)
            raise
    print_json(
        {"operation_file": str(path), "region": region, "status": result.status.value, "operation": op.to_dict()}
    )
    return errors.OK


def begin(op: Operation, region: str, path: Path, account: dict[str, Any] | None = None) -> PollResult:
    """Save ``op`` to ``path`` (with its ``account``, see :func:`save`), poll it once (AWS accepts
    the first change) and save it again, without following it: what ``--no-wait`` does. Raises
    :class:`OperationFailed` when the first poll fails."""
    save(op, region, path, account)
    try:
        result = op.poll()
        save(op, region, path, account)
        if result.failed:
            raise OperationFailed(result.reason)
    except BaseException as err:
        forget_unchanged(op, path, err)
        raise
    return result


def forget_unchanged(op: Operation, path: Path, err: BaseException) -> None:
    """Remove the file of an operation that ended (``err``) before any change could reach AWS:
    there is nothing to follow."""
    if not isinstance(err, OperationTimeout) and not op.may_have_changed_aws:
        path.unlink(missing_ok=True)


def _elapsed(seconds: float) -> str:
    """``H:MM:SS``: the time stamp before each progress line outside a terminal."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _value(value: Any) -> str:
    """A step field's value as text: a nested step by its action, a mapping as ``k=v`` pairs, a list
    comma-separated; never a Python repr."""
    if isinstance(value, dict):
        if "action" in value:
            return str(value["action"])
        return " ".join(f"{k}={_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value) or "none"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def step_text(step: dict[str, Any]) -> tuple[str, str]:
    """A step's action and its details, e.g. ``("resize", "node_type=ra3.xlplus number_of_nodes=2")``;
    a step run on another cluster (clones) reads ``"aurora: wait_available"``."""
    action = str(step["action"])
    if isinstance(step.get("step"), dict):
        action = f"{action}: {_value(step['step'])}"
    extras = [
        f"{k}=({_value(v)})" if isinstance(v, dict) and "action" not in v else f"{k}={_value(v)}"
        for k, v in step.items()
        if k not in ("action", "steps", "reason", "step", "tags", "options")
    ]
    return action, ", ".join(extras)


def render(op: Operation, result: PollResult | None, watched: float) -> Group:
    """Each step with its state, the current detail, and the elapsed times."""
    table = Table.grid(padding=(0, 1))
    for i, step in enumerate(op.steps):
        if i < op.index:
            mark, style = "done", "green"
        elif i == op.index and op.failure:
            mark, style = "FAILED", "red"
        elif i == op.index:
            mark, style = "now ", "bold yellow"
        else:
            mark, style = "    ", "dim"
        action, extras = step_text(step)
        table.add_row(
            Text(f"[{mark}]", style=style), Text(f"{i + 1}/{len(op.steps)} {action}"), Text(extras, style="dim")
        )
    detail = result.reason if result is not None else "starting"
    footer = Text(
        f"{detail}\nelapsed {duration(int(time.monotonic() - watched))} watching, "
        f"{duration(int(op.elapsed_seconds()))} since the operation started",
        style="cyan",
    )
    return Group(Text(op.description, style="bold"), table, footer)


def follow(op: Operation, region: str, path: Path, *, timeout_minutes: float, poll_seconds: float) -> int:
    """Poll ``op`` every ``poll_seconds`` with a live display until it is done, failed, timed out or
    interrupted. Ctrl-C leaves it running and prints how to resume (exit 130)."""
    watched = time.monotonic()
    deadline = watched + timeout_minutes * 60
    resume = f"dbscale wait {shlex.quote(str(path))}"
    on_screen = console.is_terminal and on_terminal(console.file)  # FORCE_COLOR into a pipe: plain lines
    live = Live(render(op, None, watched), console=console, refresh_per_second=4) if on_screen else None
    last_reason = None
    try:
        if live is not None:
            live.start()
        while True:
            result = op.poll()
            save(op, region, path)
            if live is None and result.reason != last_reason and not result.done:
                # One line per state change; the last one ("done: ...") is printed once, below.
                console.print(
                    f"[{_elapsed(time.monotonic() - watched)}] {result.step or 'done'}: {result.reason}",
                    markup=False,
                    highlight=False,
                )
                last_reason = result.reason
            if result.done:
                if live is not None:
                    live.update(render(op, result, watched))
                    live.stop()
                console.print(f"done: {op.description} in {duration(op.elapsed_seconds())}", markup=False)
                return errors.OK
            if result.failed:
                if live is not None:
                    live.update(render(op, result, watched))
                    live.stop()
                raise OperationFailed(result.reason)
            if time.monotonic() >= deadline:
                raise OperationTimeout(
                    f"{op.description} did not finish within {duration(timeout_minutes * 60)} and is still "
                    f"running in AWS; keep watching it with: {resume}",
                    operation=op,
                )
            next_poll = time.monotonic() + poll_seconds
            while time.monotonic() < min(next_poll, deadline):
                if live is not None:
                    live.update(render(op, result, watched))
                time.sleep(0.2)
    except KeyboardInterrupt:
        save(op, region, path)
        if live is not None:
            live.stop()
        settings.interrupted = None  # said here, once
        err_console.print(left_running(op, path), markup=False, soft_wrap=True)
        return errors.INTERRUPTED
    finally:
        if live is not None and live.is_started:
            live.stop()


def resume(path: Path, *, timeout_minutes: float, poll_seconds: float) -> int:
    """``dbscale wait``: follow the operation saved in ``path``."""
    op, region = load(path)
    if op.failure:
        raise OperationFailed(op.failure)
    return follow(op, region, path, timeout_minutes=timeout_minutes, poll_seconds=poll_seconds)


def unfinished() -> dict[tuple[str, str, str], dict[str, Any]]:
    """Operations saved in the state directory that have not finished, by (region, service, cluster).

    ``service`` is ``redshift`` or ``aurora`` (clone operations are Aurora's). The newest file wins.
    """
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted((state_dir() / "operations").glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            op = data["operation"]
            if (data.get("account") or {}).get("role_name"):
                continue  # another account's (a change across accounts): not the caller's same-named cluster
            finished = op.get("failure") is not None or int(op["index"]) >= len(op["steps"])
            service = "aurora" if op["service"] == "clones" else str(op["service"])
            key = (str(data["region"]), service, str(op["cluster_name"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not an operation file of ours: ignore it
        if finished:
            found.pop(key, None)
        else:
            found[key] = {
                "operation_file": str(path),
                "description": op.get("description", ""),
                "step": f"{int(op['index']) + 1}/{len(op['steps'])} {op['steps'][int(op['index'])]['action']}",
            }
    return found
