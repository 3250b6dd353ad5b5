"""The command line's AWS CLI habits (issue 24, item 3), in-process on moto: global --profile, --region,
--output and --debug before the command; shell completion; --dry-run on rescale/pause/resume; error
hints that name real options; durations; no wrapping outside a terminal; what Ctrl-C leaves running."""

from __future__ import annotations

import importlib
import io
import json
import re
from pathlib import Path
from typing import Any

import botocore.client
import pytest
import typer

from dbscale.cli import clusters as cli_clusters
from dbscale.cli import errors
from dbscale.cli.output import _Console, console, duration, err_console
from dbscale.core.operation import Operation
from tests.cli_runner import dbscale
from tests.fakes.fleet import create_aurora, create_redshift

cli_app = importlib.import_module("dbscale.cli.app")  # the module (dbscale.cli.app is the Typer app)

# AWS calls that change something: none of them may be made by --dry-run.
CHANGING = re.compile(r"^(Modify|Pause|Resume|Resize|Create|Delete|Start|Stop|Failover|Reboot|Restore|Add|Remove)")


@pytest.fixture
def fleet(boto_session, monkeypatch, tmp_path):
    """'sales' (Redshift, made by dbscale), 'legacy' (Redshift, not) and 'wiki' (Aurora) in us-east-1."""
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    redshift = boto_session.client("redshift")
    create_redshift(redshift, "sales", "ra3.xlplus", 4)
    create_redshift(redshift, "legacy", "dc2.large", 2, managed=False)
    create_aurora(boto_session.client("rds"), "wiki", "db.r6g.large")
    return boto_session


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """Every AWS call any client makes (the CLI makes its own sessions), by operation name."""
    made: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self: Any, operation: str, params: dict[str, Any]) -> Any:
        made.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return made


def _command(*path: str) -> Any:
    command = typer.main.get_command(cli_app.app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


def _names(command: Any) -> set[str]:
    """Every option and argument name of ``command`` (as its usage shows them)."""
    found: set[str] = set()
    for param in command.params:
        if param.param_type_name == "argument":
            found.add(param.metavar or param.name.upper())
        else:
            found.update(param.opts)
    return found


def _every_name(command: Any) -> set[str]:
    found = _names(command)
    for sub in getattr(command, "commands", {}).values():
        found |= _every_name(sub)
    return found


# --- global options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "redshift", "sales", "--nodes", "2"],
        ["plan", "aurora", "wiki", "--readers", "1"],
        ["rescale", "redshift", "sales", "--nodes", "2", "--dry-run"],
        ["pause", "sales", "--dry-run"],
        ["resume", "wiki", "--dry-run"],
    ],
)
def test_global_region_reaches_every_command_and_the_commands_own_wins(fleet, capsys, args):
    code, _, err = dbscale(capsys, "--region", "eu-west-1", *args)
    assert code == errors.NOT_FOUND and "in eu-west-1" in err, err
    code, _, err = dbscale(capsys, "--region=eu-west-1", *args, "--region", "us-east-1")
    assert code == errors.OK, err


def test_global_region_sets_the_fleet_commands_region(fleet, capsys):
    code, out, _ = dbscale(capsys, "--region", "eu-west-1", "status", "--json")
    assert code == errors.OK
    assert (json.loads(out)["regions"], json.loads(out)["clusters"]) == (["eu-west-1"], [])
    code, out, _ = dbscale(capsys, "--region", "eu-west-1", "status", "--json", "--region", "us-east-1")
    assert {c["name"] for c in json.loads(out)["clusters"]} == {"sales", "legacy", "wiki"}


def test_global_profile_chooses_the_credentials_and_region(fleet, capsys, monkeypatch, tmp_path):
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text("[profile team]\nregion = eu-west-2\n[profile home]\nregion = us-east-1\n")
    credentials.write_text(
        "".join(f"[{p}]\naws_access_key_id = testing\naws_secret_access_key = testing\n" for p in ("team", "home"))
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    for profile, region in (("team", "eu-west-2"), ("home", "us-east-1")):
        code, out, err = dbscale(capsys, "--profile", profile, "status", "--json")
        assert code == errors.OK, err
        assert json.loads(out)["regions"] == [region]
    code, _, err = dbscale(capsys, "--profile", "home", "plan", "redshift", "sales", "--nodes", "2")
    assert code == errors.OK, err
    code, _, err = dbscale(capsys, "--profile", "nobody", "status")
    assert code == errors.INVALID and "--profile" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--region", "us-east-1"],
        ["plan", "aurora", "wiki", "--readers", "1"],
        ["pause", "sales", "--dry-run"],
        ["pool", "status", "wiki"],
    ],
)
def test_output_json_is_the_global_form_of_every_commands_json(fleet, capsys, args):
    code, out, _ = dbscale(capsys, "--output", "json", *args)
    assert code == errors.OK
    as_json = json.loads(out)
    if args[0] != "status":  # the same as the command's --json (status's ages move on)
        code, out, _ = dbscale(capsys, *args, "--json")
        assert json.loads(out) == as_json
    code, out, _ = dbscale(capsys, "--output", "table", *args)
    assert code == errors.OK
    with pytest.raises(ValueError):
        json.loads(out)
    code, out, _ = dbscale(capsys, "--output", "table", *args, "--json")  # the command's own option wins
    assert set(json.loads(out)) == set(as_json)


def test_output_json_sets_advises_format(fleet, capsys, tmp_path):
    code, out, err = dbscale(capsys, "--output", "json", "advise", "--days", "1", "--offline-prices")
    assert code == errors.OK, err
    assert "clusters" in json.loads(out)
    report = tmp_path / "r.html"
    code, out, err = dbscale(
        capsys,
        "--output",
        "json",
        "advise",
        "--days",
        "1",
        "--offline-prices",
        "--format",
        "html",
        "--out",
        str(report),
    )
    assert code == errors.OK and report.exists(), err  # the command's own --format wins
    code, _, err = dbscale(capsys, "--output", "yaml", "status")
    assert code == 2 and "yaml" in err


def test_every_command_with_json_output_takes_the_global_output(fleet):
    covered = cli_app.json_defaults(_command())

    def leaves(command: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
        subs = getattr(command, "commands", None)
        if subs is None:
            return [(path, command)]
        return [leaf for name, sub in subs.items() for leaf in leaves(sub, (*path, name))]

    for path, command in leaves(_command(), ()):
        if "--json" in _names(command):
            level: Any = covered
            for name in path:
                level = level[name]
            assert level, path


def test_debug_logs_every_aws_call_and_shows_tracebacks(fleet, capsys):
    code, _, err = dbscale(capsys, "--debug", "plan", "redshift", "sales", "--nodes", "2")
    assert code == errors.OK
    assert "debug: AWS redshift.DescribeClusters(ClusterIdentifier)" in err
    code, _, err = dbscale(capsys, "plan", "redshift", "sales", "--nodes", "2")
    assert code == errors.OK and "debug:" not in err
    code, _, err = dbscale(capsys, "--debug", "pause", "nope")
    assert code == errors.NOT_FOUND and "Traceback (most recent call last)" in err


# --- shell completion ------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_completion_prints_the_script_for_each_shell(capsys, shell):
    code, out, _ = dbscale(capsys, "completion", shell)
    assert code == errors.OK
    assert "_DBSCALE_COMPLETE" in out and f"complete_{shell}" in out


def test_the_completion_script_completes_commands_and_option_values(capsys, monkeypatch):
    monkeypatch.setenv("_DBSCALE_COMPLETE", "complete_bash")
    for words, cword, expected, absent in (
        ("dbscale res", "1", {"rescale", "resume"}, "status"),
        ("dbscale --output ", "2", {"json", "table"}, "yaml"),
        ("dbscale rescale ", "2", {"redshift", "aurora"}, "pause"),
    ):
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", cword)
        code, out, _ = dbscale(capsys)
        assert code == 0
        assert expected <= set(out.split()) and absent not in out.split()


# --- --dry-run -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["rescale", "redshift", "sales", "--node-type", "ra3.4xlarge", "--nodes", "2"],
        ["rescale", "aurora", "wiki", "--instance-class", "db.r6g.xlarge", "--readers", "1"],
        ["pause", "sales"],
        ["pause", "wiki"],
    ],
)
def test_dry_run_prints_the_plan_and_makes_no_change(fleet, capsys, calls, tmp_path, args):
    code, out, err = dbscale(capsys, *args, "--dry-run")
    assert code == errors.OK, err
    assert "dry run: nothing was changed" in out and "expected duration" in out
    assert [c for c in calls if CHANGING.match(c)] == []
    assert not (tmp_path / "state").exists()  # no operation file either
    code, out, _ = dbscale(capsys, *args, "--dry-run", "--json")
    plan = json.loads(out)
    assert plan["dry_run"] is True and plan["changes"] is True and plan["operation_steps"]
    assert [c for c in calls if CHANGING.match(c)] == []
    # The control: the same command without --dry-run changes the cluster (the recorder sees it).
    code, _, err = dbscale(capsys, *args, "--no-wait")
    assert code == errors.OK, err
    assert [c for c in calls if CHANGING.match(c)]


def test_dry_run_is_refused_where_the_change_would_be(fleet, capsys, calls):
    code, _, err = dbscale(capsys, "pause", "legacy", "--dry-run")
    assert code == errors.NOT_OWNED and "--force" in err
    code, out, _ = dbscale(capsys, "resume", "sales", "--dry-run")  # running already
    assert code == errors.OK and "nothing to change" in out
    code, _, err = dbscale(capsys, "pause", "sales", "--dry-run", "--timeout", "soon")
    assert code == errors.INVALID and "--timeout" in err
    assert [c for c in calls if CHANGING.match(c)] == []


# --- hints name real options -----------------------------------------------------------------------


def test_every_option_a_hint_can_name_exists():
    every = _every_name(_command())
    named = list(errors._OPTIONS.values())
    named += [*cli_clusters.REDSHIFT_OPTIONS.values(), *cli_clusters.AURORA_OPTIONS.values()]
    for option in named:
        for part in option.split("/"):
            assert part in every, option
    # Every field the command line itself raises an InvalidRequest with.
    source = "".join(p.read_text() for p in Path(cli_app.__file__).parent.glob("*.py"))
    fields = set(re.findall(r'(?:field|option)="([a-z_]+)"', source))
    assert {"operation_file", "query_timeout", "max_copy_age", "timeout"} <= fields
    for field in fields:
        for part in errors.option_for(field).split("/"):
            assert part in every, (field, part)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["plan", "redshift", "sales", "--nodes", "0"], "--nodes"),
        (["rescale", "redshift", "sales", "--node-type", "dc9.huge", "--dry-run"], "--node-type"),
        (["rescale", "redshift", "sales", "--nodes", "2", "--resize-type", "fast"], "--resize-type"),
        (["plan", "aurora", "wiki", "--instance-class", "db.huge"], "--instance-class"),
        (["rescale", "aurora", "wiki", "--readers", "99", "--dry-run"], "--readers"),
        (["plan", "aurora", "wiki", "--min-acu", "8", "--max-acu", "2"], "--min-acu"),
        (["plan", "aurora", "wiki", "--min-acu", "8"], "--max-acu"),
        (["rescale", "redshift", "sales", "--nodes", "2", "--timeout", "soon"], "--timeout"),
        (["check", "sales", "--query-timeout", "later"], "--query-timeout"),
        (["check", "sales", "--window", "ten"], "--window"),
        (["pool", "status", "wiki", "--max-copy-age", "old"], "--max-copy-age"),
        (["status", "--tag", "novalue"], "--tag"),
        (["wait", "/nonexistent/operation.json"], "OPERATION-FILE"),
    ],
)
def test_hints_name_the_commands_own_options_never_internal_names(fleet, capsys, args, option):
    code, _, err = dbscale(capsys, *args)
    assert code == errors.INVALID
    assert option in err, err
    command = cli_app.command_path(_command(), args)
    assert option in _names(_command(*command)), (option, command)
    internal = [name for name in (*errors._OPTIONS, *cli_clusters.AURORA_OPTIONS) if "_" in name]
    assert not [name for name in internal if name in err], err
    assert not re.search(r"\(check --[a-z-]+\)$", err.strip()) or option not in err.split("(check")[0], err


# --- durations -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (0.5, "0.5 s"),
        (10, "10 s"),
        (59, "59 s"),
        (59.97, "1 min"),
        (60, "1 min"),
        (90, "1 min 30 s"),
        (150, "2 min 30 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (3959, "1 h 6 min"),
        (10800, "3 h"),
        (86399, "1 d"),
        (90000, "1 d 1 h"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
    ],
)
def test_durations_read_as_durations(seconds, text):
    assert duration(seconds) == text


class _FakeTime:
    """``time`` for the progress module: sleeping advances the clock at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def time(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("timeout", "poll", "said"), [("10s", "1", "10 s"), ("150s", "60", "2 min 30 s"), ("65m", "900", "1 h 5 min")]
)
def test_a_timeout_is_reported_as_a_duration(fleet, capsys, monkeypatch, tmp_path, timeout, poll, said):
    from dbscale.cli import progress

    monkeypatch.setattr(progress, "time", _FakeTime())
    op = Operation("redshift", "sales", [{"action": "wait_paused"}], description="watch sales")  # never done
    path = tmp_path / "watch.json"
    path.write_text(json.dumps({"format": progress.FILE_FORMAT, "region": "us-east-1", "operation": op.to_dict()}))
    code, _, err = dbscale(capsys, "wait", str(path), "--timeout", timeout, "--poll", poll)
    assert code == errors.TIMEOUT
    assert f"did not finish within {said} and is still running" in err and "minutes" not in err


# --- the progress display --------------------------------------------------------------------------


def test_done_is_printed_once(fleet, capsys, tmp_path):
    op = Operation("redshift", "sales", [{"action": "pause"}, {"action": "wait_paused"}], description="pause sales")
    path = tmp_path / "pause.json"
    path.write_text(json.dumps({"format": "dbscale-operation/1", "region": "us-east-1", "operation": op.to_dict()}))
    code, out, _ = dbscale(capsys, "wait", str(path), "--poll", "0.1")
    assert code == errors.OK
    assert re.fullmatch(r"done: pause sales in [\d.]+ s\n", out), out
    code, out, _ = dbscale(capsys, "resume", "sales", "--poll", "0.1")
    assert code == errors.OK and out.count("done") == 1, out


def test_the_live_display_shows_step_fields_never_a_python_repr():
    from dbscale.cli import progress

    steps = [
        {"action": "apply_settings", "settings": {"enable_user_activity_logging": "true", "max_cursors": 4}},
        {"action": "aurora", "cluster": "copy-1", "step": {"action": "create_instance", "class": "db.r6g.large"}},
        {"action": "snapshot", "source": "prod", "tags": [{"Key": "k", "Value": "v"}], "options": {"a": 1}},
        {"action": "resize", "node_type": "ra3.xlplus", "number_of_nodes": 2, "classic": False, "paused": None},
    ]
    op = Operation("redshift", "sales", steps, description="many steps")
    shown = io.StringIO()
    _Console(file=shown, width=200).print(progress.render(op, None, 0.0))
    text = shown.getvalue()
    assert not set("{}'") & set(text), text
    assert "settings=(enable_user_activity_logging=true max_cursors=4)" in text
    assert "2/4 aurora: create_instance" in text and "cluster=copy-1" in text
    assert "number_of_nodes=2, classic=no, paused=none" in text


# --- no wrapping outside a terminal ----------------------------------------------------------------


@pytest.mark.parametrize("columns", [20, 50])
def test_lines_are_never_wrapped_outside_a_terminal(fleet, capsys, monkeypatch, tmp_path, columns):
    for printer in (console, err_console):
        monkeypatch.setattr(printer, "_width", columns)  # what COLUMNS gave the consoles at import
    monkeypatch.setenv("COLUMNS", str(columns))
    folder = tmp_path / "state" / ("a-rather-long-directory-name-" * 3) / "operations"
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(folder.parent))
    folder.mkdir(parents=True)
    running = Operation("redshift", "sales", [{"action": "wait_paused"}], description="watch sales")
    path = folder / "redshift-sales-20250101T000000Z.json"
    path.write_text(
        json.dumps({"format": "dbscale-operation/1", "region": "us-east-1", "operation": running.to_dict()})
    )
    assert len(f"dbscale wait {path}") > 80

    code, out, _ = dbscale(capsys, "status")  # the table's in-flight cell holds the command
    assert code == errors.OK and f"dbscale wait {path}" in out
    code, out, _ = dbscale(capsys, "plan", "redshift", "sales", "--nodes", "2")  # a table cell of 70 characters
    assert "elastic resize to 2 x ra3.xlplus (4 -> 2 nodes is within elastic bounds)" in out
    assert "read-only 10-15 min; writes unavailable 10-15 min (AWS's documented figures;" in out
    code, _, err = dbscale(capsys, "plan", "redshift", "sales", "--nodes", "0")
    assert err == "dbscale: error: --nodes must be a whole number of at least 1, got 0\n"

    def interrupted(self: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(Operation, "poll", interrupted)
    code, _, err = dbscale(capsys, "wait", str(path))
    assert code == errors.INTERRUPTED
    assert err == (
        f"interrupted: watch sales is still running in AWS (step 1/1). Resume watching it with: dbscale wait {path}\n"
    )


def test_a_terminal_still_wraps_to_its_width():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for columns in (20, 40, 80):
        screen = Terminal()
        _Console(file=screen, width=columns, force_terminal=True).print("word " * 60, markup=False)
        lines = screen.getvalue().splitlines()
        assert len(lines) > 1 and max(len(line.rstrip()) for line in lines) <= columns


# --- Ctrl-C ----------------------------------------------------------------------------------------


def _interrupt(*_: Any, **__: Any) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["status"], "dbscale.core.advisor.discover"),
        (["--region", "us-east-1", "status", "--json"], "dbscale.core.advisor.discover"),
        (["check", "sales"], "dbscale.core.scaling.ProvisionScaling.evaluate"),
        (["plan", "redshift", "sales", "--nodes", "2"], "dbscale.core.redshift.RedshiftProvisioning.plan_rescale"),
        (["--output", "json", "advise", "--days", "1"], "dbscale.core.advisor.advise"),
        (["rescale", "redshift", "sales", "--nodes", "2"], "dbscale.core.redshift.RedshiftProvisioning.rescale"),
        (
            ["clone", "wiki", "dev", "--instance-class", "db.r6g.large", "--dry-run"],
            "dbscale.core.clones.provision_clone",
        ),
    ],
)
def test_ctrl_c_in_a_command_that_changed_nothing_says_so(fleet, capsys, monkeypatch, args, where):
    monkeypatch.setattr(where, _interrupt)
    code, out, err = dbscale(capsys, *args)
    assert (code, out, err) == (errors.INTERRUPTED, "", "interrupted: nothing was changed\n")


def test_ctrl_c_after_a_change_started_says_how_to_follow_it_once(fleet, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(Operation, "poll", _interrupt)
    save = tmp_path / "resize.json"
    code, _, err = dbscale(capsys, "rescale", "redshift", "sales", "--nodes", "2", "--poll", "0.1", "--save", str(save))
    assert code == errors.INTERRUPTED
    assert err == (
        "interrupted: resize to 2 x ra3.xlplus for Redshift cluster 'sales' is still running in AWS (step 1/2). "
        f"Resume watching it with: dbscale wait {save}\n"
    ), err
    assert json.loads(save.read_text())["operation"]["steps"][0]["action"] == "resize"

    # --no-wait: Ctrl-C during its one poll, after the file was saved.
    monkeypatch.setattr(Operation, "poll", _interrupt)
    monkeypatch.setattr(Operation, "may_have_changed_aws", True, raising=False)
    save = tmp_path / "pause.json"
    code, _, err = dbscale(capsys, "pause", "wiki", "--no-wait", "--save", str(save))
    assert code == errors.INTERRUPTED and save.exists()
    assert err == (
        "interrupted: rescale Aurora cluster 'wiki' to stopped is still running in AWS (step 1/2). "
        f"Resume watching it with: dbscale wait {save}\n"
    ), err


def test_ctrl_c_in_a_command_that_may_have_changed_something_says_what_goes_on(fleet, capsys, monkeypatch):
    monkeypatch.setattr("dbscale.core.clones.ClonePool.maintain", _interrupt)
    code, _, err = dbscale(capsys, "pool", "maintain", "wiki", "--min-spare", "1")
    assert code == errors.INTERRUPTED
    assert err == "interrupted: what dbscale had already started in AWS goes on; dbscale status shows it\n"


# --- help ------------------------------------------------------------------------------------------


def test_help_points_to_the_commands_help_never_to_a_repository_path(capsys):
    code, out, _ = dbscale(capsys, "--help")
    assert code == 0 and "dbscale COMMAND --help" in out and "Exit codes:" in out
    for flag in ("--profile", "--region", "--output", "--debug", "--version", "--install-completion"):
        assert flag in out

    def paths(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        subs = getattr(command, "commands", {})
        return [path] + [p for name, sub in subs.items() for p in paths(sub, (*path, name))]

    every = paths(_command(), ())
    assert len(every) > 15
    for path in every:
        code, out, _ = dbscale(capsys, *path, "--help")
        assert code == 0, path
        assert "docs/" not in out and ".md" not in out, (path, out)
