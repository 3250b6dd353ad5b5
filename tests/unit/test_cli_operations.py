"""The running long operations of the custom resources (their Step Functions executions) as
``dbscale status`` shows them: ``dbscale.core.operations_view`` on moto, and the command's output.

moto keeps every execution RUNNING here (``mock_aws()`` without ``execute_state_machine``), which is
what a long operation looks like between two checks."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from dbscale.cfn import workflow
from dbscale.cli import errors
from dbscale.core import operations_view as view
from dbscale.core.errors import AwsError, InvalidRequest
from tests.cli_runner import dbscale
from tests.fakes import FailingCalls, fresh_session
from tests.fakes.fleet import create_redshift

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/demo-stack/7a1c6a40-8f3e-11ef-9a46-0a8f2b3c4d5e"
SIGNATURE = "c2VjcmV0LXNpZ25hdHVyZQ"
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation"
    f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={SIGNATURE}"
)


@pytest.fixture
def states() -> Iterator[tuple[boto3.Session, FailingCalls]]:
    """moto (executions stay RUNNING) and a session whose calls ``FailingCalls`` can refuse."""
    with mock_aws():
        session = fresh_session(REGION)
        failing = FailingCalls()
        failing.attach(session.events)
        yield session, failing


def machine(session: boto3.Session, name: str) -> str:
    sfn = session.client("stepfunctions")
    return str(
        sfn.create_state_machine(
            name=name,
            definition=json.dumps(workflow.definition(FUNCTION_ARN)),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/states",
        )["stateMachineArn"]
    )


def start(
    session: boto3.Session,
    machine_arn: str,
    *,
    logical_id: str = "Warehouse",
    request_id: str = "req-1",
    request_type: str = "Update",
    physical_id: str | None = "sales",
    state_physical_id: str | None = None,
    started: float | None = None,
) -> str:
    """Start an execution the way the runtime does: named from the request, the operation document as input."""
    fields = {
        "RequestType": request_type,
        "ResponseURL": RESPONSE_URL,
        "StackId": STACK_ID,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": "Custom::RedshiftCluster",
    }
    state: dict[str, Any] = {"v": 3, "started": time.time() - 600 if started is None else started}
    if state_physical_id:
        state["physical_id"] = state_physical_id
    document = workflow.operation_document(fields, physical_id, {"NumberOfNodes": "8"}, state)
    document["phase"] = "check"
    return str(
        session.client("stepfunctions").start_execution(
            stateMachineArn=machine_arn,
            name=workflow.execution_name(STACK_ID, logical_id, request_id),
            input=json.dumps(document),
        )["executionArn"]
    )


def calls(session: boto3.Session) -> Counter[str]:
    counted: Counter[str] = Counter()
    session.events.register("before-call.states", lambda model, **_: counted.update([model.name]))
    return counted


def test_the_core_knows_the_runtimes_names():
    assert workflow.state_machine_name("f").endswith(view.STATE_MACHINE_SUFFIX)
    assert (view.OPERATION_KEY, view.OPERATION_VERSION) == (workflow.OPERATION_KEY, workflow.OPERATION_VERSION)
    assert view.EXECUTION_NAME.match(workflow.execution_name(STACK_ID, "Warehouse", "a-request-id"))


def test_running_operations_are_found_and_matched_to_their_cluster(states):
    session, _ = states
    provider = machine(session, "demo-provider-operations")
    began = time.time() - 7500
    update = start(session, provider, started=began)
    start(
        session,
        provider,
        logical_id="Lake",
        request_id="req-2",
        request_type="Create",
        physical_id=None,
        state_physical_id="lake",
    )
    start(session, provider, logical_id="Other", request_id="req-3", physical_id="other")
    session.client("stepfunctions").stop_execution(
        executionArn=start(session, provider, logical_id="Gone", request_id="req-4", physical_id="gone")
    )
    # Not dbscale's: a state machine of another name, and one named *-operations whose executions
    # are not named and shaped like dbscale's.
    start(session, machine(session, "billing"), logical_id="X", request_id="req-5", physical_id="sales")
    foreign = machine(session, "team-operations")
    sfn = session.client("stepfunctions")
    sfn.start_execution(stateMachineArn=foreign, name="nightly", input=json.dumps({"physical_id": "sales"}))
    sfn.start_execution(
        stateMachineArn=foreign, name=workflow.execution_name(STACK_ID, "Y", "z"), input='{"state": {}}'
    )

    found = view.running_operations(session)

    assert found.notes == ()
    assert sorted(o.physical_id or "" for o in found.operations) == ["lake", "other", "sales"]
    sales = found.for_cluster(REGION, "SALES")
    assert sales is not None
    assert (sales.request_type, sales.logical_id, sales.stack_name, sales.request_id) == (
        "Update",
        "Warehouse",
        "demo-stack",
        "req-1",
    )
    assert sales.started == pytest.approx(began)
    assert sales.execution_arn == update and sales.state_machine_arn == provider
    assert sales.console_url == (
        f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/{update}"
    )
    lake = found.for_cluster(REGION, "lake")
    assert lake is not None and lake.request_type == "Create"  # state.physical_id: the cluster once known
    assert found.for_cluster("eu-west-1", "sales") is None
    assert [o.logical_id for o in found.others([(REGION, "sales"), (REGION, "lake")])] == ["Other"]
    data = sales.to_dict(began + 7500)
    assert data["age_seconds"] == 7500 and data["console_url"] == sales.console_url
    shown = json.dumps([o.to_dict(time.time()) for o in found.operations]) + repr(found)
    assert SIGNATURE not in shown and "ResponseURL" not in shown and "NumberOfNodes" not in shown


def test_every_page_is_read(states):
    session, _ = states
    machines = [machine(session, f"p{i}-operations") for i in range(3)]
    for i in range(105):
        start(session, machines[0], logical_id=f"R{i}", request_id=f"req-{i}", physical_id=f"c{i}")
    for i in range(12):
        start(session, machines[2], logical_id=f"S{i}", request_id=f"s-{i}", physical_id=f"s{i}")
    counted = calls(session)

    assert len(view.running_operations(session).operations) == 117  # ListExecutions pages of 100
    assert counted["ListExecutions"] == 2 + 1 + 1

    counted.clear()
    small = view.running_operations(session, page_size=5)
    assert {o.physical_id for o in small.operations} == {f"c{i}" for i in range(105)} | {f"s{i}" for i in range(12)}
    assert counted["ListStateMachines"] == 1  # 3 machines
    assert counted["ListExecutions"] >= 21 + 1 + 3
    assert counted["DescribeExecution"] == 117


def test_state_machine_arns_narrow_the_search(states):
    session, _ = states
    first, second = machine(session, "a-operations"), machine(session, "b-operations")
    start(session, first, physical_id="sales")
    start(session, second, logical_id="Lake", request_id="req-2", physical_id="lake")
    counted = calls(session)

    narrowed = view.running_operations(session, state_machine_arns=[second])
    assert [o.physical_id for o in narrowed.operations] == ["lake"] and counted["ListStateMachines"] == 0

    elsewhere = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:c-operations"
    fleet = view.fleet_operations([REGION], sessions=lambda _: session, state_machine_arns=[first, elsewhere, first])
    assert [o.physical_id for o in fleet.operations] == ["sales"]
    assert fleet.notes == (f"state machine {elsewhere} is in eu-west-1, which is not covered (add --region eu-west-1)",)

    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:gone-operations"
    assert view.running_operations(session, state_machine_arns=[missing]).notes == (
        f"state machine {missing} does not exist",
    )
    with pytest.raises(InvalidRequest) as refused:
        view.fleet_operations([REGION], sessions=lambda _: session, state_machine_arns=["f-operations"])
    assert refused.value.field == "state_machine"


def test_missing_permissions_become_notes(states):
    session, failing = states
    provider = machine(session, "demo-provider-operations")
    start(session, provider)

    failing.fail("ListStateMachines", "AccessDeniedException")
    denied = view.running_operations(session)
    assert denied.operations == ()
    assert len(denied.notes) == 1 and "AccessDeniedException on states:ListStateMachines" in denied.notes[0]
    # A named state machine needs no ListStateMachines.
    assert len(view.running_operations(session, state_machine_arns=[provider]).operations) == 1

    failing.fail("DescribeExecution", "AccessDeniedException")
    unread = view.running_operations(session, state_machine_arns=[provider])
    assert unread.operations == ()
    assert "states:DescribeExecution" in unread.notes[0] and "1 running execution(s) not shown" in unread.notes[0]

    failing.fail("ListExecutions", "AccessDeniedException")
    assert "states:ListExecutions" in view.running_operations(session, state_machine_arns=[provider]).notes[0]

    failing.fail("ListStateMachines", "ValidationException")  # anything else is an AWS error
    with pytest.raises(AwsError) as broken:
        view.running_operations(session)
    assert broken.value.code == "ValidationException"


@pytest.mark.parametrize(
    ("partition", "region", "host"),
    [
        ("aws", "eu-west-1", "eu-west-1.console.aws.amazon.com"),
        ("aws-cn", "cn-north-1", "console.amazonaws.cn"),
        ("aws-us-gov", "us-gov-west-1", "console.amazonaws-us-gov.com"),
    ],
)
def test_console_links_per_partition(partition, region, host):
    arn = f"arn:{partition}:states:{region}:{ACCOUNT}:execution:f-operations:abc"
    assert view.console_url(arn) == f"https://{host}/states/home?region={region}#/v2/executions/details/{arn}"


def test_no_console_link_without_a_known_console():
    assert view.console_url(f"arn:aws-iso:states:us-iso-east-1:{ACCOUNT}:execution:f-operations:abc") is None
    assert view.console_url("not an arn") is None
    assert view.stack_name("nonsense") is None


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def fleet(states, monkeypatch, tmp_path):
    session, failing = states
    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DBSCALE_CACHE_DIR", str(tmp_path / "cache"))
    redshift = session.client("redshift")
    create_redshift(redshift, "sales", "ra3.xlplus", 4)
    create_redshift(redshift, "legacy", "dc2.large", 2, managed=False)
    from dbscale.cli.output import console

    monkeypatch.setattr(console, "_width", 160)  # the console was sized when first imported
    return session, failing


def test_status_shows_the_running_operation_and_its_console_link(fleet, capsys):
    session, _ = fleet
    provider = machine(session, "demo-provider-operations")
    execution = start(session, provider, started=time.time() - 7500)
    start(session, provider, logical_id="Bootstrap", request_id="req-9", physical_id="sales/app")
    link = f"https://{REGION}.console.aws.amazon.com/states/home?region={REGION}#/v2/executions/details/{execution}"

    code, out, _ = dbscale(capsys, "status")
    assert code == errors.OK
    assert "Update Warehouse (stack demo-stack), started 2h05m ago" in out.replace("\n", "")
    assert f"  sales: Update Warehouse (stack demo-stack), started 2h05m ago: {link}\n" in out  # never wrapped
    assert "  sales/app: Update Bootstrap (stack demo-stack)" in out  # on no cluster shown
    assert SIGNATURE not in out and "note:" not in out

    code, out, _ = dbscale(capsys, "status", "--json", "--state-machine", provider)
    assert code == errors.OK
    shown = json.loads(out)
    clusters = {c["name"]: c["long_operation"] for c in shown["clusters"]}
    assert clusters["legacy"] is None
    assert clusters["sales"]["console_url"] == link
    assert (clusters["sales"]["request_type"], clusters["sales"]["logical_id"]) == ("Update", "Warehouse")
    assert clusters["sales"]["stack_name"] == "demo-stack" and 7490 <= clusters["sales"]["age_seconds"] <= 7600
    assert [o["physical_id"] for o in shown["long_operations"]["other"]] == ["sales/app"]
    assert shown["long_operations"]["notes"] == [] and SIGNATURE not in out


def test_status_goes_on_without_permission_to_list_state_machines(fleet, capsys, monkeypatch):
    session, failing = fleet
    start(session, machine(session, "demo-provider-operations"))
    failing.fail("ListStateMachines", "AccessDeniedException")
    monkeypatch.setattr("dbscale.cli.clusters.session", lambda region: session)

    code, out, _ = dbscale(capsys, "status")
    assert code == errors.OK
    assert "sales" in out and "legacy" in out
    assert "note: long operations could not be listed in us-east-1 (AccessDeniedException" in out
    code, out, _ = dbscale(capsys, "status", "--json")
    assert code == errors.OK and "states:ListStateMachines" in json.loads(out)["long_operations"]["notes"][0]


def test_status_refuses_a_state_machine_that_is_no_arn(fleet, capsys):
    code, _, err = dbscale(capsys, "status", "--state-machine", "demo-provider-operations")
    assert code == errors.INVALID and "not a Step Functions state machine ARN" in err and "--state-machine" in err
