"""The guardrail policy: strict by default, parsed strictly, and each check names its property."""

from __future__ import annotations

import pytest

from dbscale.core.errors import GuardrailViolation, InvalidRequest
from dbscale.core.guardrails import GUARDRAILS_ENV, Guardrails


def test_default_policy_refuses_every_insecure_setting() -> None:
    strict = Guardrails()
    with pytest.raises(GuardrailViolation) as err:
        strict.check_encrypted(False, field="Encrypted")
    assert err.value.field == "Encrypted" and err.value.guardrail == "allow_unencrypted"
    assert "Encrypted false" in str(err.value) and "allow_unencrypted" in str(err.value)
    with pytest.raises(GuardrailViolation, match=r"PubliclyAccessible true .*allow_public_access"):
        strict.check_private(True, field="PubliclyAccessible")
    with pytest.raises(GuardrailViolation, match=r"ClusterParameterGroupName open-pg .*allow_tls_off"):
        strict.check_tls(False, field="ClusterParameterGroupName", value="open-pg")
    with pytest.raises(GuardrailViolation, match="adopts no existing cluster") as adopt:
        strict.check_adoption("dbscale-legacy")
    assert adopt.value.field == "AdoptExisting"
    # Secure values pass.
    strict.check_encrypted(True, field="Encrypted")
    strict.check_private(False, field="PubliclyAccessible")
    strict.check_tls(True, field="ClusterParameterGroupName", value="tls-pg")


def test_allowances_and_adoption_prefixes() -> None:
    loose = Guardrails(
        allow_unencrypted=True, allow_public_access=True, allow_tls_off=True, adopt_prefixes=("legacy-",)
    )
    loose.check_encrypted(False, field="StorageEncrypted")
    loose.check_private(True, field="PubliclyAccessible")
    loose.check_tls(False, field="DBClusterParameterGroupName", value="x")
    loose.check_adoption("legacy-orders")
    with pytest.raises(GuardrailViolation, match="'legacy-'"):
        loose.check_adoption("prod-orders")
    Guardrails(adopt_prefixes=("",)).check_adoption("anything")


def test_json_round_trip_and_environment() -> None:
    policy = Guardrails(allow_tls_off=True, adopt_prefixes=("a-", "b-"))
    assert Guardrails.from_json(policy.to_json()) == policy
    assert Guardrails.from_env({GUARDRAILS_ENV: policy.to_json()}) == policy
    assert Guardrails.from_env({}) == Guardrails()
    assert Guardrails.from_env({GUARDRAILS_ENV: "  "}) == Guardrails()


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"allow_public": true}', '{"allow_tls_off": "true"}', '{"adopt_prefixes": "dbscale-"}'],
)
def test_malformed_policy_is_an_error_not_the_default(text: str) -> None:
    with pytest.raises(InvalidRequest):
        Guardrails.from_json(text)


def test_widened_allows_what_either_allows() -> None:
    merged = Guardrails(allow_public_access=True, adopt_prefixes=("a-",)).widened(
        Guardrails(allow_unencrypted=True, adopt_prefixes=("a-", "b-"))
    )
    assert merged == Guardrails(allow_unencrypted=True, allow_public_access=True, adopt_prefixes=("a-", "b-"))
