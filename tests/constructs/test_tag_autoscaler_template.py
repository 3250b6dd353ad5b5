"""The tag autoscaler's template the providers' StackSet ships: never stale, and what the installed
package reads."""

from __future__ import annotations

import json

import pytest

from dbscale.constructs.tag_autoscaler_template import synthesize_autoscaler_source, template_source_path
from dbscale.deploy.autoscaler_template import source_text

pytestmark = pytest.mark.slow


def test_the_shipped_template_is_what_the_construct_synthesizes() -> None:
    shipped = json.loads(template_source_path().read_text(encoding="utf-8"))
    assert shipped == synthesize_autoscaler_source(), (
        "dbscale/deploy/data/tag_autoscaler.template.json is out of date: run `make providers-template` and commit it"
    )
    assert json.loads(source_text()) == shipped  # what the installed package reads
