"""The providers' IAM in the example app: parliament lints every policy, and the tag conditions
keep each provider to the clusters it manages (evaluated for real requests, not restated)."""

from __future__ import annotations

from typing import Any

import pytest

from dbscale.core.clones import CLONE_OF_TAG_KEY, COPY_OF_TAG_KEY
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE

from .conftest import Synthesized
from .iam_policies import ACCOUNT, REGION, Finding, Policy, allowed, lint, policies, role_statements

pytestmark = pytest.mark.slow

STACKS = ("DbscaleProviders", "DbscaleExample", "DbscaleDevClones")

# Every parliament finding dbscale accepts, by issue and the detail's action, with its reason.
# parliament checks each statement on its own; these are actions AWS authorizes on several
# resource types at once, whose other resource types are granted by a sibling statement.
ACKNOWLEDGED: dict[tuple[str, str], str] = {
    ("RESOURCE_MISMATCH", "rds:DeleteDBCluster"): (
        "DeleteDBCluster authorizes on the cluster and, with a final snapshot, on the snapshot: the cluster "
        "statements are conditioned on the cluster's tags, the snapshot is granted in FinalSnapshots"
    ),
    ("RESOURCE_MISMATCH", "rds:CreateDBClusterSnapshot"): (
        "CreateDBClusterSnapshot authorizes on the source cluster and on the new snapshot, granted in two "
        "statements (the snapshot one conditioned on the request's tags)"
    ),
    ("RESOURCE_MISMATCH", "rds:RestoreDBClusterFromSnapshot"): (
        "RestoreDBClusterFromSnapshot authorizes on the new cluster, the snapshot and the groups, each granted "
        "in its own statement (the new cluster conditioned on the request's tags)"
    ),
    ("RESOURCE_MISMATCH", "rds:RestoreDBClusterToPointInTime"): (
        "RestoreDBClusterToPointInTime authorizes on the origin, the new cluster and the groups, each granted "
        "in its own statement"
    ),
    ("RESOURCE_MISMATCH", "rds:CreateDBCluster"): (
        "CreateDBCluster authorizes on the new cluster (conditioned on the request's tags) and on the subnet "
        "and parameter groups it names, granted in a separate statement"
    ),
    ("RESOURCE_MISMATCH", "rds:CreateDBInstance"): (
        "CreateDBInstance authorizes on the new instance, its cluster and the groups, each granted in its own statement"
    ),
    ("RESOURCE_MISMATCH", "rds:ModifyDBCluster"): (
        "ModifyDBCluster authorizes on the cluster and on the groups it names, granted in separate statements"
    ),
    ("RESOURCE_MISMATCH", "rds:ModifyDBInstance"): (
        "ModifyDBInstance authorizes on the instance and on the groups it names, granted in separate statements"
    ),
    ("RESOURCE_MISMATCH", "states:DescribeExecution"): (
        "DescribeExecution authorizes on a Standard execution or on an Express one; the providers' state "
        "machines are Standard, so only executions of the provider's own machine are granted"
    ),
    ("RESOURCE_MISMATCH", "states:ListExecutions"): (
        "ListExecutions lists a state machine's executions or a Distributed Map run's; the providers' state "
        "machines have no Map state, so only the provider's own machine is granted"
    ),
}


def _detail_actions(finding: Finding) -> list[str]:
    import json

    detail: Any = json.loads(finding.detail)
    entries = detail if isinstance(detail, list) else [detail]
    actions: list[str] = []
    for entry in entries:
        if isinstance(entry, dict) and "action" in entry:
            actions.append(entry["action"])
        elif isinstance(entry, str):
            actions.append(entry)
    return actions


def unacknowledged(findings: list[Finding]) -> list[Finding]:
    return [
        f
        for f in findings
        if not _detail_actions(f) or not all((f.issue, a) in ACKNOWLEDGED for a in _detail_actions(f))
    ]


@pytest.fixture(scope="module")
def example_policies(example: Synthesized) -> list[Policy]:
    return policies({name: example.template(name) for name in STACKS})


def test_parliament_has_no_unacknowledged_findings(example_policies: list[Policy]) -> None:
    findings = [f for p in example_policies for f in lint(p)]
    left = unacknowledged(findings)
    assert not left, "\n".join(f"{f.stack}/{f.policy}: {f.issue} {f.detail}" for f in left)
    # Every acknowledgment is still needed (a stale one would hide nothing but mislead).
    used = {(f.issue, a) for f in findings for a in _detail_actions(f)}
    assert set(ACKNOWLEDGED) <= used, sorted(set(ACKNOWLEDGED) - used)


def test_parliament_sees_the_old_describe_key_mistake() -> None:
    """The check above can fail: the clone pool's old DescribeKey grant is a finding."""
    old = Policy(
        "Old",
        "Pool",
        [],
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["kms:CreateGrant", "kms:DescribeKey"],
                    "Resource": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k",
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                }
            ],
        },
    )
    assert [f.issue for f in unacknowledged(lint(old))] == ["UNKNOWN_CONDITION_FOR_ACTION"]


def _cluster(name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{name}"


MADE_BY_AURORA = {CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE, "dbscale:cfn-stack-id": "s", "dbscale:cfn-logical-id": "Db"}
A_CLONE = {CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE, CLONE_OF_TAG_KEY: "dbscale-orders"}
A_COPY = {CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE, COPY_OF_TAG_KEY: "dbscale-orders"}
DESTRUCTIVE = ["rds:DeleteDBCluster", "rds:ModifyDBCluster", "rds:FailoverDBCluster", "rds:RemoveTagsFromResource"]


def test_the_clone_provider_cannot_touch_a_cluster_the_aurora_provider_made(example_policies: list[Policy]) -> None:
    clone_role = role_statements(example_policies, "DbscaleProviders", "AuroraCloneProviderRole")
    aurora_role = role_statements(example_policies, "DbscaleProviders", "AuroraClusterProviderRole")
    assert clone_role and aurora_role
    # Both standalone providers serve 'dbscale-*': the names overlap, the tags decide.
    for action in DESTRUCTIVE:
        assert not allowed(clone_role, action, _cluster("dbscale-orders"), resource_tags=MADE_BY_AURORA), action
        assert allowed(clone_role, action, _cluster("dbscale-dev"), resource_tags=A_CLONE), action
        assert not allowed(aurora_role, action, _cluster("dbscale-dev"), resource_tags=A_CLONE), action
        assert not allowed(aurora_role, action, _cluster("dbscale-orders-copy-1"), resource_tags=A_COPY), action
    assert allowed(aurora_role, "rds:DeleteDBCluster", _cluster("dbscale-orders"), resource_tags=MADE_BY_AURORA)
    # An adopted cluster (no dbscale tags) can be changed by the Aurora provider but never deleted.
    assert allowed(aurora_role, "rds:ModifyDBCluster", _cluster("dbscale-legacy"), resource_tags={})
    assert not allowed(aurora_role, "rds:DeleteDBCluster", _cluster("dbscale-legacy"), resource_tags={})
    # Nor can the clone provider re-tag a production cluster into its reach.
    assert not allowed(
        clone_role,
        "rds:AddTagsToResource",
        _cluster("dbscale-orders"),
        resource_tags=MADE_BY_AURORA,
        request_tags={CLONE_OF_TAG_KEY: "x"},
    )
    # ... while a new clone is created and tagged as one.
    new_clone = {CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE, CLONE_OF_TAG_KEY: "dbscale-orders"}
    for action in ("rds:RestoreDBClusterToPointInTime", "rds:AddTagsToResource"):
        assert allowed(clone_role, action, _cluster("dbscale-dev"), request_tags=new_clone)
        assert not allowed(clone_role, action, _cluster("dbscale-dev"), request_tags={CREATED_BY_TAG_KEY: "dbscale"})
    # The Aurora provider creates clusters only with dbscale's tag.
    assert allowed(aurora_role, "rds:CreateDBCluster", _cluster("dbscale-new"), request_tags=MADE_BY_AURORA)
    assert not allowed(aurora_role, "rds:CreateDBCluster", _cluster("dbscale-new"), request_tags={})


def _instance(name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}"


INSTANCE_CHANGES = ["rds:DeleteDBInstance", "rds:ModifyDBInstance"]


def test_the_clone_provider_cannot_touch_an_instance_of_a_cluster_the_aurora_provider_made(
    example_policies: list[Policy],
) -> None:
    clone_role = role_statements(example_policies, "DbscaleProviders", "AuroraCloneProviderRole")
    aurora_role = role_statements(example_policies, "DbscaleProviders", "AuroraClusterProviderRole")
    made_by_aurora = {CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}  # instances carry their cluster's kind tags
    for action in INSTANCE_CHANGES:
        assert not allowed(clone_role, action, _instance("dbscale-orders-1"), resource_tags=made_by_aurora), action
        assert not allowed(clone_role, action, _instance("dbscale-orders-1"), resource_tags={}), action
        assert allowed(clone_role, action, _instance("dbscale-dev-1"), resource_tags=A_CLONE), action
        assert allowed(aurora_role, action, _instance("dbscale-orders-1"), resource_tags=made_by_aurora), action
        assert not allowed(aurora_role, action, _instance("dbscale-dev-1"), resource_tags=A_CLONE), action
        assert not allowed(aurora_role, action, _instance("dbscale-orders-copy-1-1"), resource_tags=A_COPY), action
    assert allowed(aurora_role, "rds:RebootDBInstance", _instance("dbscale-orders-1"), resource_tags=made_by_aurora)
    assert not allowed(aurora_role, "rds:RebootDBInstance", _instance("dbscale-dev-1"), resource_tags=A_CLONE)
    assert not allowed(clone_role, "rds:RebootDBInstance", _instance("dbscale-dev-1"), resource_tags=A_CLONE)
    # Instances are created only with their cluster's kind tags, and never re-tagged into reach.
    for action in ("rds:CreateDBInstance", "rds:AddTagsToResource"):
        assert allowed(aurora_role, action, _instance("dbscale-orders-2"), request_tags=made_by_aurora), action
        assert not allowed(aurora_role, action, _instance("dbscale-orders-2"), request_tags={}), action
        assert not allowed(aurora_role, action, _instance("dbscale-dev-2"), request_tags=A_CLONE), action
        assert allowed(clone_role, action, _instance("dbscale-dev-2"), request_tags=A_CLONE), action
        assert not allowed(clone_role, action, _instance("dbscale-orders-2"), request_tags=made_by_aurora), action
        assert not allowed(
            clone_role, action, _instance("dbscale-orders-1"), resource_tags=made_by_aurora, request_tags=A_CLONE
        ), action


def test_copies_are_deleted_only_when_tagged_as_copies(example_policies: list[Policy]) -> None:
    pool = role_statements(example_policies, "DbscaleDevClones", "ClonePoolRole")
    assert pool
    (copies,) = {
        r.split(":cluster:", 1)[1]
        for s in pool
        if s.get("Sid") == "ManageCopies"
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    name = copies.replace("*", "20250101t0000")
    assert allowed(pool, "rds:DeleteDBCluster", _cluster(name), resource_tags=A_COPY)
    assert not allowed(pool, "rds:DeleteDBCluster", _cluster(name), resource_tags=MADE_BY_AURORA)
    assert not allowed(pool, "rds:DeleteDBCluster", _cluster(name), resource_tags={})
    # Their instances likewise.
    assert allowed(pool, "rds:DeleteDBInstance", _instance(f"{name}-1"), resource_tags=A_COPY)
    assert not allowed(
        pool, "rds:DeleteDBInstance", _instance(f"{name}-1"), resource_tags={CREATED_BY_TAG_KEY: "dbscale"}
    )
    assert allowed(pool, "rds:CreateDBInstance", _instance(f"{name}-1"), request_tags=A_COPY)
    assert not allowed(
        pool, "rds:CreateDBInstance", _instance(f"{name}-1"), request_tags={CREATED_BY_TAG_KEY: "dbscale"}
    )


def test_describe_key_is_granted_without_the_grant_only_condition(example_policies: list[Policy]) -> None:
    for policy in example_policies:
        for statement in policy.statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "kms:DescribeKey" in actions:
                assert "kms:GrantIsForAWSResource" not in str(statement.get("Condition")), policy.logical_id


def test_redshift_provider_deletes_only_what_dbscale_made(example_policies: list[Policy]) -> None:
    role = role_statements(example_policies, "DbscaleProviders", "RedshiftClusterProviderRole")
    arn = f"arn:aws:redshift:{REGION}:{ACCOUNT}:cluster:dbscale-wh"
    made = {CREATED_BY_TAG_KEY: CREATED_BY_TAG_VALUE}
    assert allowed(role, "redshift:DeleteCluster", arn, resource_tags=made)
    assert not allowed(role, "redshift:DeleteCluster", arn, resource_tags={})
    assert allowed(role, "redshift:ResizeCluster", arn, resource_tags={})  # adopted clusters are rescaled
    assert allowed(role, "redshift:CreateCluster", arn, request_tags=made)
    assert not allowed(role, "redshift:CreateCluster", arn, request_tags={})
