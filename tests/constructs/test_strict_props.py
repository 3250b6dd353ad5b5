"""The constructs refuse at synth time what the handlers refuse at deploy time (issue 11, item 7), with
the same core validators, and leave tokens to the handler."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow


def construct_error(scratch: Any, kind: str, id: str, **kwargs: Any) -> str:
    from dbscale.constructs import AuroraCluster, InvalidConstructProps, RedshiftCluster

    stack, vpc = scratch
    with pytest.raises(InvalidConstructProps) as err:
        if kind == "redshift":
            RedshiftCluster(stack, id, vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2, **kwargs)
        else:
            AuroraCluster(stack, id, vpc=vpc, instance_class="db.r6g.large", **kwargs)
    return str(err.value)


def test_names_are_checked_at_synth_and_tokens_are_not(scratch: Any) -> None:
    from aws_cdk import CfnParameter

    from dbscale.constructs import AuroraCluster, RedshiftCluster

    cases = [
        ("redshift", {"database_name": "dev\x00"}, "database_name contains the control character U+0000"),
        ("redshift", {"database_name": "Sales"}, "database_name 'Sales' is not allowed"),
        ("redshift", {"master_username": "public"}, "master_username cannot be 'public'"),
        ("aurora", {"master_username": "ad\x1bmin"}, "master_username contains the control character U+001B"),
        ("aurora", {"database_name": "my-db"}, "database_name 'my-db' is not allowed"),
        ("aurora", {"engine": "aurora-mysql", "master_username": "a" * 17}, "master_username is 17 characters long"),
        ("aurora", {"engine_version": "16.4\x00", "require_tls": False}, "engine_version contains the control"),
    ]
    for number, (kind, kwargs, expected) in enumerate(cases):
        message = construct_error(scratch, kind, f"Bad{number}", **kwargs)
        assert message.startswith(f"Scratch/Bad{number}: ") and expected in message, message
    stack, vpc = scratch
    name = CfnParameter(stack, "DatabaseName").value_as_string
    RedshiftCluster(stack, "Token", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2, database_name=name)
    AuroraCluster(
        stack, "TokenAurora", vpc=vpc, instance_class="db.r6g.large", database_name=name, master_username=name
    )


def test_tag_values_outside_aws_characters_fail_at_synth(scratch: Any) -> None:
    from aws_cdk import Stage, Tags

    from dbscale.constructs import RedshiftCluster

    stack, vpc = scratch
    cluster = RedshiftCluster(stack, "Tagged", vpc=vpc, node_type="ra3.xlplus", number_of_nodes=2)
    Tags.of(cluster).add("team", "data\x1b[31m")
    with pytest.raises(RuntimeError) as err:
        Stage.of(stack).synth()  # type: ignore[union-attr]
    assert "Scratch/Tagged: Tags contains the control character U+001B" in str(err.value)


def test_a_huge_copy_age_is_refused_not_overflowed() -> None:
    from aws_cdk import App, Duration, Stack

    from dbscale.constructs import AuroraClone, ClonePoolMaintenance, InvalidConstructProps

    for make in (
        lambda s: ClonePoolMaintenance(
            s, "Pool", source="orders", min_spare_slots=1, max_copy_age=Duration.days(10**9)
        ),
        lambda s: AuroraClone(
            s, "Clone", source="orders", instance_class="db.r6g.large", max_copy_age=Duration.days(10**9)
        ),
    ):
        with pytest.raises(InvalidConstructProps) as err:
            make(Stack(App(), "S"))
        assert "max_copy_age must be greater than 0 and at most 87,600 hours" in str(err.value)


def test_pool_dry_run_is_a_bool() -> None:
    from aws_cdk import App, Duration, Stack

    from dbscale.constructs import ClonePoolMaintenance, InvalidConstructProps

    with pytest.raises(InvalidConstructProps) as err:
        ClonePoolMaintenance(
            Stack(App(), "S"),
            "Pool",
            source="orders",
            min_spare_slots=1,
            max_copy_age=Duration.days(1),
            dry_run="false",
        )
    assert "dry_run must be True or False" in str(err.value)
