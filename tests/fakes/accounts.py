"""Many AWS accounts in moto, and faults per account or per (account, region): a role STS refuses,
an opt-in region the account has not enabled, throttling beyond retries.

moto keeps accounts apart: credentials from STS AssumeRole into ``arn:aws:iam::<account>:role/<name>``
act in ``<account>``; the test credentials act in moto's default account, :data:`HOME`."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

HOME = "123456789012"
"""moto's default account: the caller's own."""
ROLE = "OrganizationAccountAccessRole"


def account_session(account: str, region: str, role: str = ROLE) -> boto3.Session:
    """A session acting in ``account`` (the home session itself for :data:`HOME`)."""
    home = boto3.Session(region_name=region)
    if account == HOME:
        return home
    answer = home.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="tests")
    c = answer["Credentials"]
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=region,
    )


class AccountFaults:
    """Refuse ``denied`` accounts' roles (AccessDenied on AssumeRole), answer calls in ``disabled``
    (account, region) pairs as an opt-in region not enabled does, ``throttled`` pairs with
    Throttling (as after botocore's retries); counts AssumeRole calls per account."""

    def __init__(self) -> None:
        self.denied: set[str] = set()
        self.disabled: set[tuple[str, str]] = set()
        self.throttled: set[tuple[str, str]] = set()
        self.keys: dict[str, str] = {}
        self.assumed: dict[str, int] = {}

    def account_of(self, made: Any) -> str:
        credentials = made._request_signer._credentials  # which account's keys sign this client
        return self.keys.get(credentials.access_key, HOME) if credentials else HOME

    def call(self, real: Any, made: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "AssumeRole":
            account = str(params["RoleArn"]).split(":")[4]
            self.assumed[account] = self.assumed.get(account, 0) + 1
            if account in self.denied:
                message = f"not authorized to perform: sts:AssumeRole on resource: {params['RoleArn']}"
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, operation)
            answer = real(made, operation, params)
            self.keys[answer["Credentials"]["AccessKeyId"]] = account
            return answer
        where = (self.account_of(made), made.meta.region_name)
        if where in self.disabled:
            error = {
                "Code": "UnrecognizedClientException",
                "Message": "The security token included in the request is invalid.",
            }
            raise ClientError({"Error": error}, operation)
        if where in self.throttled:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, operation)
        return real(made, operation, params)


def install_account_faults(monkeypatch: pytest.MonkeyPatch) -> AccountFaults:
    """:class:`AccountFaults` on every boto3 client of the test (undone with ``monkeypatch``)."""
    faults = AccountFaults()
    real = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        return faults.call(real, self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return faults
