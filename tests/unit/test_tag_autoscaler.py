"""Autoscaling by tag (``dbscale:autoscale=<policy>``) on moto, in two accounts.

Each account has the same policy document in SSM (as a StackSet would deploy it) and its own
clusters: tagged with two policies, untagged, tagged with a policy the document lacks, and one a
per-cluster ``Autoscaler`` already manages. A run in one account drives only that account's tagged
clusters, each under its policy, once; a cluster joins by being tagged and leaves by being untagged.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from dbscale.core.autoscale import (
    DECISION_NAMESPACE,
    POLICIES_PARAMETER_ENV,
    SKIP_METRIC,
    TAG_KEY,
    AutoscalePolicy,
    Autoscaler,
    ClusterRef,
    TaggedCluster,
    TaggedRun,
    discover,
    parse_policies,
    policies_document,
    run_tagged,
)
from dbscale.core.autoscale.tagged import PER_CLUSTER, UNKNOWN_POLICY, plan_run
from dbscale.core.errors import InvalidRequest
from dbscale.handlers import tag_autoscaler
from tests.fakes import FakeClock, SlowAws
from tests.fakes.accounts import account_session
from tests.fakes.cloudwatch import put_series

PARAMETER = "/dbscale/autoscale/policies"
OTHER = "222222222222"
POLICIES = {
    "busy": AutoscalePolicy(redshift_min_nodes=2, redshift_max_nodes=8, idle_pause_minutes=None),
    "frugal": AutoscalePolicy(redshift_min_nodes=2, redshift_max_nodes=4, idle_pause_minutes=10),
}


@pytest.fixture
def fake_clock() -> FakeClock:
    # The handler runs on the real clock (as in Lambda): metrics are written for the real last minutes.
    return FakeClock(time.time() // 60 * 60)


class Account:
    """One account's side: its session, clusters, metrics and policy document."""

    def __init__(self, session: boto3.Session, clock: FakeClock) -> None:
        self.session, self.clock = session, clock
        self.lines: list[str] = []
        session.client("ssm").put_parameter(
            Name=PARAMETER, Value=policies_document(POLICIES), Type="String", Overwrite=True
        )

    def redshift(self, name: str, policy: str | None = None, nodes: int = 2) -> None:
        tags = [{"Key": TAG_KEY, "Value": policy}] if policy is not None else []
        self.session.client("redshift").create_cluster(
            ClusterIdentifier=name,
            NodeType="ra3.xlplus",
            NumberOfNodes=nodes,
            ClusterType="multi-node",
            MasterUsername="admin",
            MasterUserPassword="Password1",
            Tags=tags,
        )

    def aurora(self, name: str, policy: str) -> None:
        rds = self.session.client("rds")
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="postgres",
            MasterUserPassword="Password1",
            Tags=[{"Key": TAG_KEY, "Value": policy}],
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-1",
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
        )

    def tick(
        self, minutes: int, cpu: dict[str, float], *, also: tuple[Account, dict[str, float]] | None = None
    ) -> None:
        """``minutes`` pass; each minute every Redshift cluster in ``cpu`` publishes that CPU (disk 30%), and
        so do those of ``also`` (another account, its clusters' CPU) on the same clock."""
        for _ in range(minutes):
            stamp = datetime.fromtimestamp(self.clock.now() // 60 * 60, tz=timezone.utc)
            for account, load in [(self, cpu)] + ([also] if also else []):
                cw = account.session.client("cloudwatch")
                for name, value in load.items():
                    dims = {"ClusterIdentifier": name}
                    put_series(cw, "AWS/Redshift", "CPUUtilization", dims, [(stamp, value)])
                    put_series(cw, "AWS/Redshift", "PercentageDiskSpaceUsed", dims, [(stamp, 30.0)])
            self.clock.advance(60)

    def run(self, **kw: Any) -> TaggedRun:
        kw.setdefault("log", self.lines.append)
        return run_tagged(PARAMETER, session=self.session, clock=self.clock, **kw)

    def describe(self, name: str) -> dict[str, Any]:
        return dict(self.session.client("redshift").describe_clusters(ClusterIdentifier=name)["Clusters"][0])

    def tag(self, name: str, policy: str | None) -> None:
        redshift = self.session.client("redshift")
        arn = f"arn:aws:redshift:us-east-1:{self.account}:cluster:{name}"
        if policy is None:
            redshift.delete_tags(ResourceName=arn, TagKeys=[TAG_KEY])
        else:
            redshift.create_tags(ResourceName=arn, Tags=[{"Key": TAG_KEY, "Value": policy}])

    @property
    def account(self) -> str:
        return str(self.session.client("sts").get_caller_identity()["Account"])

    def memory(self, key: str) -> dict[str, Any] | None:
        try:
            value = self.session.client("ssm").get_parameter(Name=f"/dbscale/autoscaler/tagged/{key}")
        except ClientError:
            return None
        return dict(json.loads(value["Parameter"]["Value"]))


@pytest.fixture
def home(slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session) -> Account:
    account = Account(boto_session, fake_clock)
    account.redshift("wh-busy", "busy")
    account.redshift("wh-idle", "frugal")
    account.redshift("wh-plain")
    account.redshift("wh-typo", "bsuy")
    account.redshift("wh-owned", "busy")
    account.aurora("orders", "busy")
    slow_aws.finish_all()
    return account


@pytest.fixture
def other(home: Account, slow_aws: SlowAws, fake_clock: FakeClock) -> Account:
    account = Account(account_session(OTHER, "us-east-1"), fake_clock)
    account.redshift("wh-busy", "busy")  # the same name as in the home account
    account.redshift("wh-quiet")
    slow_aws.finish_all()
    return account


def by_cluster(run: TaggedRun) -> dict[str, tuple[str, str]]:
    return {d.cluster: (policy, d.action) for policy, d in run.decisions}


def skips(run: TaggedRun) -> dict[str, str]:
    return {s.ref.name: s.reason for s in run.skipped}


def test_each_account_drives_only_its_own_tagged_clusters_under_their_policies(
    home: Account, other: Account, slow_aws: SlowAws
) -> None:
    # A per-cluster Autoscaler manages wh-owned: its first evaluation writes its memory parameter.
    Autoscaler(POLICIES["busy"], session=home.session, clock=home.clock, log=lambda _: None).run(
        [ClusterRef.redshift("wh-owned")]
    )
    home_load = {"wh-busy": 92.0, "wh-idle": 1.0, "wh-plain": 95.0, "wh-typo": 95.0, "wh-owned": 95.0}
    home.tick(10, home_load, also=(other, {"wh-busy": 92.0, "wh-quiet": 95.0}))

    ran = home.run()
    assert by_cluster(ran) == {
        "wh-busy": ("busy", "scale_up"),
        "wh-idle": ("frugal", "pause"),  # idle 10 min: frugal pauses after 10, busy never would
        "orders": ("busy", "none"),
    }
    assert skips(ran) == {"wh-owned": PER_CLUSTER, "wh-typo": UNKNOWN_POLICY}
    assert ran.managed() == ["redshift/wh-busy", "aurora/orders", "redshift/wh-idle"]  # by policy, each once
    assert home.describe("wh-busy")["ClusterStatus"] == "resizing"
    assert home.describe("wh-idle")["ClusterStatus"] in ("pausing", "paused")
    for untouched in ("wh-plain", "wh-typo", "wh-owned"):
        assert home.describe(untouched)["ClusterStatus"] == "available"
    # The unknown policy is reported as a log line and a metric, never raised.
    logged = [json.loads(line) for line in home.lines if "skipped" in line]
    assert {(line["cluster"], line["reason"]) for line in logged} == {
        ("wh-owned", PER_CLUSTER),
        ("wh-typo", UNKNOWN_POLICY),
    }
    assert "'bsuy'" in next(line["detail"] for line in logged if line["cluster"] == "wh-typo")
    metrics = home.session.client("cloudwatch").list_metrics(Namespace=DECISION_NAMESPACE, MetricName=SKIP_METRIC)
    assert {tuple(d["Value"] for d in m["Dimensions"]) for m in metrics["Metrics"]} == {
        ("wh-owned", PER_CLUSTER),
        ("wh-typo", UNKNOWN_POLICY),
    }
    # Memory of the dynamically found clusters lives under the tag autoscaler's own prefix.
    assert (home.memory("redshift/wh-busy") or {})["last_action"] == "scale_up"
    assert other.memory("redshift/wh-busy") is None  # not yet run there

    # The other account: its own wh-busy, not the home one's.
    ran_other = other.run()
    assert by_cluster(ran_other) == {"wh-busy": ("busy", "scale_up")} and ran_other.skipped == []
    assert other.describe("wh-busy")["ClusterStatus"] == "resizing"
    assert other.describe("wh-quiet")["ClusterStatus"] == "available"
    assert (other.memory("redshift/wh-busy") or {})["last_action"] == "scale_up"
    slow_aws.finish_all()
    assert home.describe("wh-busy")["NumberOfNodes"] == 4  # 92% x 2 nodes / 50% target -> 4
    assert home.describe("wh-idle")["ClusterStatus"] == "paused"


def test_a_fault_on_one_cluster_leaves_the_others_handled(home: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    real = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "DescribeClusters" and params.get("ClusterIdentifier") == "wh-busy":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "injected"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    home.tick(10, {"wh-busy": 92, "wh-idle": 1, "wh-owned": 92})
    ran = home.run()
    failed = next(s for s in ran.skipped if s.ref.name == "wh-busy")
    assert failed.reason == "failed" and "AccessDenied: injected" in failed.detail
    assert by_cluster(ran) == {
        "wh-owned": ("busy", "scale_up"),
        "wh-idle": ("frugal", "pause"),
        "orders": ("busy", "none"),
    }


def test_a_cluster_whose_memory_cannot_be_written_is_reported_and_the_others_are_kept(
    home: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "PutParameter" and str(params.get("Name", "")).endswith("/wh-idle"):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "injected"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    home.tick(10, {"wh-busy": 92, "wh-idle": 1})
    ran = home.run()
    assert skips(ran)["wh-idle"] == "failed"
    assert by_cluster(ran)["wh-busy"] == ("busy", "scale_up") and "orders" in by_cluster(ran)


def test_a_dry_run_decides_and_changes_nothing(home: Account) -> None:
    home.tick(10, {"wh-busy": 92, "wh-idle": 1})
    ran = home.run(dry_run=True)
    assert by_cluster(ran)["wh-busy"] == ("busy", "scale_up") and by_cluster(ran)["wh-idle"] == ("frugal", "pause")
    assert {home.describe(n)["ClusterStatus"] for n in ("wh-busy", "wh-idle")} == {"available"}
    assert home.memory("redshift/wh-busy") is None and home.memory("dry-run/redshift/wh-busy") is not None


def test_a_cluster_joins_by_being_tagged_and_leaves_by_being_untagged(home: Account) -> None:
    home.tick(10, {"wh-plain": 92})
    assert "wh-plain" not in by_cluster(home.run())
    home.tag("wh-plain", "busy")
    assert by_cluster(home.run())["wh-plain"] == ("busy", "scale_up")
    home.tag("wh-plain", None)
    assert "wh-plain" not in by_cluster(home.run()) and "wh-plain" not in skips(home.run())


def test_a_run_out_of_time_defers_the_clusters_it_did_not_reach(home: Account) -> None:
    ran = home.run(remaining_seconds=lambda: 30.0)
    assert ran.decisions == []
    assert skips(ran) == {
        "wh-busy": "out_of_time",
        "wh-idle": "out_of_time",
        "wh-owned": "out_of_time",
        "orders": "out_of_time",
        "wh-typo": UNKNOWN_POLICY,
    }
    assert home.describe("wh-busy")["ClusterStatus"] == "available"


def test_an_invalid_policy_document_fails_loudly_naming_the_parameter_and_the_policy(home: Account) -> None:
    ssm = home.session.client("ssm")
    bad = {"busy": POLICIES["busy"].to_dict(), "tiny": {"redshift_min_nodes": 1}}
    ssm.put_parameter(Name=PARAMETER, Value=json.dumps(bad), Type="String", Overwrite=True)
    with pytest.raises(InvalidRequest) as err:
        home.run()
    assert PARAMETER in str(err.value) and "'tiny'" in str(err.value) and "redshift_min_nodes" in str(err.value)
    for text, words in (
        ("{nope", "not JSON"),
        ("[]", "non-empty JSON object"),
        ('{"x": {"bogus": 1}}', "bogus"),
        ('{"a*b": {}}', "tag value"),
    ):
        with pytest.raises(InvalidRequest, match=words):
            parse_policies(text, parameter=PARAMETER)
    ssm.delete_parameter(Name=PARAMETER)
    with pytest.raises(InvalidRequest, match="does not exist"):
        home.run()
    assert home.describe("wh-busy")["ClusterStatus"] == "available"


def test_the_handler_runs_every_tagged_cluster_of_its_account(
    home: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home.tick(10, {"wh-busy": 92})
    monkeypatch.setenv(POLICIES_PARAMETER_ENV, PARAMETER)

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 280_000

    result = tag_autoscaler.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, Context())
    assert result["trigger"] == "schedule" and result["tag_key"] == TAG_KEY and result["dry_run"] is False
    assert {d["cluster"] for d in result["decisions"]} == {"wh-busy", "wh-idle", "wh-owned", "orders"}
    assert {s["cluster"]: s["reason"] for s in result["skipped"]} == {"wh-typo": UNKNOWN_POLICY}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 5
    monkeypatch.setenv("DBSCALE_AUTOSCALE_DRY_RUN", "maybe")
    with pytest.raises(InvalidRequest, match="DBSCALE_AUTOSCALE_DRY_RUN"):
        tag_autoscaler.handler({}, None)
    monkeypatch.delenv(POLICIES_PARAMETER_ENV)
    with pytest.raises(InvalidRequest, match=POLICIES_PARAMETER_ENV):
        tag_autoscaler.handler({}, None)


def test_discover_pages_through_both_services_and_ignores_other_tags(home: Account) -> None:
    found = discover(home.session)
    assert [(t.ref.key, t.policy) for t in found] == [
        ("redshift/wh-busy", "busy"),
        ("redshift/wh-idle", "frugal"),
        ("redshift/wh-owned", "busy"),
        ("redshift/wh-typo", "bsuy"),
        ("aurora/orders", "busy"),
    ]
    assert discover(home.session, tag_key="team") == []


# --- generated: random tag assignments --------------------------------------------------------

NAMES = [f"c{i}" for i in range(8)]


@settings(max_examples=200, deadline=None)
@given(
    tags=st.lists(
        st.tuples(
            st.sampled_from(["redshift", "aurora"]),
            st.sampled_from(NAMES),
            st.sampled_from(["busy", "frugal", "other", ""]),
        ),
        max_size=12,
    ),
    owned=st.sets(st.sampled_from([f"{s}/{n}" for s in ("redshift", "aurora") for n in NAMES]), max_size=4),
)
def test_exactly_the_tagged_clusters_with_known_policies_are_managed_each_once(
    tags: list[tuple[str, str, str]], owned: set[str]
) -> None:
    tagged = [TaggedCluster(ClusterRef(service, name), policy) for service, name, policy in tags]
    plan = plan_run(tagged, POLICIES, owned)
    managed = [(policy, ref.key) for policy, refs in plan.groups.items() for ref in refs]
    keys = [key for _, key in managed]
    assert len(keys) == len(set(keys))  # each once
    first: dict[str, str] = {}
    for t in tagged:
        first.setdefault(t.ref.key, t.policy)
    expected = {key for key, policy in first.items() if policy in POLICIES and key not in owned}
    assert set(keys) == expected
    assert all(first[key] == policy for policy, key in managed)  # under the policy its tag names
    skipped = {s.ref.key for s in plan.skipped}
    assert skipped == set(first) - expected and not skipped & set(keys)
