"""The checks of Redshift settings (dbscale.core.redshift.settings), at their edges, as AWS documents them."""

from __future__ import annotations

from typing import Any

import pytest

from dbscale.core.errors import InvalidRequest
from dbscale.core.redshift.settings import (
    logging_matches,
    normalize_logging,
    requires_tls,
    validate_automated_snapshot_retention,
    validate_iam_roles,
    validate_maintenance_window,
    validate_manual_snapshot_retention,
    validate_multi_az,
)

F = "Field"


@pytest.mark.parametrize(
    ("window", "ok"),
    [
        ("sun:05:00-sun:05:30", True),  # exactly 30 minutes
        ("sun:05:00-sun:05:29", False),
        ("sat:23:45-sun:00:15", True),  # across midnight
        ("sun:23:50-mon:00:10", False),  # across the week's end, 20 minutes
        ("SUN:05:00-SUN:06:00", True),
        ("sun:05:00-sun:05:00", False),
        ("sun:25:00-sun:26:00", False),
        ("sun:05:60-sun:06:30", False),
        ("xyz:05:00-sun:06:00", False),
        ("sun 05:00-sun 06:00", False),
    ],
)
def test_maintenance_window(window: str, ok: bool) -> None:
    if ok:
        assert validate_maintenance_window(window, field=F) == window.lower()
    else:
        with pytest.raises(InvalidRequest, match=F):
            validate_maintenance_window(window, field=F)


@pytest.mark.parametrize(("days", "node_type", "ok"), [(0, "dc2.large", True), (0, "ra3.xlplus", False),
                                                      (1, "ra3.xlplus", True), (35, "ra3.xlplus", True),
                                                      (36, "dc2.large", False), (-1, "dc2.large", False)])  # fmt: skip
def test_automated_snapshot_retention(days: int, node_type: str, ok: bool) -> None:
    if ok:
        assert validate_automated_snapshot_retention(days, node_type=node_type, field=F) == days
    else:
        with pytest.raises(InvalidRequest, match=F):
            validate_automated_snapshot_retention(days, node_type=node_type, field=F)


@pytest.mark.parametrize(("days", "ok"), [(-1, True), (1, True), (3653, True), (0, False), (-2, False), (3654, False)])
def test_manual_snapshot_retention(days: int, ok: bool) -> None:
    if ok:
        assert validate_manual_snapshot_retention(days, field=F) == days
    else:
        with pytest.raises(InvalidRequest, match=F):
            validate_manual_snapshot_retention(days, field=F)


def test_logging_defaults_and_off() -> None:
    assert normalize_logging(None) == {
        "LogDestinationType": "cloudwatch",
        "LogExports": ["connectionlog", "useractivitylog", "userlog"],
    }
    assert normalize_logging({"LogExports": []})["LogExports"] == []
    assert normalize_logging({"LogExports": "userlog, connectionlog"})["LogExports"] == ["connectionlog", "userlog"]
    s3 = normalize_logging({"LogDestinationType": "s3", "BucketName": "my.logs-1", "S3KeyPrefix": "a/b=c@d é"})
    assert s3["BucketName"] == "my.logs-1" and s3["S3KeyPrefix"] == "a/b=c@d é"


@pytest.mark.parametrize(
    "value",
    [
        {"LogDestinationType": "kinesis"},
        {"LogExports": ["userlog", "userlog"]},
        {"LogDestinationType": "s3"},
        {"LogDestinationType": "s3", "BucketName": "Upper"},
        {"LogDestinationType": "s3", "BucketName": "a..b"},
        {"LogDestinationType": "s3", "BucketName": "ok-bucket", "S3KeyPrefix": "a#b"},
        {"S3KeyPrefix": "x"},
    ],
)
def test_logging_refused(value: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="LoggingProperties"):
        normalize_logging(value)


def test_logging_matches_describe_logging_status() -> None:
    wanted = normalize_logging(None)
    on = {"LoggingEnabled": True, "LogDestinationType": "cloudwatch", "LogExports": ["userlog", "useractivitylog",
                                                                                   "connectionlog"]}  # fmt: skip
    assert logging_matches(wanted, on)
    assert not logging_matches(wanted, {**on, "LogExports": ["userlog"]})
    assert not logging_matches(wanted, {"LoggingEnabled": False})
    assert logging_matches(normalize_logging({"LogExports": []}), {"LoggingEnabled": False, "LogDestinationType": "s3"})


def test_iam_roles_and_default() -> None:
    role = "arn:aws:iam::123456789012:role/path/copy"
    validate_iam_roles([role], role, field="IamRoles", default_field="DefaultIamRoleArn")
    with pytest.raises(InvalidRequest, match="DefaultIamRoleArn"):
        validate_iam_roles([], role, field="IamRoles", default_field="DefaultIamRoleArn")
    with pytest.raises(InvalidRequest, match="twice"):
        validate_iam_roles([role, role], None, field="IamRoles", default_field="DefaultIamRoleArn")
    with pytest.raises(InvalidRequest, match="limit is 50"):
        roles = [f"arn:aws:iam::123456789012:role/r{i}" for i in range(51)]
        validate_iam_roles(roles, None, field="IamRoles", default_field="DefaultIamRoleArn")


@pytest.mark.parametrize(("node_type", "nodes", "encrypted", "ok"), [("ra3.xlplus", 2, True, True),
                         ("dc2.large", 2, True, False), ("ra3.xlplus", 1, True, False),
                         ("ra3.xlplus", 2, False, False)])  # fmt: skip
def test_multi_az(node_type: str, nodes: int, encrypted: bool, ok: bool) -> None:
    if ok:
        validate_multi_az(True, node_type=node_type, number_of_nodes=nodes, encrypted=encrypted, field=F)
    else:
        with pytest.raises(InvalidRequest, match=F):
            validate_multi_az(True, node_type=node_type, number_of_nodes=nodes, encrypted=encrypted, field=F)


def test_require_ssl_is_read_as_redshift_reads_it() -> None:
    assert requires_tls({"require_ssl": "TRUE"}) and requires_tls({"require_ssl": " true "})
    assert not requires_tls({"require_ssl": "false"}) and not requires_tls({})
