"""Shared fixtures: every CDK app here is synthesized once per test process (jsii start-up is slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cdk_app import Synthesized, synthesize

__all__ = ["ROOT", "Synthesized", "cdk_nag_errors", "cfn_lint", "synthesize"]

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def cfn_lint(paths: list[Path]) -> list[str]:
    """cfn-lint findings of level error (E...) for ``paths``, as parseable lines."""
    result = subprocess.run(
        [str(CFN_LINT), "--format", "parseable", "--regions", "us-east-1", "--", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) and not result.stdout:
        raise AssertionError(f"cfn-lint did not run: {result.stderr}")
    # parseable: file:line:col:line:col:RULE:message
    return [line for line in result.stdout.splitlines() if line.split(":")[5:6] and line.split(":")[5].startswith("E")]


def cdk_nag_errors(app: Any, *, only_under: str | None = None, except_under: str | None = None) -> list[str]:
    """cdk-nag ``AwsSolutionsChecks`` errors in ``app`` that no acknowledgment covers, as
    ``rule at [paths]`` lines. ``only_under`` keeps those on constructs whose path contains it,
    ``except_under`` drops those whose paths all contain it (a test's own scaffolding, such as a
    bare VPC, is not what it checks)."""
    cdk_nag = pytest.importorskip("cdk_nag")
    report = cdk_nag.AwsSolutionsChecks(app).validate_scope(app)
    errors = []
    for violation in report.violations:
        paths = [r.construct_path for r in violation.violating_resources]
        if violation.severity != "error":
            continue
        if only_under is not None and not any(only_under in p for p in paths):
            continue
        if except_under is not None and all(except_under in p for p in paths):
            continue
        errors.append(f"{violation.rule_name} at {paths}")
    return errors


@pytest.fixture
def scratch() -> Iterator[Any]:
    """A fresh stack with a VPC (private, isolated and public subnets) for construct-time errors."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_ec2 as ec2

    app = App()
    stack = Stack(app, "Scratch")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    yield stack, vpc
