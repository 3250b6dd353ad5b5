"""``dbscale validate TEMPLATE``: the preflight of every dbscale resource of a template, against the
live account, before ``cdk deploy`` or a change set.

Each ``Custom::RedshiftCluster``, ``Custom::AuroraCluster``, ``Custom::AuroraClone`` and
``Custom::DatabaseBootstrap`` (or a generic custom resource importing a dbscale ServiceToken) has its
properties parsed as its handler parses them, then the same checks the handler runs before its
first create (:mod:`dbscale.core.preflight`) run in the account and region of the session. Only
reads are made. A value only a deploy knows (``!GetAtt``, ``!ImportValue``, a ``!Ref`` to a
resource) is not checked, and says so. The handlers are imported for their property parsing only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..core.errors import InvalidRequest
from . import errors
from .clusters import Json, Region
from .output import console, print_json, session, wants_json
from .templates import (
    Resolver,
    TemplateResource,
    dbscale_resources,
    load_template,
    parameter_values,
    parse_pairs,
    resolve_properties,
    template_files,
)

NOT_CHECKED = "not checked: resolved at deploy time"
_ACCOUNT_PLACEHOLDER = "123456789012"


@dataclass(frozen=True)
class Row:
    """One line of the report: a problem (``kind`` "problem") or a property not checked ("note")."""

    file: str
    logical_id: str
    resource_type: str
    property: str
    problem: str
    hint: str = ""
    kind: str = "problem"


def placeholders(region: str) -> dict[str, str]:
    """Well-formed stand-ins for required properties only a deploy knows: they let the rest parse,
    and are never checked themselves."""
    return {
        "ClusterIdentifier": "dbscale-validate",
        "NodeType": "ra3.xlplus",
        "NumberOfNodes": "2",
        "InstanceClass": "db.r6g.large",
        "SourceClusterId": "dbscale-validate-source",
        "ClusterArn": f"arn:aws:rds:{region}:{_ACCOUNT_PLACEHOLDER}:cluster:dbscale-validate",
        "SecretArn": f"arn:aws:secretsmanager:{region}:{_ACCOUNT_PLACEHOLDER}:secret:dbscale-validate-AbCdEf",
    }


def _parser(resource_type: str) -> Callable[[Any], dict[str, Any]]:
    """The handler's own parse of a request of ``resource_type`` (schema, defaults, validation)."""
    from ..handlers import aurora_clone, aurora_cluster, database_bootstrap, redshift_cluster

    module = {
        "Custom::RedshiftCluster": redshift_cluster,
        "Custom::AuroraCluster": aurora_cluster,
        "Custom::AuroraClone": aurora_clone,
        "Custom::DatabaseBootstrap": database_bootstrap,
    }[resource_type]
    return module.provider.resource.parse  # type: ignore[no-any-return]


def parse_as_handler(resource_type: str, logical_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` properties parsed as the type's handler parses a Create (InvalidRequest if it refuses)."""
    from ..cfn.request import Request

    event = {
        "RequestType": "Create",
        "ResponseURL": "https://example.invalid/",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/dbscale-validate/0",
        "RequestId": "dbscale-validate",
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": raw,
    }
    return _parser(resource_type)(Request.from_event(event))


def preflight_options(resource_type: str, props: dict[str, Any]) -> dict[str, Any]:
    """What the handler passes to the preflight beside the properties (Redshift: its own TLS group,
    made by dbscale, is not looked for)."""
    if resource_type != "Custom::RedshiftCluster":
        return {}
    from ..core.redshift.settings import owned_parameter_group_name

    return {"owned_parameter_group": owned_parameter_group_name(props["ClusterIdentifier"])}


class ResourceCheck:
    """The preflight of one template resource: parse (refusals are rows), then the checks of what
    the template gives (not of what only a deploy knows)."""

    def __init__(self, resource: TemplateResource, resolver: Resolver, made: Any) -> None:
        self.resource = resource
        self.session = made
        self.raw, self.unresolved = resolve_properties(resource.properties, resolver)
        self.rows: list[Row] = [self.row(name, NOT_CHECKED, f"{why} is only known to a deploy", "note")
                                for name, why in self.unresolved.items()]  # fmt: skip

    def row(self, prop: str, problem: str, hint: str = "", kind: str = "problem") -> Row:
        r = self.resource
        return Row(r.file, r.logical_id, r.resource_type, prop, problem, hint, kind)

    def parse(self) -> dict[str, Any] | None:
        """The parsed properties; a property the handler refuses is a row and is left out, so the
        others are still checked (None: a required one is refused, nothing more to check)."""
        raw = dict(self.raw)
        stand_ins = placeholders(str(self.session.region_name))
        for name in self.unresolved:
            if name in stand_ins:
                raw[name] = stand_ins[name]
        for _ in range(len(raw) + 1):
            try:
                return parse_as_handler(self.resource.resource_type, self.resource.logical_id, raw)
            except InvalidRequest as err:
                name = err.field or ""
                if name in self.unresolved:  # already noted; the others need it to be read
                    return None
                self.rows.append(self.row(name or "(properties)", str(err)))
                if name not in raw or name in stand_ins:
                    return None  # a required property: the rest cannot be parsed
                del raw[name]
        return None

    def run(self) -> list[Row]:
        """Every row of this resource: notes, refusals of the parse, and the preflight's problems."""
        from ..core.preflight import CHECKS, PreflightContext, run_preflight

        props = self.parse()
        if props is None:
            return self.rows
        kind = self.resource.resource_type
        checks = [
            check
            for check in CHECKS[kind](props, **preflight_options(kind, props))
            if not (check.property in self.unresolved and check.value == props.get(check.property))  # a stand-in
        ]
        for problem in run_preflight(checks, PreflightContext(self.session, props)):
            self.rows.append(self.row(problem.property, problem.message, problem.hint))
        return self.rows


def validate_paths(path: Path, parameters: dict[str, str], made: Any) -> tuple[int, list[Row]]:
    """(the number of dbscale resources, every row) of the template(s) at ``path``."""
    count, rows = 0, []
    account = _account_reader(made)
    for file in template_files(path):
        template = load_template(file)
        resolver = Resolver(parameter_values(template, parameters), str(made.region_name), account)
        for resource in dbscale_resources(template, str(file)):
            count += 1
            rows += ResourceCheck(resource, resolver, made).run()
    return count, rows


def _account_reader(made: Any) -> Callable[[], str]:
    def read() -> str:
        from ..core.aws import client

        return str(client("sts", made).get_caller_identity()["Account"])

    return read


def _print(count: int, rows: list[Row], several_files: bool) -> None:
    problems = [r for r in rows if r.kind == "problem"]
    if rows:
        table = Table()
        for column in (["file"] if several_files else []) + ["resource", "type", "property", "problem", "hint"]:
            table.add_column(column)
        for r in rows:
            cells = [r.logical_id, r.resource_type, r.property, r.problem, r.hint]
            where = [Path(r.file).name] if several_files else []
            table.add_row(*where, *cells, style="dim" if r.kind == "note" else None)
        console.print(table)
    verdict = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "no problem"
    console.print(f"{count} dbscale resource{'s' if count != 1 else ''} checked: {verdict}")


def validate(
    template: Annotated[
        Path,
        typer.Argument(
            metavar="TEMPLATE",
            help="A CloudFormation template (JSON or YAML), or a cdk.out directory (every *.template.json).",
        ),
    ],
    parameters: Annotated[
        list[str] | None,
        typer.Option(
            "--parameters",
            metavar="KEY=VALUE",
            help="A template parameter's value (default: its Default); repeat for more.",
        ),
    ] = None,
    region: Region = None,
    json: Json = False,
) -> int:
    """Check, before a deploy, what the template's dbscale resources refer to (parameter groups,
    subnet and security groups, KMS keys, IAM roles, snapshots, source clusters, secrets, quotas) in
    the live account; only reads. Exit 0: no problem; 2: problems (listed)."""
    given = parse_pairs(parameters, option="--parameters")
    files = template_files(template)  # a missing path is refused before a session is made
    made = session(region)
    count, rows = validate_paths(template, given, made)
    problems = [r for r in rows if r.kind == "problem"]
    if wants_json(json):
        print_json(
            {
                "resources": count,
                "problems": [asdict(r) for r in problems],
                "notes": [asdict(r) for r in rows if r.kind == "note"],
            }
        )
    else:
        _print(count, rows, len(files) > 1)
    return errors.INVALID if problems else errors.OK


def register(app: typer.Typer) -> None:
    app.command()(validate)


__all__ = ["NOT_CHECKED", "Row", "register", "validate", "validate_paths"]
