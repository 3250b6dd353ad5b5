"""The fake AWS layer itself: moto shims, slow transitions, faults, recorder, clock."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.rds.models import DBCluster, RDSBackend
from moto.redshift.models import RedshiftBackend

from tests.fakes import (
    AURORA_CLUSTER,
    REDSHIFT_CLUSTER,
    AwsCallRecorder,
    FakeClock,
    LostResponses,
    Patcher,
    ShimObsolete,
    SlowAws,
    ThrottleInjector,
)
from tests.fakes.moto_shims import _require_absent


def redshift_cluster(session: boto3.Session, name: str = "fake", nodes: int = 2, **kw: Any) -> dict[str, Any]:
    return session.client("redshift").create_cluster(  # type: ignore[no-any-return]
        ClusterIdentifier=name,
        NodeType="ra3.xlplus",
        NumberOfNodes=nodes,
        MasterUsername="admin",
        **({"ManageMasterPassword": True} | kw),
    )["Cluster"]


def status(session: boto3.Session, name: str = "fake") -> str:
    return str(session.client("redshift").describe_clusters(ClusterIdentifier=name)["Clusters"][0]["ClusterStatus"])


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


# --- clock ------------------------------------------------------------------------------------


def test_the_fake_clock_advances_only_when_asked() -> None:
    clock = FakeClock()
    assert clock.utc().isoformat() == "2025-01-15T12:00:00+00:00"
    clock.sleep(15)
    clock.sleep(-3)  # treated as no wait, like time.sleep(max(0, s)) in SystemClock
    clock.advance(100)
    assert clock.elapsed == 115 and clock.sleeps == [15.0, 0.0] and clock.slept == 15
    with pytest.raises(ValueError):
        clock.advance(-1)


# --- moto shims (plain moto, instant) -----------------------------------------------------------


def test_describe_resize_of_a_never_resized_cluster_is_resize_not_found_404(boto_session: boto3.Session) -> None:
    redshift_cluster(boto_session)
    with pytest.raises(ClientError) as err:
        boto_session.client("redshift").describe_resize(ClusterIdentifier="fake")
    assert code(err) == ("ResizeNotFound", 404)
    with pytest.raises(ClientError) as err:
        boto_session.client("redshift").describe_resize(ClusterIdentifier="missing")
    assert code(err) == ("ClusterNotFound", 404)


def test_resize_cluster_is_instant_in_plain_moto(boto_session: boto3.Session) -> None:
    redshift_cluster(boto_session)
    client = boto_session.client("redshift")
    cluster = client.resize_cluster(ClusterIdentifier="fake", NodeType="ra3.4xlarge", NumberOfNodes=4, Classic=True)[
        "Cluster"
    ]
    assert (cluster["NodeType"], cluster["NumberOfNodes"]) == ("ra3.4xlarge", 4)
    assert cluster["ResizeInfo"] == {"ResizeType": "ClassicResize", "AllowCancelResize": True}
    resize = client.describe_resize(ClusterIdentifier="fake")
    assert {k: resize[k] for k in ("Status", "ResizeType", "TargetNodeType", "TargetNumberOfNodes")} == {
        "Status": "SUCCEEDED",
        "ResizeType": "ClassicResize",
        "TargetNodeType": "ra3.4xlarge",
        "TargetNumberOfNodes": 4,
    }
    client.resize_cluster(ClusterIdentifier="fake", NumberOfNodes=8)  # Classic omitted: elastic
    assert client.describe_resize(ClusterIdentifier="fake")["ResizeType"] == "ElasticResize"


def test_a_paused_cluster_cannot_be_resized(boto_session: boto3.Session) -> None:
    redshift_cluster(boto_session)
    client = boto_session.client("redshift")
    client.pause_cluster(ClusterIdentifier="fake")
    with pytest.raises(ClientError) as err:
        client.resize_cluster(ClusterIdentifier="fake", NumberOfNodes=4)
    assert code(err) == ("InvalidClusterState", 400)


def test_a_managed_master_password_is_a_real_secret_deleted_with_the_cluster(boto_session: boto3.Session) -> None:
    arn = redshift_cluster(boto_session)["MasterPasswordSecretArn"]
    client = boto_session.client("redshift")
    assert client.describe_clusters(ClusterIdentifier="fake")["Clusters"][0]["MasterPasswordSecretArn"] == arn
    secrets = boto_session.client("secretsmanager")
    assert json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])["username"] == "admin"

    assert "MasterPasswordSecretArn" not in redshift_cluster(
        boto_session, "plain", ManageMasterPassword=False, MasterUserPassword="Passw0rd!"
    )
    with pytest.raises(ClientError) as err:
        redshift_cluster(boto_session, "both", MasterUserPassword="Passw0rd!")
    assert code(err) == ("InvalidParameterCombination", 400)

    client.delete_cluster(ClusterIdentifier="fake", SkipFinalClusterSnapshot=True)
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.describe_secret(SecretId=arn)


def test_delete_cluster_takes_the_final_snapshot_when_skip_is_not_sent(boto_session: boto3.Session) -> None:
    redshift_cluster(boto_session)
    client = boto_session.client("redshift")
    client.delete_cluster(ClusterIdentifier="fake", FinalClusterSnapshotIdentifier="fake-last")
    assert client.describe_cluster_snapshots(SnapshotIdentifier="fake-last")["Snapshots"]


def test_rds_refuses_a_second_cluster_of_the_same_name(boto_session: boto3.Session) -> None:
    rds = boto_session.client("rds")
    args = {"DBClusterIdentifier": "dup", "Engine": "aurora-postgresql", "MasterUsername": "postgres"}
    rds.create_db_cluster(**args, ManageMasterUserPassword=True)
    with pytest.raises(ClientError) as err:
        rds.create_db_cluster(**args, ManageMasterUserPassword=True)
    assert code(err) == ("DBClusterAlreadyExistsFault", 400)


def test_a_managed_password_cluster_can_be_restored_from_a_snapshot(boto_session: boto3.Session) -> None:
    rds = boto_session.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="src", Engine="aurora-postgresql", MasterUsername="postgres", ManageMasterUserPassword=True
    )
    rds.create_db_cluster_snapshot(DBClusterIdentifier="src", DBClusterSnapshotIdentifier="src-snap")
    restored = rds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="copy", SnapshotIdentifier="src-snap", Engine="aurora-postgresql"
    )["DBCluster"]
    source = rds.describe_db_clusters(DBClusterIdentifier="src")["DBClusters"][0]
    assert restored["DBClusterIdentifier"] == "copy"
    assert restored["MasterUserSecret"]["SecretArn"] != source["MasterUserSecret"]["SecretArn"]


def test_a_shim_refuses_to_install_over_what_moto_implements() -> None:
    class Backend:
        def resize_cluster(self) -> None: ...

    with pytest.raises(ShimObsolete, match="delete the shim"):
        _require_absent(Backend, "resize_cluster")


# --- slow transitions ---------------------------------------------------------------------------


def test_redshift_states_follow_the_transition_table_on_the_fake_clock(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    client = boto_session.client("redshift")
    assert redshift_cluster(boto_session)["ClusterStatus"] == "creating"
    fake_clock.advance(REDSHIFT_CLUSTER["create"].seconds - 1)
    assert status(boto_session) == "creating"
    fake_clock.advance(1)
    assert status(boto_session) == "available"

    client.resize_cluster(ClusterIdentifier="fake", NumberOfNodes=4, Classic=True)
    fake_clock.advance(REDSHIFT_CLUSTER["classic_resize"].seconds - 1)
    cluster = client.describe_clusters(ClusterIdentifier="fake")["Clusters"][0]
    assert (cluster["ClusterStatus"], cluster["NumberOfNodes"]) == ("resizing", 2)
    assert client.describe_resize(ClusterIdentifier="fake")["Status"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as err:
        client.pause_cluster(ClusterIdentifier="fake")
    assert code(err) == ("InvalidClusterState", 400)
    fake_clock.advance(1)
    cluster = client.describe_clusters(ClusterIdentifier="fake")["Clusters"][0]
    assert (cluster["ClusterStatus"], cluster["NumberOfNodes"]) == ("available", 4)
    assert client.describe_resize(ClusterIdentifier="fake")["Status"] == "SUCCEEDED"

    client.pause_cluster(ClusterIdentifier="fake")
    assert status(boto_session) == "pausing"
    with pytest.raises(ClientError) as err:
        client.resume_cluster(ClusterIdentifier="fake")  # AWS: not until the pause completes
    assert code(err) == ("InvalidClusterState", 400)
    slow_aws.finish_all()
    assert status(boto_session) == "paused"

    client.delete_cluster(ClusterIdentifier="fake", FinalClusterSnapshotIdentifier="fake-last")
    assert status(boto_session) == "final-snapshot"
    fake_clock.advance(REDSHIFT_CLUSTER["final_snapshot"].seconds)
    assert status(boto_session) == "deleting"
    slow_aws.finish_all()
    with pytest.raises(client.exceptions.ClusterNotFoundFault):
        client.describe_clusters(ClusterIdentifier="fake")
    assert client.describe_cluster_snapshots(SnapshotIdentifier="fake-last")["Snapshots"]
    assert [state for _, state in slow_aws.history("fake")] == [
        "creating", "available", "resizing", "available", "pausing", "paused",
        "final-snapshot", "deleting", "<gone>",
    ]  # fmt: skip


def test_durations_can_be_changed_per_test(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    slow_aws.set_duration("redshift", "create", 5)
    redshift_cluster(boto_session)
    fake_clock.advance(5)
    assert status(boto_session) == "available"
    assert REDSHIFT_CLUSTER["create"].seconds > 5  # the module table is untouched


def test_aurora_failover_switches_the_writer_only_when_it_completes(
    slow_aws: SlowAws, fake_clock: FakeClock, boto_session: boto3.Session
) -> None:
    rds = boto_session.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="au", Engine="aurora-postgresql", MasterUsername="postgres", ManageMasterUserPassword=True
    )
    for name, tier in (("au-1", 0), ("au-2", 1)):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="au",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            PromotionTier=tier,
        )
    fake_clock.advance(AURORA_CLUSTER["create"].seconds)  # the cluster is available, its instances are not
    assert rds.describe_db_instances(DBInstanceIdentifier="au-2")["DBInstances"][0]["DBInstanceStatus"] == "creating"
    with pytest.raises(ClientError) as err:
        rds.failover_db_cluster(DBClusterIdentifier="au", TargetDBInstanceIdentifier="au-2")
    assert code(err)[0] == "InvalidDBInstanceState"  # the target is still creating
    slow_aws.finish_all()

    def writer() -> str:
        members = rds.describe_db_clusters(DBClusterIdentifier="au")["DBClusters"][0]["DBClusterMembers"]
        (name,) = [m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]]
        return name

    rds.failover_db_cluster(DBClusterIdentifier="au", TargetDBInstanceIdentifier="au-2")
    assert rds.describe_db_clusters(DBClusterIdentifier="au")["DBClusters"][0]["Status"] == "failing-over"
    assert writer() == "au-1"
    slow_aws.finish_all()
    assert writer() == "au-2"

    rds.modify_db_instance(DBInstanceIdentifier="au-1", DBInstanceClass="db.r6g.xlarge", ApplyImmediately=True)
    instance = rds.describe_db_instances(DBInstanceIdentifier="au-1")["DBInstances"][0]
    assert (instance["DBInstanceStatus"], instance["DBInstanceClass"]) == ("modifying", "db.r6g.large")
    assert instance["PendingModifiedValues"] == {"DBInstanceClass": "db.r6g.xlarge"}
    slow_aws.finish_all()
    instance = rds.describe_db_instances(DBInstanceIdentifier="au-1")["DBInstances"][0]
    assert (instance["DBInstanceStatus"], instance["DBInstanceClass"]) == ("available", "db.r6g.xlarge")
    assert "PendingModifiedValues" not in instance

    rds.stop_db_cluster(DBClusterIdentifier="au")
    slow_aws.finish_all()
    with pytest.raises(ClientError) as err:
        rds.delete_db_instance(DBInstanceIdentifier="au-1")  # AWS: start a stopped cluster first
    assert code(err)[0] == "InvalidDBClusterStateFault"
    rds.start_db_cluster(DBClusterIdentifier="au")
    slow_aws.finish_all()
    rds.delete_db_instance(DBInstanceIdentifier="au-1")
    assert rds.describe_db_instances(DBInstanceIdentifier="au-1")["DBInstances"][0]["DBInstanceStatus"] == "deleting"
    slow_aws.finish_all()
    assert [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]] == ["au-2"]


def test_uninstall_puts_moto_back(aws: None, fake_clock: FakeClock) -> None:
    before = {name: vars(RedshiftBackend)[name] for name in ("create_cluster", "describe_clusters", "resize_cluster")}
    status_property = vars(DBCluster)["status"]
    rds_create = vars(RDSBackend)["create_db_cluster"]
    with SlowAws(fake_clock):
        assert vars(RedshiftBackend)["create_cluster"] is not before["create_cluster"]
    assert {name: vars(RedshiftBackend)[name] for name in before} == before
    assert vars(DBCluster)["status"] is status_property
    assert vars(RDSBackend)["create_db_cluster"] is rds_create


def test_the_patcher_restores_inherited_and_own_attributes() -> None:
    class Base:
        def greet(self) -> str:
            return "base"

    class Child(Base):
        level = 1

    patcher = Patcher()
    patcher.set(Child, "greet", lambda self: "patched")
    patcher.set(Child, "level", 2)
    assert (Child().greet(), Child.level) == ("patched", 2)
    patcher.restore()
    assert (Child().greet(), Child.level) == ("base", 1)
    assert "greet" not in vars(Child)


# --- faults and the recorder --------------------------------------------------------------------


def test_throttling_is_retried_by_botocore_and_counted_once(
    throttle: ThrottleInjector, boto_session: boto3.Session, aws_calls: AwsCallRecorder, fake_clock: FakeClock
) -> None:
    throttle.rate = 0.5
    client = boto_session.client("redshift", config=Config(retries={"mode": "standard", "max_attempts": 10}))
    for _ in range(20):
        client.describe_clusters()
    assert aws_calls.count("DescribeClusters") == 20
    assert throttle.injected > 0 and throttle.attempts == 20 + throttle.injected
    assert fake_clock.elapsed > 0  # backoff advanced the simulated clock, not the real one


def test_throttling_of_a_json_service_is_a_throttling_exception(
    throttle: ThrottleInjector, boto_session: boto3.Session
) -> None:
    throttle.rate = 1.0
    throttle.operations = {"ListSecrets"}
    client = boto_session.client("secretsmanager")
    with pytest.raises(ClientError) as err:
        client.list_secrets()
    assert code(err) == ("ThrottlingException", 400)
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] > 0
    client.create_secret(Name="other-operations-pass", SecretString="x")
    assert throttle.injected_by_operation.keys() == {"ListSecrets"}


def test_throttling_is_deterministic_for_a_seed(aws: None) -> None:
    def run(seed: int) -> list[bool]:
        injector = ThrottleInjector(rate=0.3, seed=seed)
        request = type("Request", (), {"headers": {}, "url": "https://redshift.us-east-1.amazonaws.com/"})()
        return [injector._before_send(request, "before-send.redshift.DescribeClusters") is not None for _ in range(50)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_lost_response_took_effect_and_the_retry_sees_it(
    lost_responses: LostResponses, boto_session: boto3.Session, aws_calls: AwsCallRecorder
) -> None:
    lost_responses.lose("CreateCluster")
    with pytest.raises(ClientError) as err:
        redshift_cluster(boto_session)
    assert code(err)[0] == "ClusterAlreadyExists"  # the retry met the cluster the first attempt created
    assert lost_responses.lost["CreateCluster"] == 1
    assert aws_calls.count("CreateCluster") == 1
    assert status(boto_session) == "available"


def test_the_recorder_keeps_the_callers_parameters(boto_session: boto3.Session, aws_calls: AwsCallRecorder) -> None:
    redshift_cluster(boto_session, Tags=[{"Key": "a", "Value": "b"}])
    (call,) = aws_calls.calls
    assert (call.service, call.operation) == ("redshift", "CreateCluster")
    assert call.params["Tags"] == [{"Key": "a", "Value": "b"}]
    assert aws_calls.count(service="redshift") == 1 and aws_calls.count(service="rds") == 0
    aws_calls.clear()
    assert len(aws_calls) == 0


def test_the_default_session_goes_through_the_hooks(boto_session: boto3.Session, aws_calls: AwsCallRecorder) -> None:
    boto3.client("redshift").describe_clusters()
    assert aws_calls.operations() == ["DescribeClusters"]


def test_the_environment_holds_only_fake_credentials() -> None:
    credentials = boto3.Session().get_credentials()
    assert credentials is not None and credentials.access_key == "testing"
    assert boto3.Session().region_name == "us-east-1"


def test_strict_eventbridge_refuses_an_input_over_8192_characters(boto_session) -> None:
    import botocore.exceptions

    events = boto_session.client("events")
    events.put_rule(Name="r", ScheduleExpression="rate(1 minute)")
    target = {"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}
    events.put_targets(Rule="r", Targets=[{**target, "Input": "x" * 8192}])
    with pytest.raises(botocore.exceptions.ClientError) as err:
        events.put_targets(Rule="r", Targets=[{**target, "Input": "x" * 8193}])
    assert err.value.response["Error"]["Code"] == "ValidationException"


# --- Athena (tests/fakes/athena.py) ---------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 50, 51, 120])
@pytest.mark.parametrize("max_results", [None, 7])
def test_athena_lists_executions_newest_first_in_pages_as_aws_does(
    boto_session: boto3.Session, count: int, max_results: int | None
) -> None:
    from datetime import datetime, timedelta, timezone

    from tests.fakes import athena as fake_athena

    athena = boto_session.client("athena")
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with fake_athena.install():
        # submitted in a shuffled order, so moto's insertion order is not the answer
        order = sorted(range(count), key=lambda i: (i * 7919) % 131)
        made = {
            i: fake_athena.add_query_execution(
                athena, catalog="c", data_scanned_bytes=1, submitted=start + timedelta(minutes=i), completed=None
            )
            for i in order
        }
        pages: list[list[str]] = []
        request: dict[str, Any] = {"WorkGroup": "primary"} | ({"MaxResults": max_results} if max_results else {})
        while True:
            page = athena.list_query_executions(**request)
            pages.append(page["QueryExecutionIds"])
            if "NextToken" not in page:
                break
            request["NextToken"] = page["NextToken"]
        assert all(len(p) <= (max_results or 50) for p in pages)
        assert [e for p in pages for e in p] == [made[i] for i in sorted(made, reverse=True)]
        with pytest.raises(ClientError):
            athena.list_query_executions(MaxResults=51)
        # the rest-json GET of one execution and the batch POST are both served
        if count:
            assert athena.get_query_execution(QueryExecutionId=made[0])["QueryExecution"]["QueryExecutionId"] == made[0]
            assert len(
                athena.batch_get_query_execution(QueryExecutionIds=list(made.values())[:50])["QueryExecutions"]
            ) == min(count, 50)
    from moto.athena import urls
    from moto.athena.responses import AthenaResponse

    # moto is left as it was found
    assert list(urls.url_paths) == ["{0}/$"] and not hasattr(AthenaResponse, "batch_get_query_execution")
    assert "__init__" not in vars(AthenaResponse) or AthenaResponse.__init__.__module__ == "moto.athena.responses"


# --- moto's serializer memos (tests/fakes/moto_speed.py) -------------------------------------------


def test_moto_answers_the_same_with_and_without_the_serializer_memos(boto_session: boto3.Session) -> None:
    """Every response shape the suite leans on, read through both: the memos change speed only."""
    from tests.fakes import moto_speed

    redshift, rds = boto_session.client("redshift"), boto_session.client("rds")
    for index, (nodes, encrypted) in enumerate([(2, True), (4, False), (1, True)]):
        redshift_cluster(boto_session, f"w{index}", nodes=nodes, Encrypted=encrypted, Tags=[{"Key": "k", "Value": "v"}])
    redshift.create_cluster_snapshot(SnapshotIdentifier="snap", ClusterIdentifier="w0")
    redshift.create_cluster_parameter_group(
        ParameterGroupName="pg", ParameterGroupFamily="redshift-1.0", Description="d"
    )
    rds.create_db_cluster(DBClusterIdentifier="orders", Engine="aurora-postgresql", MasterUsername="admin",
                          ManageMasterUserPassword=True, StorageEncrypted=True)  # fmt: skip
    rds.create_db_instance(DBInstanceIdentifier="orders-1", DBClusterIdentifier="orders", Engine="aurora-postgresql",
                           DBInstanceClass="db.r6g.large")  # fmt: skip
    calls = [
        (redshift.describe_clusters, {}),
        (redshift.describe_cluster_snapshots, {}),
        (redshift.describe_cluster_parameter_groups, {}),
        (redshift.describe_resize, {"ClusterIdentifier": "w0"}),
        (rds.describe_db_clusters, {}),
        (rds.describe_db_instances, {}),
        (boto_session.client("secretsmanager").list_secrets, {}),
    ]

    def without_now(obj: dict[str, Any]) -> dict[str, Any]:
        obj.pop("LatestRestorableTime", None)  # moto answers it with "now", different on every call
        return obj

    def answers() -> list[Any]:
        out = []
        for call, kwargs in calls:
            try:
                response = call(**kwargs)
            except ClientError as err:
                response = dict(err.response)
            response.pop("ResponseMetadata", None)
            out.append(json.loads(json.dumps(response, default=str), object_hook=without_now))
        return out

    with moto_speed.disabled():
        plain = answers()
    assert answers() == plain
    assert plain[0]["Clusters"] and plain[4]["DBClusters"] and plain[5]["DBInstances"]


def test_the_serializer_memo_tells_objects_of_different_classes_apart() -> None:
    """moto's ClassPrefixAlias reads DBInstanceIdentifier as ``identifier`` on a DBInstance only."""
    import botocore.session
    from moto.core.serialize import AttributePickerContext, XFormedAttributePicker

    from tests.fakes import moto_speed

    shape = botocore.session.get_session().get_service_model("rds").shape_for("DBClusterMember")
    member = shape.members["DBInstanceIdentifier"]
    member.parent = shape  # as moto's serializer sets it

    class DBInstance:
        identifier = "orders-1"

    class Other:
        identifier = "not-an-instance"

    picker = XFormedAttributePicker()

    def pick(obj: Any) -> Any:
        return picker(AttributePickerContext(obj=obj, key="DBInstanceIdentifier", shape=member))

    with moto_speed.disabled():
        plain = [pick(DBInstance()), pick(Other())]
    assert [pick(DBInstance()), pick(Other())] == plain == ["orders-1", None]


def test_kms_keys_made_on_first_use_still_sign_verify_and_show_their_public_key(boto_session: boto3.Session) -> None:
    kms = boto_session.client("kms")
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.encrypt(KeyId=symmetric, Plaintext=b"x")["CiphertextBlob"]
    signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    assert kms.verify(KeyId=signing, Message=b"m", Signature=signature, SigningAlgorithm="RSASSA_PSS_SHA_256")[
        "SignatureValid"
    ]
    assert len(kms.get_public_key(KeyId=signing)["PublicKey"]) > 250  # DER of an RSA-2048 key


def test_an_injected_error_never_reaches_moto(boto_session: Any, failing_calls: Any, throttle: Any) -> None:
    """botocore runs every before-send handler (moto's too): an injected error must stop the call."""
    import botocore.exceptions

    redshift = boto_session.client("redshift")
    kwargs = {
        "ClusterIdentifier": "never",
        "NodeType": "ra3.xlplus",
        "NumberOfNodes": 2,
        "MasterUsername": "admin",
        "MasterUserPassword": "Secret-12345",
    }
    throttle.rate = 0.0
    failing_calls.fail("CreateCluster", "AccessDeniedException", times=1)
    with pytest.raises(botocore.exceptions.ClientError):
        redshift.create_cluster(**kwargs)
    assert redshift.describe_clusters()["Clusters"] == []
    throttle.rate = 1.0
    throttle.operations = {"CreateCluster"}
    with pytest.raises(botocore.exceptions.ClientError):
        redshift.create_cluster(**kwargs)
    throttle.rate = 0.0
    assert redshift.describe_clusters()["Clusters"] == []
