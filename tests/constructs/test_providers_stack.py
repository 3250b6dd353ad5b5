"""``ProvidersStack`` and the template ``dbscale providers deploy`` ships: never stale, and rendering
it for a prefix and guardrails gives exactly what the construct synthesizes for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dbscale.constructs.providers_stack import synthesize_template_source, template_source_path
from dbscale.core.guardrails import Guardrails
from dbscale.deploy import render_template
from dbscale.deploy.template import template_source

from .conftest import cfn_lint

pytestmark = pytest.mark.slow


def test_the_shipped_template_is_what_the_construct_synthesizes() -> None:
    fresh = synthesize_template_source()
    shipped = json.loads(template_source_path().read_text(encoding="utf-8"))
    assert shipped == fresh, (
        "dbscale/deploy/data/providers.template.json is out of date: run `make providers-template` and commit it"
    )
    assert template_source() == shipped  # what the installed package reads


@pytest.mark.parametrize(
    ("prefix", "guardrails"),
    [
        ("dbscale-", Guardrails()),
        ("team-a-", Guardrails(allow_tls_off=True, adopt_prefixes=("team-a-legacy-",))),
        ("", Guardrails(allow_public_access=True, allow_unencrypted=True, adopt_prefixes=("",))),
    ],
    ids=["default", "team-prefix", "any-cluster"],
)
def test_rendering_equals_synthesizing_for_the_same_prefix_and_guardrails(prefix: str, guardrails: Guardrails) -> None:
    assert render_template(prefix=prefix, guardrails=guardrails) == synthesize_template_source(prefix, guardrails)


def test_a_packaged_template_lints_clean(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(render_template(code=("artifacts-bucket", "dbscale-providers/abc.zip"))))
    assert cfn_lint([path]) == []
