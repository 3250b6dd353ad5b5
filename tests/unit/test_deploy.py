"""``dbscale.deploy``: the bundle, the rendered template and the stack's life, on moto (no CDK here).

The template itself is compared with a fresh synth of the construct in
``tests/constructs/test_providers_stack.py``.
"""

from __future__ import annotations

import json
import string
import zipfile
from io import BytesIO
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dbscale.core.errors import DbscaleError, InvalidRequest, InvalidState, OperationFailed, OperationTimeout
from dbscale.core.guardrails import GUARDRAILS_ENV, Guardrails
from dbscale.deploy import EXPORT_NAMES, ProvidersDeployment, build_bundle, render_template
from dbscale.deploy.bundle import Bundle
from dbscale.deploy.template import PREFIX_PLACEHOLDER, prefix_problem
from tests.fakes import FakeClock, NthCallFault

REGION = "us-east-1"
# moto has no CloudFormation model for it and skips it (the retry setting is not what is tested here).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..Lambda..EventInvokeConfig")


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return build_bundle()


def _functions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


# --- the bundle ----------------------------------------------------------------------------------


def test_the_bundle_is_reproducible_and_holds_only_what_the_handlers_import(bundle: Bundle) -> None:
    again = build_bundle()
    assert again.data == bundle.data and again.sha256 == bundle.sha256
    names = zipfile.ZipFile(BytesIO(bundle.data)).namelist()
    assert names == sorted(names) and len(names) == bundle.file_count
    assert "dbscale/handlers/redshift_cluster.py" in names and "dbscale/handlers/database_bootstrap.py" in names
    assert "tzdata/zoneinfo/Europe/Berlin" in names
    banned = ("dbscale/cli/", "dbscale/constructs/", "dbscale/deploy/", "crhelper/", "aws_cdk/", "boto3/", "botocore/")
    assert not [n for n in names if n.startswith(banned)]
    assert not [n for n in names if n.startswith("dbscale/") and not n.endswith(".py")]
    infos = zipfile.ZipFile(BytesIO(bundle.data)).infolist()
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert bundle.s3_key == f"dbscale-providers/{bundle.sha256[:32]}.zip"


# --- the template --------------------------------------------------------------------------------

valid_prefixes = st.one_of(
    st.just(""),
    st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(string.ascii_lowercase),
        st.text(string.ascii_lowercase + string.digits + "-", max_size=20),
    ).filter(lambda p: "--" not in p),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=valid_prefixes, tls=st.booleans(), public=st.booleans(), unencrypted=st.booleans())
@example(prefix="", tls=False, public=False, unencrypted=False)
@example(prefix="dbscale-", tls=True, public=True, unencrypted=True)
def test_render_puts_the_prefix_everywhere_and_the_guardrails_in_every_function(
    prefix: str, tls: bool, public: bool, unencrypted: bool
) -> None:
    policy = Guardrails(
        allow_tls_off=tls,
        allow_public_access=public,
        allow_unencrypted=unencrypted,
        adopt_prefixes=(f"{prefix}legacy-",) if tls else (),
    )
    template = render_template(prefix=prefix, guardrails=policy)
    texts = _strings(template)
    assert not [t for t in texts if PREFIX_PLACEHOLDER in t]
    functions = _functions(template)
    assert len(functions) == 4
    for function in functions:
        assert json.loads(function["Environment"]["Variables"][GUARDRAILS_ENV]) == json.loads(policy.to_json())
        assert function["Code"] == {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}}
    # Every grant that may change a cluster is scoped to the prefix (reads may see every cluster:
    # counting a source's clones describes them all).
    changing = [
        resource
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if not all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in _actions(statement))
        for resource in _strings(statement["Resource"])
        if ":cluster:" in resource
    ]
    assert changing and all(r.endswith(f":cluster:{prefix}*") for r in changing)
    # Secrets: RDS-managed master secrets only when tagged with a cluster under the prefix;
    # Redshift's and users' by name under the prefix.
    secret_statements = [
        statement
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in _actions(statement)
    ]
    assert secret_statements
    for statement in secret_statements:
        for resource in _strings(statement["Resource"]):
            if resource.endswith(":secret:rds!cluster-*"):
                tag = statement["Condition"]["StringLike"]["secretsmanager:ResourceTag/aws:rds:primaryDBClusterArn"]
                assert _strings(tag)[-1].endswith(f":cluster:{prefix}*")
            elif ":secret:" in resource:
                assert resource.endswith((f":secret:{prefix}*", f":secret:redshift!{prefix}*")), resource
    outputs = template["Outputs"]
    assert sorted(o["Export"]["Name"] for o in outputs.values()) == sorted(EXPORT_NAMES.values())


invalid_prefixes = st.one_of(
    st.text(min_size=1, max_size=60).filter(lambda p: prefix_problem(p) is not None),
    st.sampled_from(["Dbscale-", "1abc-", "-abc", "a--b", "a_b", "abc!", "ä-", "a" * 56]),
)


@settings(max_examples=60, deadline=None)
@given(prefix=invalid_prefixes)
def test_a_prefix_no_identifier_can_start_with_is_refused_naming_the_option(prefix: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^--prefix ") as raised:
        render_template(prefix=prefix)
    assert raised.value.field == "prefix"


def test_adopting_outside_the_prefix_is_refused_before_it_meets_iam() -> None:
    with pytest.raises(InvalidRequest, match="outside --prefix 'dbscale-'"):
        render_template(prefix="dbscale-", guardrails=Guardrails(adopt_prefixes=("legacy-",)))
    render_template(prefix="", guardrails=Guardrails(adopt_prefixes=("legacy-",)))  # any cluster: fine


def test_a_packaged_template_points_at_the_code_and_has_no_parameters() -> None:
    template = render_template(code=("my-bucket", "dbscale-providers/abc.zip"))
    assert "Parameters" not in template
    assert {json.dumps(f["Code"]) for f in _functions(template)} == {
        json.dumps({"S3Bucket": "my-bucket", "S3Key": "dbscale-providers/abc.zip"})
    }


# --- the stack on moto ---------------------------------------------------------------------------


@pytest.fixture
def deployment(boto_session: boto3.Session) -> ProvidersDeployment:
    return ProvidersDeployment(boto_session, clock=FakeClock(), poll_seconds=1.0)


def _exports() -> dict[str, str]:
    return {e["Name"]: e["Value"] for e in boto3.client("cloudformation", REGION).list_exports()["Exports"]}


def test_deploy_makes_a_private_encrypted_tls_only_bucket_and_exports_every_service_token(
    deployment: ProvidersDeployment, bundle: Bundle
) -> None:
    events: list[Any] = []
    result = deployment.deploy(bundle=bundle, on_event=events.append)
    assert result.status == "CREATE_COMPLETE" and result.changed and result.executed
    assert set(result.exports) == set(EXPORT_NAMES.values()) == set(_exports())
    functions = {f["FunctionArn"] for f in boto3.client("lambda", REGION).list_functions()["Functions"]}
    assert set(result.exports.values()) == functions
    assert any(e.resource_type == "AWS::Lambda::Function" for e in events)
    s3 = boto3.client("s3", REGION)
    bucket = deployment.default_bucket()
    assert result.bucket == bucket == f"dbscale-providers-123456789012-{REGION}"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert s3.head_object(Bucket=bucket, Key=bundle.s3_key)["ContentLength"] == len(bundle.data)


def test_a_second_deploy_changes_nothing_and_uploads_nothing(
    deployment: ProvidersDeployment, bundle: Bundle, aws_calls: Any
) -> None:
    deployment.deploy(bundle=bundle)
    before = len(aws_calls.calls)
    again = deployment.deploy(bundle=bundle)
    calls = [c.operation for c in aws_calls.calls[before:]]
    assert not again.changed and not again.executed
    assert again.notes == ["no changes: the stack already matches"]
    assert set(again.exports) == set(EXPORT_NAMES.values())
    assert "PutObject" not in calls and "ExecuteChangeSet" not in calls
    assert not {"PutBucketPolicy", "PutBucketTagging", "CreateBucket"} & set(calls)  # the bucket is left as it is
    cfn = boto3.client("cloudformation", REGION)
    left = cfn.list_change_sets(StackName="dbscale-providers")["Summaries"]
    assert [c["ExecutionStatus"] for c in left] == ["EXECUTE_COMPLETE"]  # the empty one was deleted
    # Every S3 call names the owner the bucket must have (CreateBucket has no such parameter).
    s3_calls = [c for c in aws_calls.calls if c.service == "s3" and c.operation != "CreateBucket"]
    assert s3_calls and all(c.params.get("ExpectedBucketOwner") == "123456789012" for c in s3_calls)


def test_a_new_prefix_updates_the_grants_in_place(deployment: ProvidersDeployment, bundle: Bundle) -> None:
    first = deployment.deploy(bundle=bundle)
    second = deployment.deploy(bundle=bundle, prefix="team-a-", guardrails=Guardrails(allow_tls_off=True))
    assert second.status == "UPDATE_COMPLETE" and second.exports == first.exports
    assert {c.action for c in second.changes} == {"Modify"}
    lam = boto3.client("lambda", REGION)
    for arn in second.exports.values():
        variables = lam.get_function_configuration(FunctionName=arn)["Environment"]["Variables"]
        assert json.loads(variables[GUARDRAILS_ENV])["allow_tls_off"] is True


def test_no_execute_leaves_a_change_set_to_review(deployment: ProvidersDeployment, bundle: Bundle) -> None:
    result = deployment.deploy(bundle=bundle, execute=False)
    assert result.changed and not result.executed and result.status == "REVIEW"
    assert "execute-change-set" in result.notes[0]
    assert _exports() == {}
    # Deploying again (executing this time) works from the stack under review.
    assert deployment.deploy(bundle=bundle).status == "CREATE_COMPLETE"


def test_bad_input_is_refused_before_any_aws_call(deployment: ProvidersDeployment, aws_calls: Any) -> None:
    with pytest.raises(InvalidRequest, match="--prefix"):
        deployment.deploy(prefix="Team_A")
    with pytest.raises(InvalidRequest, match="--guardrails"):
        deployment.deploy(guardrails=Guardrails(adopt_prefixes=("other-",)))
    assert aws_calls.calls == []


def test_a_given_bucket_must_exist_and_is_not_changed(deployment: ProvidersDeployment, bundle: Bundle) -> None:
    with pytest.raises(InvalidRequest, match="--bucket 'nope-bucket' does not exist"):
        deployment.deploy(bundle=bundle, bucket="nope-bucket")
    s3 = boto3.client("s3", REGION)
    s3.create_bucket(Bucket="team-artifacts")
    result = deployment.deploy(bundle=bundle, bucket="team-artifacts")
    assert result.bucket == "team-artifacts" and result.status == "CREATE_COMPLETE"
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket="team-artifacts")


def test_a_bucket_in_another_region_is_refused_before_the_change_set(
    deployment: ProvidersDeployment, bundle: Bundle, aws_calls: Any
) -> None:
    s3 = boto3.client("s3", REGION)
    s3.create_bucket(Bucket="team-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(InvalidRequest, match="'team-eu' is in eu-west-1, the stack in us-east-1"):
        deployment.deploy(bundle=bundle, bucket="team-eu")
    assert aws_calls.count("CreateChangeSet") == 0 and aws_calls.count("PutObject") == 0


def test_statements_and_tags_added_to_the_code_bucket_are_kept(deployment: ProvidersDeployment, bundle: Bundle) -> None:
    deployment.deploy(bundle=bundle)
    s3 = boto3.client("s3", REGION)
    bucket = deployment.default_bucket()
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    policy["Statement"].append(
        {
            "Sid": "OrgAudit",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"] + [{"Key": "cost-centre", "Value": "data"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    deployment.deploy(bundle=bundle, prefix="team-c-")
    assert [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]] == [
        "TlsOnly",
        "OrgAudit",
    ]
    assert {"Key": "cost-centre", "Value": "data"} in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]


def test_exports_held_by_another_stack_are_refused_before_the_change_set(
    boto_session: boto3.Session, bundle: Bundle, aws_calls: Any
) -> None:
    ProvidersDeployment(boto_session, clock=FakeClock()).deploy(bundle=bundle)
    other = ProvidersDeployment(boto_session, stack_name="dbscale-providers-2", clock=FakeClock())
    before = aws_calls.count("CreateChangeSet")
    with pytest.raises(InvalidState, match=r"export dbscale-.*ServiceToken is held by stack dbscale-providers:"):
        other.deploy(bundle=bundle)
    assert aws_calls.count("CreateChangeSet") == before


def test_a_stack_not_made_by_dbscale_is_left_alone(deployment: ProvidersDeployment, bundle: Bundle) -> None:
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(
        StackName="dbscale-providers",
        TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}),
    )
    with pytest.raises(InvalidState, match="not made by dbscale providers deploy"):
        deployment.deploy(bundle=bundle)
    with pytest.raises(InvalidState, match="not made by dbscale providers deploy"):
        deployment.delete()


def _set_status(status: str) -> None:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends["123456789012"][REGION]
    for stack in backend.stacks.values():
        stack.status = status


@pytest.mark.parametrize("status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"])
def test_a_busy_or_stuck_stack_is_refused_with_what_to_do(
    deployment: ProvidersDeployment, bundle: Bundle, status: str
) -> None:
    deployment.deploy(bundle=bundle)
    _set_status(status)
    with pytest.raises(InvalidState, match=status):
        deployment.deploy(bundle=bundle)


def test_a_stack_whose_create_failed_is_deleted_and_made_again(deployment: ProvidersDeployment, bundle: Bundle) -> None:
    deployment.deploy(bundle=bundle)
    _set_status("ROLLBACK_COMPLETE")
    steps: list[str] = []
    result = deployment.deploy(bundle=bundle, on_step=steps.append)
    assert any("deleting it first" in s for s in steps)
    assert result.status == "CREATE_COMPLETE" and set(result.exports) == set(EXPORT_NAMES.values())


def test_a_rollback_names_the_resource_that_failed(
    deployment: ProvidersDeployment, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.cloudformation.models import CloudFormationBackend, Event

    deployment.deploy(bundle=bundle)
    original = CloudFormationBackend.execute_change_set

    def failing(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        stack = next(iter(self.stacks.values()))
        for status, reason in (
            ("UPDATE_FAILED", "Resource handler returned message: Rate exceeded"),
            ("UPDATE_ROLLBACK_COMPLETE", None),
        ):
            stack.events.append(
                Event(
                    stack.stack_id,
                    stack.name,
                    "RedshiftClusterProviderHandlerC78177FB" if reason else stack.name,
                    "x",
                    "AWS::Lambda::Function" if reason else "AWS::CloudFormation::Stack",
                    status,
                    reason,
                    None,
                )
            )
        stack.status = "UPDATE_ROLLBACK_COMPLETE"

    monkeypatch.setattr(CloudFormationBackend, "execute_change_set", failing)
    expected = r"UPDATE_ROLLBACK_COMPLETE: RedshiftClusterProviderHandlerC78177FB .*Rate"
    with pytest.raises(OperationFailed, match=expected):
        deployment.deploy(bundle=bundle, prefix="team-b-")


def test_watching_stops_at_the_timeout_and_says_cloudformation_goes_on(
    deployment: ProvidersDeployment, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def stays_in_progress(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        next(iter(self.stacks.values())).status = "CREATE_IN_PROGRESS"

    monkeypatch.setattr(CloudFormationBackend, "execute_change_set", stays_in_progress)
    with pytest.raises(OperationTimeout, match="still CREATE_IN_PROGRESS after 60 s; CloudFormation goes on"):
        deployment.deploy(bundle=bundle, timeout_seconds=60)


def test_delete_removes_the_stack_and_its_exports_and_is_refused_while_they_are_imported(
    deployment: ProvidersDeployment, bundle: Bundle
) -> None:
    deployment.deploy(bundle=bundle)
    cfn = boto3.client("cloudformation", REGION)
    user = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"T": {"Value": {"Fn::ImportValue": "dbscale-RedshiftClusterServiceToken"}}},
    }
    cfn.create_stack(StackName="warehouse", TemplateBody=json.dumps(user))
    with pytest.raises(InvalidState, match=r"dbscale-RedshiftClusterServiceToken \(imported by warehouse\)"):
        deployment.delete()
    cfn.delete_stack(StackName="warehouse")
    result = deployment.delete()
    assert result.deleted and any("log groups" in k for k in result.kept)
    assert _exports() == {}
    assert not deployment.delete().deleted  # nothing left: a no-op


def test_a_delete_cloudformation_refuses_later_fails_with_its_reason_not_a_timeout(
    deployment: ProvidersDeployment, bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack that starts importing an export after the check (a race): AWS accepts the delete,
    then leaves the stack as it was with the reason in StackStatusReason."""
    deployment.deploy(bundle=bundle)
    cfn = boto3.client("cloudformation", REGION)
    user = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"T": {"Value": {"Fn::ImportValue": "dbscale-AuroraClusterServiceToken"}}},
    }
    cfn.create_stack(StackName="orders", TemplateBody=json.dumps(user))
    monkeypatch.setattr("dbscale.deploy.stack.importers", lambda cfn, stack: {})
    with pytest.raises(OperationFailed, match=r"ended CREATE_COMPLETE: .*in use by orders"):
        deployment.delete(timeout_seconds=60)
    assert set(_exports()) == set(EXPORT_NAMES.values())


def test_a_stack_under_review_without_tags_is_recognised_by_its_change_set(
    deployment: ProvidersDeployment, bundle: Bundle
) -> None:
    from moto.cloudformation.models import cloudformation_backends

    deployment.deploy(bundle=bundle, execute=False)
    for stack in cloudformation_backends["123456789012"][REGION].stacks.values():
        stack.tags = {}  # as AWS may show a stack that only holds a change set
    assert deployment.deploy(bundle=bundle).status == "CREATE_COMPLETE"


def _changes(operation: str) -> bool:
    return not operation.startswith(("Describe", "List", "Get", "Head"))


@pytest.mark.parametrize("mode", ["error", "lost"])
def test_a_fault_at_any_call_is_named_and_a_second_deploy_finishes(
    bundle: Bundle, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Every request of a first deploy, failed in turn (an AccessDenied before AWS acts, or the
    answer lost after AWS acted): the error names the call, and running deploy again ends with the
    stack and its exports, whatever the first one left behind."""
    import botocore.endpoint
    from moto import mock_aws

    from tests.fakes import BackoffOnClock
    from tests.fakes.sessions import fresh_session

    clock = FakeClock()
    monkeypatch.setattr(botocore.endpoint, "time", BackoffOnClock(clock))

    def attempt(n: int) -> tuple[str | None, int, list[str], DbscaleError | None, dict[str, str]]:
        """Deploy with request ``n`` failed, then deploy again: (the call hit, the requests of the
        first deploy, their operations, its error, the exports after the second)."""
        with mock_aws():
            session = fresh_session(REGION)
            fault = NthCallFault()
            fault.attach(session.events)
            operations: list[str] = []
            session.events.register_first(
                "before-send", lambda event_name="", **_: operations.append(event_name.rsplit(".", 1)[-1])
            )
            fault.arm(n, mode)
            error: DbscaleError | None = None
            try:
                ProvidersDeployment(session, clock=clock, poll_seconds=1.0).deploy(bundle=bundle)
            except DbscaleError as err:
                error = err
            hit, seen, first = fault.hit, fault.seen, list(operations)
            fault.arm(0)
            finished = ProvidersDeployment(session, clock=clock, poll_seconds=1.0).deploy(bundle=bundle)
            return hit, seen, first, error, finished.exports

    _, total, operations, error, _ = attempt(10**9)
    assert error is None and 15 <= total <= 40 and len(operations) == total, total
    assert sum(1 for op in operations if _changes(op)) >= 8  # the sweep covers every change call
    for n in range(1, total + 1):
        hit, _, _, error, exports = attempt(n)
        assert hit, n
        if mode == "error":
            assert error is not None, (n, hit)
            assert hit in str(error), (n, hit, str(error))
        assert set(exports) == set(EXPORT_NAMES.values()), (n, hit, error)
