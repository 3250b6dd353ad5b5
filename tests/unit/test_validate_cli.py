"""``dbscale validate TEMPLATE`` (issue 27, item 4): the preflight of a template's dbscale resources
against the live account (moto), as a generated grid.

The grid of tests/unit/test_preflight_grid.py (every referential property of every resource type x
every way it can be wrong) becomes templates: one valid resource per type (no row, exit 0), and one
resource per (property, way) with that property broken (a row naming the resource and the property,
exit 2). Then: intrinsic values are skipped with a note, a ``!Ref`` to a parameter takes its
``--parameters`` value, YAML short forms are read, a cdk.out directory is read, and no call that
creates or changes anything is ever sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cli_runner import dbscale
from tests.fakes import AwsCallRecorder
from tests.unit.test_preflight_grid import GRID, World, changes, resource_type
from tests.unit.test_preflight_grid import shared_aws as shared_aws  # the fixture: the grid's world, one per module

TYPES = {kind_of: resource_type(kind_of) for kind_of in GRID}


@pytest.fixture
def world(shared_aws: World, boto_session: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> World:
    """The world, with the CLI's session the recorded test session (its calls are counted)."""
    monkeypatch.setattr("dbscale.cli.validate.session", lambda region: boto_session)
    return shared_aws


def logical(kind_of: str, prop: str = "", way: str = "") -> str:
    """A logical id naming what the resource breaks (letters and digits only, as CloudFormation's)."""
    return "".join(ch for ch in f"{kind_of}{prop}{way}".title() if ch.isalnum())


def resource(kind_of: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"Type": TYPES[kind_of], "Properties": {"ServiceToken": "arn:aws:lambda:x", **props}}


def write(tmp_path: Path, resources: dict[str, Any], name: str = "t.json", **extra: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"Resources": resources, **extra}), encoding="utf-8")
    return path


def rows(out: str) -> list[dict[str, Any]]:
    return list(json.loads(out)["problems"])


def broken_resources(w: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """Logical id -> (the property it breaks, its resource), for every cell of the grid."""
    found = {}
    for kind_of, (_, template, props) in GRID.items():
        for prop, ways in props.items():
            for way, bad in ways.items():
                found[logical(kind_of, prop, way)] = (prop, resource(kind_of, {**template(w), prop: bad(w)}))
    return found


@pytest.mark.parametrize("kind_of", sorted(GRID))
def test_a_valid_template_has_no_problem_and_exits_0(
    kind_of: str, world: World, tmp_path: Path, capsys: Any, aws_calls: AwsCallRecorder
) -> None:
    path = write(tmp_path, {"Valid": resource(kind_of, GRID[kind_of][1](world))})
    aws_calls.clear()
    code, out, err = dbscale(capsys, "validate", str(path), "--json")
    assert (code, rows(out)) == (0, []), (out, err)
    assert json.loads(out)["resources"] == 1
    assert aws_calls.count() > 0 and changes(aws_calls) == []


def test_every_broken_reference_of_the_grid_is_a_row_naming_resource_and_property(
    world: World, tmp_path: Path, capsys: Any, aws_calls: AwsCallRecorder
) -> None:
    broken = broken_resources(world)
    path = write(tmp_path, {name: res for name, (_, res) in broken.items()})
    aws_calls.clear()
    code, out, err = dbscale(capsys, "validate", str(path), "--json")
    assert code == 2, err
    found = rows(out)
    assert json.loads(out)["resources"] == len(broken)
    for name, (prop, res) in broken.items():
        mine = [r for r in found if r["logical_id"] == name]
        # (IamRoles without the default role is also refused by the parse: DefaultIamRoleArn)
        assert prop in [r["property"] for r in mine], (name, mine)
        assert all(r["resource_type"] == res["Type"] and r["problem"] for r in mine)
    assert changes(aws_calls) == [], changes(aws_calls)
    creates = [c for c in aws_calls.operations() if c.startswith(("Create", "Modify", "Delete", "Restore"))]
    assert creates == []


def test_the_table_lists_resource_type_property_problem_and_hint(world: World, tmp_path: Path, capsys: Any) -> None:
    kind_of = "Custom::AuroraCluster"
    props = {**GRID[kind_of][1](world), "DBInstanceParameterGroupName": "NaN"}
    code, out, err = dbscale(capsys, "validate", str(write(tmp_path, {"Orders": resource(kind_of, props)})))
    assert code == 2, err
    line = next(line for line in out.splitlines() if "NaN" in line)
    for text in ("Orders", "Custom::AuroraCluster", "DBInstanceParameterGroupName", "create it (aws rds"):
        assert text in line, line
    assert "1 dbscale resource checked: 1 problem" in out


def test_a_refused_property_is_a_row_and_the_others_are_still_checked(
    world: World, tmp_path: Path, capsys: Any
) -> None:
    props = {**GRID["Custom::AuroraCluster"][1](world), "BackupRetentionPeriod": "lots", "KmsKeyId": "alias/nope"}
    path = write(tmp_path, {"Orders": resource("Custom::AuroraCluster", props)})
    code, out, _ = dbscale(capsys, "validate", str(path), "--json")
    assert code == 2
    assert sorted(r["property"] for r in rows(out)) == ["BackupRetentionPeriod", "KmsKeyId"]


YAML = """\
Parameters:
  Group:
    Type: String
    Default: NaN
  Subnets:
    Type: String
Resources:
  Key:
    Type: AWS::KMS::Key
  Orders:
    Type: AWS::CloudFormation::CustomResource
    Properties:
      ServiceToken: !ImportValue dbscale-AuroraClusterServiceToken
      ClusterIdentifier: !Sub "${AWS::StackName}-orders"
      InstanceClass: db.r6g.large
      EngineVersion: "16"
      DBInstanceParameterGroupName: !Ref Group
      DBSubnetGroupName: !Ref Subnets
      KmsKeyId: !GetAtt Key.Arn
      MasterUserSecretKmsKeyId: !Sub "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/nope"
      Tags: !If [HasTags, [{Key: a, Value: b}], !Ref AWS::NoValue]
"""


def test_yaml_short_forms_are_read_intrinsics_skipped_and_parameters_resolved(
    world: World, tmp_path: Path, capsys: Any, aws_calls: AwsCallRecorder
) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(YAML, encoding="utf-8")
    aws_calls.clear()
    code, out, err = dbscale(capsys, "validate", str(path), "--parameters", "Subnets=nope", "--json")
    assert code == 2, err
    report = json.loads(out)
    # !Ref Group: its Default (NaN); !Ref Subnets: --parameters; !Sub of pseudo parameters: resolved
    assert sorted(r["property"] for r in report["problems"]) == [
        "DBInstanceParameterGroupName", "DBSubnetGroupName", "MasterUserSecretKmsKeyId",
    ]  # fmt: skip
    assert "alias/nope" in next(r for r in report["problems"] if r["property"] == "MasterUserSecretKmsKeyId")["problem"]
    notes = {r["property"]: r for r in report["notes"]}
    assert sorted(notes) == ["ClusterIdentifier", "KmsKeyId", "Tags"]
    assert all(n["problem"] == "not checked: resolved at deploy time" for n in notes.values())
    assert "Fn::GetAtt" in notes["KmsKeyId"]["hint"]
    assert changes(aws_calls) == []
    code, out, _ = dbscale(capsys, "validate", str(path), "--parameters", "Subnets=db-subnets", "--parameters",
                           "Group=ipg16", "--json")  # fmt: skip
    assert [r["property"] for r in rows(out)] == ["MasterUserSecretKmsKeyId"]


def test_a_cdk_out_directory_reads_every_template(world: World, tmp_path: Path, capsys: Any) -> None:
    out_dir = tmp_path / "cdk.out"
    (out_dir / "asset.0123").mkdir(parents=True)
    clone = GRID["Custom::AuroraClone"][1](world)
    write(out_dir, {"Clone": resource("Custom::AuroraClone", clone)}, "Dev.template.json")
    write(out_dir, {"Clone": resource("Custom::AuroraClone", {**clone, "SourceClusterId": "ghost"})},
          "Prod.template.json")  # fmt: skip
    write(out_dir / "asset.0123", {"X": resource("Custom::AuroraClone", {"SourceClusterId": "ghost"})},
          "bundled.template.json")  # fmt: skip
    (out_dir / "manifest.json").write_text("{}", encoding="utf-8")
    code, out, err = dbscale(capsys, "validate", str(out_dir), "--json")
    assert code == 2, err
    report = json.loads(out)
    assert report["resources"] == 2
    assert [(Path(r["file"]).name, r["property"]) for r in report["problems"]] == [
        ("Prod.template.json", "SourceClusterId")
    ]
    code, out, _ = dbscale(capsys, "validate", str(out_dir))
    assert "Prod.template.json" in out and "2 dbscale resources checked: 1 problem" in out


def test_a_template_without_dbscale_resources_is_clean(world: World, tmp_path: Path, capsys: Any) -> None:
    path = write(tmp_path, {"Bucket": {"Type": "AWS::S3::Bucket"}})
    code, out, _ = dbscale(capsys, "validate", str(path))
    assert code == 0 and "0 dbscale resources checked: no problem" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{not json", "is not a readable template"), ('{"AWSTemplateFormatVersion": "2010-09-09"}', "no Resources")],
)
def test_an_unreadable_template_is_refused_with_exit_2(
    content: str, expected: str, world: World, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code, _, err = dbscale(capsys, "validate", str(path))
    assert code == 2 and expected in err, err


def test_a_missing_path_and_a_bad_parameter_are_refused(tmp_path: Path, capsys: Any) -> None:
    code, _, err = dbscale(capsys, "validate", str(tmp_path / "none.json"))
    assert code == 2 and "no such file or directory" in err
    code, _, err = dbscale(capsys, "validate", str(tmp_path), "--parameters", "novalue")
    assert code == 2 and "--parameters takes KEY=VALUE" in err


# --- rescale|pause|resume --dry-run: the quota check is the one that applies -------------------------


@pytest.fixture
def wiki(boto_session: boto3.Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> int:
    """Aurora 'wiki' (a writer, made by dbscale) and Redshift 'sales'; the DB instances in use."""
    from tests.fakes.fleet import create_aurora, create_redshift

    monkeypatch.setenv("DBSCALE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr("dbscale.cli.clusters.session", lambda region: boto_session)
    rds = boto_session.client("rds")
    if not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == "wiki"]:
        create_aurora(rds, "wiki", "db.r6g.large")  # moto may be the module's (the world's), kept between tests
        create_redshift(boto_session.client("redshift"), "sales", "ra3.xlplus", 2)
    return len(boto_session.client("rds").describe_db_instances()["DBInstances"])


@pytest.mark.parametrize(
    ("args", "room", "option"),
    [
        (["--readers", "2"], 1, "--readers"),  # two readers added, room for one
        (["--instance-class", "db.r6g.xlarge"], 0, "--instance-class"),  # the new writer, before the old goes
    ],
)
def test_an_aurora_dry_run_over_the_instance_quota_names_the_option_and_exits_2(
    args: list[str], room: int, option: str, wiki: int, capsys: Any, monkeypatch: pytest.MonkeyPatch,
    aws_calls: AwsCallRecorder,
) -> None:  # fmt: skip
    from tests.fakes.preflight import RDS_QUOTAS

    monkeypatch.setitem(RDS_QUOTAS, "DBInstances", wiki + room)
    aws_calls.clear()
    code, out, err = dbscale(capsys, "rescale", "aurora", "wiki", *args, "--dry-run")
    assert code == 2, err
    assert f"preflight: {option}: " in out and f"quota of {wiki + room}" in out, out
    assert "dry run: nothing was changed" in out
    assert changes(aws_calls) == [] and aws_calls.count("DescribeAccountAttributes") == 1
    code, out, _ = dbscale(capsys, "rescale", "aurora", "wiki", *args, "--dry-run", "--json")
    assert code == 2 and [p["property"] for p in json.loads(out)["problems"]] == [option]
    monkeypatch.setitem(RDS_QUOTAS, "DBInstances", wiki + room + 1)
    code, out, _ = dbscale(capsys, "rescale", "aurora", "wiki", *args, "--dry-run", "--json")
    assert (code, json.loads(out)["problems"]) == (0, [])


@pytest.mark.parametrize(
    "args",
    [
        ["rescale", "redshift", "sales", "--nodes", "4", "--dry-run"],
        ["rescale", "aurora", "wiki", "--readers", "0", "--dry-run"],
        ["pause", "wiki", "--dry-run"],
        ["pause", "sales", "--dry-run"],
    ],
)
def test_a_dry_run_that_adds_no_instance_reads_no_quota(
    args: list[str], wiki: int, capsys: Any, monkeypatch: pytest.MonkeyPatch, aws_calls: AwsCallRecorder
) -> None:
    from tests.fakes.preflight import RDS_QUOTAS

    monkeypatch.setitem(RDS_QUOTAS, "DBInstances", 0)  # over it already: only a plan that adds instances would fail
    aws_calls.clear()
    code, out, err = dbscale(capsys, *args)
    assert code == 0, err
    assert "preflight" not in out and aws_calls.count("DescribeAccountAttributes") == 0
    assert changes(aws_calls) == []


def test_docs_preflight_lists_every_checked_property_of_every_type(world: World) -> None:
    from dbscale.core.preflight import CHECKS
    from tests.unit.test_preflight_grid import options, parsed

    doc = (Path(__file__).resolve().parents[2] / "docs" / "preflight.md").read_text(encoding="utf-8")
    assert set(TYPES.values()) == set(CHECKS)
    for kind_of, (_, template, _) in GRID.items():
        kind = TYPES[kind_of]
        props = parsed(kind, template(world))
        section = doc.split(f"| `{kind}` |", 1)[1].split("\n| `Custom::", 1)[0]
        for check in CHECKS[kind](props, **options(kind, props)):
            assert f"`{check.property}`" in section, (kind, check.property)
