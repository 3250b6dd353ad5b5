"""Lint rendered native templates: cfn-lint (all regions, informational checks included) and the
cdk-nag packs AwsSolutions, HIPAA Security, NIST 800-53 R5 and PCI DSS 3.2.1.

A finding is ``(rule, logical id)``: ``("E3691", "AppDbCluster")``,
``("AwsSolutions-RDS10", "AppDbCluster")``. cdk-nag 3's packs are validation plugins: each one's
``validate_scope`` runs on a stack holding the rendered template through ``CfnInclude``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

Finding = tuple[str, str]  # (rule id, logical id of the rendered resource)
NAG_PACKS = ("AwsSolutionsChecks", "HIPAASecurityChecks", "NIST80053R5Checks", "PCIDSS321Checks")


def cfn_lint_findings(templates: dict[str, dict[str, Any]]) -> dict[Finding, list[str]]:
    """cfn-lint with every rule (informational and experimental ones included) in every region:
    ``--regions ALL_REGIONS --include-checks I --include-experimental`` (cfn-lint's ``lint_all``)."""
    from cfnlint.api import REGIONS, ManualArgs, lint

    config = ManualArgs(include_checks=["I"], include_experimental=True, regions=REGIONS)

    found: dict[Finding, list[str]] = {}
    for name, template in templates.items():
        for match in lint(json.dumps(template, indent=1), config=config):
            path = list(match.path.path) if hasattr(match.path, "path") else list(match.path)
            where = str(path[1]) if len(path) > 1 and path[0] in ("Resources", "Parameters") else name
            found.setdefault((match.rule.id, where), []).append(f"{name}: {match.message}")
    return found


def nag_findings(templates: dict[str, dict[str, Any]]) -> dict[Finding, list[str]]:
    """Every cdk-nag finding (errors and warnings) of the four packs on the rendered templates."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import cdk_nag
    from aws_cdk import App, Stack
    from aws_cdk import cloudformation_include as cfn_inc

    found: dict[Finding, list[str]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        app = App(outdir=str(Path(workdir) / "out"))
        for name, template in templates.items():
            path = Path(workdir) / f"{name}.json"
            path.write_text(json.dumps(template))
            stack = Stack(app, name)
            cfn_inc.CfnInclude(stack, "Native", template_file=str(path))
        for pack_name in NAG_PACKS:
            pack = getattr(cdk_nag, pack_name)()
            report = pack.validate_scope(app)
            for violation in report.violations:
                for resource in violation.violating_resources:
                    # construct path: Stack/Native/LogicalId
                    logical_id = (
                        resource.construct_path.split("/")[2]
                        if resource.construct_path.count("/") >= 2
                        else resource.construct_path
                    )
                    found.setdefault((violation.rule_name, logical_id), []).append(
                        f"{violation.severity}: {violation.description.splitlines()[0]}"
                    )
    return found


def summary(findings: set[Finding]) -> list[str]:
    """Findings per tool or cdk-nag pack, then per rule: ``AwsSolutions: 19 findings (10 rules): RDS10x3...``."""
    from collections import Counter

    from tests.audit.acknowledgements import ACKNOWLEDGED, PENDING_PARITY, matches, triage

    groups: dict[str, Counter[str]] = {}
    for rule, _ in findings:
        tool, _, name = rule.partition("-") if "-" in rule else ("cfn-lint", "", rule)
        groups.setdefault(tool, Counter())[name] += 1
    lines = [
        f"{tool}: {sum(rules.values())} findings ({len(rules)} rules): "
        + ", ".join(f"{rule}x{count}" for rule, count in sorted(rules.items()))
        for tool, rules in sorted(groups.items())
    ]
    uncovered, stale = triage(findings)
    pending = sum(1 for f in findings if any(matches(k, f) for k in PENDING_PARITY))
    acknowledged = sum(1 for f in findings if any(matches(k, f) for k in ACKNOWLEDGED))
    lines.append(
        f"total {len(findings)}: {acknowledged} acknowledged, {pending} pending parity, {len(uncovered)} unacknowledged"
        f", {len(stale)} stale acknowledgements"
    )
    lines += [f"  unacknowledged: {rule} {resource}" for rule, resource in uncovered]
    lines += [f"  stale: {entry}" for entry in stale]
    return lines


def main(argv: list[str]) -> int:
    """``python -m tests.audit.lint DIR``: lint DIR/*.native.json and print the summary."""
    import sys

    if len(argv) != 1:
        print("usage: python -m tests.audit.lint RENDERED_DIR", file=sys.stderr)
        return 2
    templates = {p.name.split(".")[0]: json.loads(p.read_text()) for p in sorted(Path(argv[0]).glob("*.native.json"))}
    findings = set(cfn_lint_findings(templates)) | set(nag_findings(templates))
    print("\n".join(summary(findings)))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
