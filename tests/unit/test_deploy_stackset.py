"""``dbscale providers deploy --stackset``: the providers in every account and region of some OUs, on
moto and the StackSets fake (``tests/fakes/stacksets.py``: trusted access, CallAs, operations,
instances that fail as CloudFormation reports them)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dbscale.core.errors import DbscaleError, InvalidRequest, InvalidState, OperationFailed, OperationTimeout
from dbscale.deploy import EXPORT_NAMES, build_bundle
from dbscale.deploy.bundle import Bundle
from dbscale.deploy.stackset import InstanceProblem, StackSetDeployment
from dbscale.deploy.stackset_template import (
    ORG_READ_SID,
    OperationPreferences,
    stackset_template,
)
from dbscale.deploy.template import template_body
from tests.cli_runner import dbscale
from tests.fakes import FakeClock, NthCallFault
from tests.fakes.stackset_responses import STACKSETS, install_stackset_shims, reset_stacksets
from tests.fakes.stacksets import STACKSETS_PRINCIPAL

ADMIN = "123456789012"
HOME = "us-east-1"
REGIONS = ["us-east-1", "eu-west-1"]
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..Lambda..EventInvokeConfig")
install_stackset_shims()


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return build_bundle()


def make_organization(session: Any, *, trusted: bool = True) -> dict[str, Any]:
    """An organization of the admin account with OUs a (holding OU a/nested) and b, one member
    account in each of a, a/nested and b; StackSets' trusted access enabled unless ``trusted`` is False."""
    reset_stacksets()
    org = session.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]

    def ou(parent: str, name: str) -> str:
        return str(org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])

    a, b = ou(root, "a"), ou(root, "b")
    nested = ou(a, "nested")
    accounts: dict[str, str] = {}
    for name, parent in (("a", a), ("nested", nested), ("b", b)):
        made = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=made, SourceParentId=root, DestinationParentId=parent)
        accounts[name] = made
    if trusted:
        org.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    return {
        "ous": [a, b],
        "root": root,
        "accounts": accounts,
        "org_id": org.describe_organization()["Organization"]["Id"],
    }


@pytest.fixture
def organization(boto_session: boto3.Session) -> dict[str, Any]:
    return make_organization(boto_session)


def deployment(session: Any, clock: FakeClock | None = None, **kwargs: Any) -> StackSetDeployment:
    from tests.fakes.sessions import fresh_session

    return StackSetDeployment(
        session, regional=kwargs.pop("regional", fresh_session), clock=clock or FakeClock(), poll_seconds=1.0, **kwargs
    )


def exports_of(account: str, region: str) -> dict[str, str]:
    from moto.cloudformation.models import cloudformation_backends

    return {name: e.value for name, e in cloudformation_backends[account][region].exports.items()}


def test_deploy_puts_the_same_exports_into_every_account_and_region_of_the_ous(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    result = deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    assert result.created and not result.failed and result.instances == 6  # 3 accounts (nested OU too) x 2 regions
    for account in organization["accounts"].values():
        for region in REGIONS:
            assert set(exports_of(account, region)) == set(EXPORT_NAMES.values()), (account, region)
    assert exports_of(ADMIN, HOME) == {}  # service-managed StackSets never deploy to the management account
    s3 = boto_session.client("s3")
    for region in REGIONS:
        bucket = result.buckets[region]
        assert bucket == f"dbscale-providers-{ADMIN}-{region}"
        assert s3.head_object(Bucket=bucket, Key=bundle.s3_key)["ContentLength"] == len(bundle.data)
        assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        statements = {
            s.get("Sid", "TlsOnly"): s for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        }
        grant = statements[ORG_READ_SID]
        assert grant["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": organization["org_id"]}}
        assert grant["Action"] == "s3:GetObject" and grant["Resource"].endswith(f"{bucket}/dbscale-providers/*")
        assert "TlsOnly" in statements
    described = boto_session.client("cloudformation").describe_stack_set(StackSetName="dbscale-providers")["StackSet"]
    assert described["PermissionModel"] == "SERVICE_MANAGED"
    assert described["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    assert described["ManagedExecution"] == {"Active": True}
    assert {"Key": "dbscale:stack", "Value": "providers"} in described["Tags"]
    template = json.loads(described["TemplateBody"])
    assert sorted(o["Export"]["Name"] for o in template["Outputs"].values()) == sorted(EXPORT_NAMES.values())


def test_a_second_deploy_changes_nothing_and_uploads_nothing(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle, aws_calls: Any
) -> None:
    deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    before = len(STACKSETS.operations)
    again = deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    assert not again.created and not again.updated and not again.failed and again.instances == 6
    assert aws_calls.count("UpdateStackSet") == 0 and aws_calls.count("CreateStackSet") == 1
    assert len(STACKSETS.operations) == before + 1  # CreateStackInstances, which leaves existing instances alone
    changed = deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, prefix="team-a-", bundle=bundle)
    assert changed.updated and aws_calls.count("UpdateStackSet") == 1
    assert "team-a-" in json.dumps(next(iter(STACKSETS.sets.values())).template)


def test_a_failed_instance_is_reported_with_its_reason_and_a_rerun_retries_it(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import Export

    member = organization["accounts"]["b"]
    held = f"arn:aws:cloudformation:eu-west-1:{member}:stack/dbscale-providers/1"
    name = EXPORT_NAMES["Custom::RedshiftCluster"]
    cloudformation_backends[member]["eu-west-1"].exports[name] = Export(held, name, "arn:aws:lambda:x")
    result = deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    assert result.failed == [
        InstanceProblem(
            account=member,
            region="eu-west-1",
            status="OUTDATED/FAILED",
            reason=f"Export with name {name} is already exported by stack dbscale-providers",
        )
    ]
    del cloudformation_backends[member]["eu-west-1"].exports[name]  # the account's own providers stack, deleted
    retried = deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    assert retried.updated and retried.failed == []
    assert set(exports_of(member, "eu-west-1")) == set(EXPORT_NAMES.values())


def test_the_cli_exits_6_listing_the_failed_instances(
    boto_session: boto3.Session,
    organization: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command polls on the system clock: simulated time instead of real sleeps.
    monkeypatch.setitem(StackSetDeployment.__init__.__kwdefaults__, "clock", FakeClock())
    member = organization["accounts"]["a"]
    STACKSETS.fail(member, "us-east-1", "Resource handler returned message: AccessDenied (iam:CreateRole)")
    args = ["providers", "deploy", "--stackset", "dbscale-providers", "--ous", ",".join(organization["ous"])]
    code, out, err = dbscale(capsys, "--region", HOME, *args, "--regions", ",".join(REGIONS))
    assert code == 6, err
    assert member in err and "AccessDenied (iam:CreateRole)" in err and "1 not current" in out
    code, out, _ = dbscale(capsys, "--region", HOME, *args, "--regions", ",".join(REGIONS), "--json")
    assert code == 6 and json.loads(out)["failed"][0]["account"] == member
    STACKSETS.failures.clear()
    code, out, err = dbscale(capsys, "--region", HOME, *args, "--regions", ",".join(REGIONS))
    assert code == 0 and "0 not current" in out, err
    code, out, err = dbscale(capsys, "--region", HOME, "providers", "stage", "--regions", "eu-central-1", "--json")
    assert code == 0, err
    assert json.loads(out)["buckets"] == {"eu-central-1": f"dbscale-providers-{ADMIN}-eu-central-1"}
    code, out, err = dbscale(capsys, "--region", HOME, "providers", "delete", "--stackset", "dbscale-providers")
    assert code == 0 and "deleted StackSet dbscale-providers" in out, err
    code, out, err = dbscale(capsys, "--region", HOME, "providers", "deploy", "--stackset", "x", "--bucket", "b")
    assert code == 2 and "--bucket" in err
    code, out, err = dbscale(capsys, "--region", HOME, "providers", "deploy", "--ous", organization["ous"][0])
    assert code == 2 and "--stackset" in err


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ous": ["ou-nope"]}, "ous"),
        ({"ous": []}, "ous"),
        ({"regions": ["Europe"]}, "regions"),
        ({"regions": []}, "regions"),
        ({"prefix": "Bad_"}, "prefix"),
        ({"preferences": OperationPreferences(max_concurrent_percentage=0)}, "operation_preferences"),
    ],
)
def test_bad_input_is_refused_before_any_aws_call(
    boto_session: boto3.Session, aws_calls: Any, kwargs: dict[str, Any], field: str
) -> None:
    request: dict[str, Any] = {"ous": ["ou-ab12-cd34ef56"], "regions": REGIONS, **kwargs}
    with pytest.raises(InvalidRequest) as refused:
        deployment(boto_session).deploy(**request)
    assert refused.value.field == field and aws_calls.count() == 0
    for bad in ({"name": "1bad"}, {"call_as": "ME"}):
        with pytest.raises(InvalidRequest):
            deployment(boto_session, **bad).deploy(ous=["ou-ab12-cd34ef56"], regions=REGIONS)
    assert aws_calls.count() == 0


def test_missing_permissions_are_named(boto_session: boto3.Session, bundle: Bundle) -> None:
    with pytest.raises(InvalidRequest, match="in no organization"):
        deployment(boto_session).deploy(ous=["ou-ab12-cd34ef56"], regions=REGIONS, bundle=bundle)
    organization = make_organization(boto_session, trusted=False)
    with pytest.raises(DbscaleError, match=r"DescribeStackSet.*enable organizations access"):
        deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    boto_session.client("organizations").enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    with pytest.raises(DbscaleError, match="not a delegated administrator"):
        deployment(boto_session, call_as="DELEGATED_ADMIN").deploy(
            ous=organization["ous"], regions=REGIONS, bundle=bundle
        )


def test_a_stack_set_not_made_by_dbscale_is_left_alone(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    boto_session.client("cloudformation").create_stack_set(
        StackSetName="dbscale-providers",
        TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": False},
    )
    with pytest.raises(InvalidState, match="not made by dbscale"):
        deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    with pytest.raises(InvalidState, match="not made by dbscale"):
        deployment(boto_session).delete()


def test_the_template_is_sent_by_url_because_it_is_over_the_body_limit(
    boto_session: boto3.Session, organization: dict[str, Any]
) -> None:
    body = template_body(stackset_template())
    assert len(body.encode()) > 51_200
    with pytest.raises(Exception, match="51200"):
        boto_session.client("cloudformation").create_stack_set(
            StackSetName="inline",
            TemplateBody=body,
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": True},
            Capabilities=["CAPABILITY_IAM"],
        )


def test_watching_stops_at_the_timeout_and_says_cloudformation_goes_on(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    with pytest.raises(OperationTimeout, match="goes on in CloudFormation"):
        deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle, timeout_seconds=0)


def test_delete_removes_every_instance_and_is_refused_while_an_account_imports_a_service_token(
    boto_session: boto3.Session, organization: dict[str, Any], bundle: Bundle
) -> None:
    from moto.cloudformation.models import cloudformation_backends

    deployment(boto_session).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
    member = organization["accounts"]["nested"]
    importer = {
        "Resources": {
            "Warehouse": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": "warehouse-token",
                    "Type": "String",
                    "Value": {"Fn::ImportValue": EXPORT_NAMES["Custom::RedshiftCluster"]},
                },
            }
        }
    }
    stack = cloudformation_backends[member]["eu-west-1"].create_stack(
        name="warehouse", template=json.dumps(importer), parameters={}
    )
    with pytest.raises(
        OperationFailed, match=f"{member}/eu-west-1: Export cannot be deleted as it is in use by warehouse"
    ):
        deployment(boto_session).delete()
    assert len(next(iter(STACKSETS.sets.values())).instances) == 1  # the rest went; the StackSet is kept
    cloudformation_backends[member]["eu-west-1"].delete_stack(stack.stack_id)
    result = deployment(boto_session).delete()
    assert result.deleted and STACKSETS.sets == {}
    assert all(exports_of(a, r) == {} for a in organization["accounts"].values() for r in REGIONS)
    assert not deployment(boto_session).delete().deleted


def _changes(operation: str) -> bool:
    return not operation.startswith(("Describe", "List", "Get", "Head"))


@pytest.mark.parametrize("mode", ["error", "lost"])
def test_a_fault_at_any_call_is_named_and_a_second_deploy_finishes(
    bundle: Bundle, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Every request of a first deploy failed in turn (AccessDenied before AWS acts, or the answer
    lost after AWS acted): the error names the call, and deploying again ends with every instance
    current and its exports in every account and region."""
    import botocore.endpoint
    from moto import mock_aws

    from tests.fakes import BackoffOnClock
    from tests.fakes.sessions import fresh_session

    clock = FakeClock()
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(clock))

    def attempt(n: int) -> tuple[str | None, int, list[str], DbscaleError | None, list[InstanceProblem], int]:
        with mock_aws():
            session = fresh_session(HOME)
            organization = make_organization(session)
            fault = NthCallFault()
            operations: list[str] = []

            def regional(region: str) -> Any:
                made = fresh_session(region)
                fault.attach(made.events)
                made.events.register_first(
                    "before-send", lambda event_name="", **_: operations.append(event_name.rsplit(".", 1)[-1])
                )
                return made

            fault.attach(session.events)
            session.events.register_first(
                "before-send", lambda event_name="", **_: operations.append(event_name.rsplit(".", 1)[-1])
            )
            fault.arm(n, mode)
            error: DbscaleError | None = None
            try:
                deployment(session, clock, regional=regional).deploy(
                    ous=organization["ous"], regions=REGIONS, bundle=bundle
                )
            except DbscaleError as err:
                error = err
            hit, seen, first = fault.hit, fault.seen, list(operations)
            fault.arm(0)
            finished = deployment(session, clock, regional=regional).deploy(
                ous=organization["ous"], regions=REGIONS, bundle=bundle
            )
            exported = sum(
                set(exports_of(a, r)) == set(EXPORT_NAMES.values())
                for a in organization["accounts"].values()
                for r in REGIONS
            )
            return hit, seen, first, error, finished.failed, exported

    _, total, operations, error, _, _ = attempt(10**9)
    assert error is None and 20 <= total <= 50 and len(operations) == total, (total, operations)
    assert sum(1 for op in operations if _changes(op)) >= 12  # the sweep covers every change call
    for n in range(1, total + 1):
        hit, _, _, error, failed, exported = attempt(n)
        assert hit, n
        if mode == "error":
            assert error is not None, (n, hit)
            assert hit in str(error), (n, hit, str(error))
        assert failed == [] and exported == 6, (n, hit, error, failed)


@pytest.mark.parametrize("mode", ["error", "lost"])
def test_a_fault_at_any_call_of_a_delete_is_named_and_a_second_delete_finishes(bundle: Bundle, mode: str) -> None:
    from moto import mock_aws

    from tests.fakes.sessions import fresh_session

    def attempt(n: int) -> tuple[str | None, int, DbscaleError | None, bool]:
        with mock_aws():
            session = fresh_session(HOME)
            organization = make_organization(session)
            deployment(fresh_session(HOME)).deploy(ous=organization["ous"], regions=REGIONS, bundle=bundle)
            fault = NthCallFault()  # on a session whose clients are made after it
            fault.attach(session.events)
            fault.arm(n, mode)
            error: DbscaleError | None = None
            try:
                deployment(session).delete()
            except DbscaleError as err:
                error = err
            hit, seen = fault.hit, fault.seen
            fault.arm(0)
            deployment(session).delete()
            gone = STACKSETS.sets == {} and all(
                exports_of(a, r) == {} for a in organization["accounts"].values() for r in REGIONS
            )
            return hit, seen, error, gone

    _, total, error, gone = attempt(10**9)
    assert error is None and gone and 6 <= total <= 12, total
    for n in range(1, total + 1):
        hit, _, error, gone = attempt(n)
        assert hit and gone, (n, hit, error)
        if mode == "error":
            assert error is not None and hit in str(error), (n, hit, error)
