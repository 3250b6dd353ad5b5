"""The providers' exports: who else holds their names, who imports them."""

from __future__ import annotations

from typing import Any

from dbscale.core.aws import aws_errors
from dbscale.core.errors import InvalidState

from .template import EXPORT_NAMES


def exports_of(stack: dict[str, Any]) -> dict[str, str]:
    """A described stack's exports: export name -> value."""
    return {str(o["ExportName"]): str(o["OutputValue"]) for o in stack.get("Outputs", []) or [] if o.get("ExportName")}


def check_exports_free(cfn: Any, stack: dict[str, Any] | None) -> None:
    """InvalidState when another stack of the account and region holds one of the export names
    (the change set would be made and its execution roll back)."""
    ours = str(stack.get("StackId", "")) if stack else ""
    token: str | None = None
    while True:
        with aws_errors("list the exports of the account and region (cloudformation:ListExports)"):
            page = cfn.list_exports(**({"NextToken": token} if token else {}))
        for export in page.get("Exports", []):
            if export.get("Name") in EXPORT_NAMES.values() and export.get("ExportingStackId") != ours:
                holder = str(export.get("ExportingStackId", "")).split("/")[1:2] or ["another stack"]
                raise InvalidState(
                    f"export {export['Name']} is held by stack {holder[0]}: one providers stack per account and "
                    "region exports these names (templates import them); update that one (--stack-name) or "
                    "delete it first"
                )
        token = page.get("NextToken")
        if not token:
            return


def importers(cfn: Any, stack: dict[str, Any]) -> dict[str, list[str]]:
    """Export name -> the stacks importing it, for the exports of ``stack``."""
    from botocore.exceptions import ClientError

    users: dict[str, list[str]] = {}
    for export in exports_of(stack):
        try:
            stacks = cfn.list_imports(ExportName=export).get("Imports", [])
        except ClientError as err:
            if "is not imported by any stack" in str(err.response.get("Error", {}).get("Message", "")):
                continue
            with aws_errors(f"list the stacks importing '{export}' (cloudformation:ListImports)"):
                raise
        if stacks:
            users[export] = [str(s) for s in stacks]
    return users
