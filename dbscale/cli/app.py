"""The ``dbscale`` Typer app and its entry point, which maps errors to one line and an exit code once."""

from __future__ import annotations

import sys
import traceback
from typing import Annotated

import typer

from . import advice, clones, clusters, errors
from .output import err_console

app = typer.Typer(
    name="dbscale",
    help="Operate Redshift and Aurora clusters safely, and find what they should cost. Exit codes: docs/cli.md.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """dbscale: status, plan, rescale, pause, resume, wait, check, clone, pool, advise, prices."""


clusters.register(app)
clones.register(app)
advice.register(app)


def main(argv: list[str] | None = None) -> None:
    """The console script: run the command; errors become one line on stderr and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="dbscale", standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("interrupted")
        sys.exit(errors.INTERRUPTED)
    except Exception as err:
        if _is_usage_error(err):  # click's own: bad options or arguments (exit 2), with usage help
            err.show()  # type: ignore[attr-defined]
            sys.exit(err.exit_code)  # type: ignore[attr-defined]
        if debug:
            traceback.print_exc()
        err_console.print(f"dbscale: error: {errors.message(err)}", markup=False, soft_wrap=True)
        sys.exit(errors.exit_code(err))
    sys.exit(result if isinstance(result, int) else errors.OK)


def _is_usage_error(err: Exception) -> bool:
    # typer bundles its own copy of click, so match the class by name rather than by import.
    return any(kind.__name__ == "ClickException" for kind in type(err).__mro__)
