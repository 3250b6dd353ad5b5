"""A provider role's grants: the statements known while the provider is built go into one policy
rendered from JSON in a single call; those added later (the clusters') go into the role's default
policy. With them, the cdk-nag acknowledgments of their wildcards."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct


class RoleGrants:
    """Statements by ``Sid`` for ``role``; ``first`` are the first statements of its fixed policy."""

    def __init__(self, role: iam.Role, first: list[dict[str, Any]]) -> None:
        self._role = role
        self._fixed: list[dict[str, Any]] | None = first
        self._statements: dict[str, iam.PolicyStatement] = {}
        self._resources: dict[str, set[str]] = {}
        self._pending_acks: list[Acknowledgment] = []
        self._validations: Validations | None = None

    def allow(self, sid: str, actions: list[str], resources: list[str], conditions: dict[str, Any] | None) -> None:
        """Add ``resources`` to statement ``sid`` (created with ``actions`` on first use).

        Before :meth:`close`, statements go into the fixed policy (rendered from JSON in one call);
        afterwards into the role's default policy, two round trips to node for a new statement and
        one for resources added to an existing one.
        """
        if self._fixed is not None:
            statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
            if conditions:
                statement["Condition"] = conditions
            self._fixed.append(statement)
            return
        seen = self._resources.setdefault(sid, set())
        fresh = [r for r in resources if r not in seen]
        if not fresh:
            return
        seen.update(fresh)
        existing = self._statements.get(sid)
        if existing is None:
            existing = iam.PolicyStatement(sid=sid, actions=actions, resources=fresh, conditions=conditions)
            self._statements[sid] = existing
            # add_to_policy, not add_to_principal_policy: the same call in CDK, but it answers a
            # bool instead of a struct that jsii reads back field by field (two more round trips).
            self._role.add_to_policy(existing)
        else:
            existing.add_resources(*fresh)

    def acknowledge(self, findings: list[str], reason: str) -> None:
        """Acknowledge cdk-nag IAM5 (wildcard) findings, with the reason (sent in one call by
        :meth:`close`, on the construct given to it, when made before)."""
        acks = [Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason) for finding in findings]
        if self._validations is None:
            self._pending_acks.extend(acks)
        else:
            self._validations.acknowledge(*acks)

    def close(self, scope: Construct) -> iam.Policy:
        """The fixed policy (construct ``Policy`` of ``scope``); later grants go to the default policy,
        later acknowledgments straight to ``scope``."""
        if self._fixed is None:
            raise RuntimeError("the provider's fixed policy is made once")
        policy = iam.Policy(
            scope,
            "Policy",
            roles=[self._role],
            document=iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": self._fixed}),
        )
        self._fixed = None
        self._validations = Validations.of(scope)
        self._validations.acknowledge(*self._pending_acks)
        self._pending_acks = []
        return policy
