"""The ``dbscale`` Typer app and its entry point, which maps errors to one line and an exit code once.

The global options (``--profile``, ``--region``, ``--output``, ``--debug``) go before the command, as
with the AWS CLI; :data:`dbscale.cli.output.settings` carries them to every command.
"""

from __future__ import annotations

import sys
import traceback
from enum import Enum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from . import advice, checks, clones, clusters, errors, operations, providers, validate
from .output import configure, err_console, settings


class Output(str, Enum):
    """``--output``: what read commands print."""

    json = "json"
    table = "table"


class Interrupted(Exception):
    """Ctrl-C during a command (typer would turn it into a silent exit 130)."""


class _Group(TyperGroup):
    """The root command group: Ctrl-C in any command reaches :func:`main`, which says what it left."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a KeyboardInterrupt leaves as :class:`Interrupted`."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None


app = typer.Typer(
    name="dbscale",
    cls=_Group,
    help="Operate Redshift and Aurora clusters safely, and find what they should cost. "
    "Global options go before the command; dbscale COMMAND --help shows a command's options.",
    epilog="Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in errors.EXIT_CODES) + ".",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

# Commands that change nothing in AWS when interrupted before they save an operation file (rescale,
# pause and resume say what they left running once they have saved one).
_NOTHING_CHANGED = (
    "status",
    "plan",
    "check",
    "advise",
    "wait",
    "rescale",
    "pause",
    "resume",
    "pool status",
    "completion",
    "validate",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"dbscale {_version()}")
        raise typer.Exit(errors.OK)


def _version() -> str:
    """The installed distribution's version (the package's own when run from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbscale")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


class Shell(str, Enum):
    """The shells ``dbscale completion`` writes a script for."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")]) -> None:
    """Print the shell completion script to load from your shell's start-up file, e.g.
    dbscale completion bash > ~/.local/share/bash-completion/completions/dbscale (dbscale
    --install-completion installs it for the shell you are in)."""
    from typer._completion_shared import get_completion_script  # what typer's --show-completion prints

    typer.echo(get_completion_script(prog_name="dbscale", complete_var="_DBSCALE_COMPLETE", shell=shell.value))


@app.callback()
def _root(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile to use (default: AWS_PROFILE, else the default).")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="AWS region for every command (default: AWS_DEFAULT_REGION or the profile's); "
            "a command's own --region wins.",
        ),
    ] = None,
    output: Annotated[
        Output | None,
        typer.Option(
            "--output",
            help="json or table: what read commands print (--json after a command is the same as --output json).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and log every AWS call on stderr.")] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """dbscale: status, plan, rescale, pause, resume, wait, check, clone, pool, advise, prices."""
    configure(profile=profile, region=region, output=output.value if output else None, debug=debug)
    if output is Output.json:
        ctx.default_map = json_defaults(ctx.command)


def json_defaults(command: Any) -> dict[str, Any]:
    """Defaults that make every command print JSON (``--output json``): its ``--format json`` when it
    has one, else its ``--json`` flag. Options given after the command still win."""
    found: dict[str, Any] = {}
    for name, sub in getattr(command, "commands", {}).items():
        if hasattr(sub, "commands"):
            nested = json_defaults(sub)
            if nested:
                found[name] = nested
            continue
        formats = [p for p in sub.params if "--format" in p.opts and "json" in _choices(p)]
        flags = [p for p in sub.params if "--json" in p.opts]
        if formats:
            found[name] = {formats[0].name: "json"}
        elif flags:
            found[name] = {flags[0].name: True}
    return found


def _choices(param: Any) -> set[str]:
    """The values an enum-typed option takes (empty for any other option)."""
    kinds = [type(param.default), getattr(getattr(param, "type_descriptor", None), "annotation", None)]
    for kind in kinds:
        if isinstance(kind, type) and issubclass(kind, Enum):
            return {str(member.value) for member in kind}
    return set()


clusters.register(app)
checks.register(app)
clones.register(app)
advice.register(app)
operations.register(app)
providers.register(app)
validate.register(app)
app.command()(completion)


def main(argv: list[str] | None = None) -> None:
    """The console script: run the command; errors become one line on stderr and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    configure(profile=None, region=None, output=None, debug=False)
    errors.name_options({})
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="dbscale", standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (Interrupted, typer.Abort, KeyboardInterrupt):
        _say_interrupted(command, args)
        sys.exit(errors.INTERRUPTED)
    except Exception as err:
        if _is_usage_error(err):  # click's own: bad options or arguments (exit 2), with usage help
            err.show()  # type: ignore[attr-defined]
            sys.exit(err.exit_code)  # type: ignore[attr-defined]
        if settings.debug:
            traceback.print_exc()
        err_console.print(f"dbscale: error: {errors.message(err)}", markup=False, soft_wrap=True)
        sys.exit(errors.exit_code(err))
    sys.exit(result if isinstance(result, int) else errors.OK)


def _say_interrupted(command: Any, args: list[str]) -> None:
    """One line on Ctrl-C: what was left running and how to follow it, or that nothing was changed."""
    saved = settings.operation_file
    if settings.interrupted and (saved is None or saved.exists()):  # no file: removed, nothing reached AWS
        text = settings.interrupted
    elif _changes_nothing(command_path(command, args)) or "--dry-run" in args:
        text = "interrupted: nothing was changed"
    else:
        text = "interrupted: what dbscale had already started in AWS goes on; dbscale status shows it"
    err_console.print(text, markup=False, soft_wrap=True)


def _changes_nothing(path: list[str]) -> bool:
    """The command is one that changes nothing before it saves an operation file (operations lists
    or discards files of this machine only)."""
    said = " ".join(path) + " "
    return path[:1] == ["operations"] or any(said.startswith(name + " ") for name in _NOTHING_CHANGED)


def command_path(command: Any, args: list[str]) -> list[str]:
    """The command and subcommand names in ``args`` (``["pool", "status"]``), skipping options."""
    path: list[str] = []
    words = iter(args)
    for word in words:
        if word.startswith("-"):
            if not path and word in ("--profile", "--region", "--output"):
                next(words, None)  # the global option's value
            continue
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        path.append(word)
        command = sub
    return path


def _is_usage_error(err: Exception) -> bool:
    # typer bundles its own copy of click, so match the class by name rather than by import.
    return any(kind.__name__ == "ClickException" for kind in type(err).__mro__)
