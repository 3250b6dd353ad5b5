"""Which AWS accounts a fleet command reads: ``--accounts`` values, parsed strictly."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..aws import aws_errors, client
from ..errors import InvalidRequest

if TYPE_CHECKING:
    import boto3

ORGANIZATION = "org"
"""The ``--accounts`` value that means: every ACTIVE account of the caller's organization."""
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SEPARATORS = re.compile(r"[\s,]+")
_FIELD = "accounts"


@dataclass(frozen=True)
class AccountSelection:
    """What ``--accounts`` asked for: explicit ``ids`` (in the order given), or the organization."""

    ids: tuple[str, ...] = ()
    organization: bool = False


def _words(text: str) -> list[str]:
    return [word for word in _SEPARATORS.split(text) if word]


def _file_ids(path: Path) -> list[tuple[str, str]]:
    """(id, where) of each account in a file: one or more per line, ``#`` starts a comment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InvalidRequest(f"accounts file {path} cannot be read: {err.strerror or err}", field=_FIELD) from None
    found = [
        (word, f"{path}:{number}") for number, line in enumerate(lines, 1) for word in _words(line.split("#", 1)[0])
    ]
    if not found:
        raise InvalidRequest(f"accounts file {path} lists no account id", field=_FIELD)
    return found


def _is_file(value: str) -> bool:
    if value.startswith("@"):
        return True
    if _words(value) and all(_ACCOUNT_ID.match(word) or word.isdigit() for word in _words(value)):
        return False  # ids (maybe mistyped): never read as a file name
    return Path(value).is_file()


def parse_accounts(values: Iterable[str]) -> AccountSelection:
    """``--accounts`` values: 12-digit ids separated by commas or spaces, ``@FILE`` or the path of a
    file (one or more ids a line, ``#`` comments), or ``org`` alone (the organization's ACTIVE
    accounts). An id given twice, a malformed id, an empty file or an empty value is refused."""
    given = [value.strip() for value in values]
    if any(value.lower() == ORGANIZATION for value in given):
        if len(given) > 1:
            raise InvalidRequest(f"accounts {ORGANIZATION} lists the whole organization: give it alone", field=_FIELD)
        return AccountSelection(organization=True)
    found: list[tuple[str, str]] = []
    for value in given:
        if not value:
            raise InvalidRequest("accounts needs account ids, @FILE or org, got an empty value", field=_FIELD)
        if _is_file(value):
            found += _file_ids(Path(value.removeprefix("@")).expanduser())
        else:
            found += [(word, "the command line") for word in _words(value)]
    seen: dict[str, str] = {}
    for account, where in found:
        if not _ACCOUNT_ID.match(account):
            raise InvalidRequest(f"accounts takes 12-digit AWS account ids, got {account!r} (in {where})", field=_FIELD)
        if account in seen:
            raise InvalidRequest(f"accounts names {account} twice (in {seen[account]} and {where})", field=_FIELD)
        seen[account] = where
    if not seen:
        raise InvalidRequest("accounts needs account ids, @FILE or org", field=_FIELD)
    return AccountSelection(ids=tuple(seen))


def organization_accounts(session: boto3.Session) -> tuple[str, ...]:
    """The ids of the organization's ACTIVE accounts (Organizations ListAccounts, paginated; callable
    from the management account or a delegated administrator), sorted."""
    organizations = client("organizations", session)
    found: list[str] = []
    with aws_errors("list the organization's accounts (--accounts org)"):
        for page in organizations.get_paginator("list_accounts").paginate():
            found += [str(a["Id"]) for a in page.get("Accounts", []) if a.get("Status") == "ACTIVE"]
    if not found:
        raise InvalidRequest("the organization has no ACTIVE account", field=_FIELD)
    return tuple(sorted(set(found)))


def resolve_accounts(selection: AccountSelection, session: boto3.Session) -> tuple[str, ...]:
    """The account ids of ``selection``: its ids, or the organization's (see :func:`organization_accounts`)."""
    return organization_accounts(session) if selection.organization else selection.ids
