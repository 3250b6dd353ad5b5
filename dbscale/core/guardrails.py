"""Guardrails: the insecure settings a provider refuses unless it was deployed to allow them.

A provider (one Lambda function serving one custom resource type) reads its policy from the
``DBSCALE_GUARDRAILS`` environment variable, a JSON object written by the CDK construct that
deploys it. Every field defaults to the strict choice, so a provider deployed without the
variable refuses everything below:

* ``allow_unencrypted``: storage without encryption at rest (``Encrypted`` / ``StorageEncrypted`` false).
* ``allow_public_access``: a cluster reachable from the internet (``PubliclyAccessible`` true).
* ``allow_tls_off``: a parameter group that lets clients connect without TLS.
* ``adopt_prefixes``: identifier prefixes of existing clusters a template may adopt
  (``AdoptExisting``); empty refuses adoption, ``[""]`` allows any cluster in scope.

The checks raise :class:`~dbscale.core.errors.GuardrailViolation` before any AWS call, so a
refusal never leaves anything behind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import GuardrailViolation, InvalidRequest

GUARDRAILS_ENV = "DBSCALE_GUARDRAILS"
"""The provider function's environment variable holding its :class:`Guardrails` as JSON."""


@dataclass(frozen=True)
class Guardrails:
    """What a provider allows beyond the secure defaults. Default: nothing (the strict policy).

    :param allow_unencrypted: accept storage without encryption at rest (``Encrypted`` /
        ``StorageEncrypted`` false). Default False: refused, naming the property.
    :param allow_public_access: accept ``PubliclyAccessible`` true. Default False: refused.
    :param allow_tls_off: accept a parameter group that lets clients connect without TLS. Default
        False: refused (dbscale makes a TLS-only group when none is given).
    :param adopt_prefixes: identifier prefixes of existing clusters a template may adopt
        (``AdoptExisting``); ``("",)`` allows any cluster in the provider's scope. Default ``()``:
        adoption refused.
    """

    allow_unencrypted: bool = False
    allow_public_access: bool = False
    allow_tls_off: bool = False
    adopt_prefixes: tuple[str, ...] = ()

    # --- configuration ------------------------------------------------------------------------

    def to_json(self) -> str:
        """The policy as the compact JSON the provider's environment carries."""
        data = asdict(self)
        data["adopt_prefixes"] = list(self.adopt_prefixes)
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Guardrails:
        """Parse :meth:`to_json`'s output; unknown or mistyped fields are an error, not ignored."""
        try:
            data = json.loads(text)
        except ValueError as err:
            raise InvalidRequest(f"{GUARDRAILS_ENV} is not JSON: {err}", field=GUARDRAILS_ENV) from None
        if not isinstance(data, dict):
            raise InvalidRequest(f"{GUARDRAILS_ENV} must be a JSON object", field=GUARDRAILS_ENV)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRequest(f"{GUARDRAILS_ENV} has unknown fields {', '.join(unknown)}", field=GUARDRAILS_ENV)
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "adopt_prefixes":
                if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                    raise InvalidRequest(f"{GUARDRAILS_ENV}.adopt_prefixes must be a list of strings", field=name)
                values[name] = tuple(value)
            elif not isinstance(value, bool):
                raise InvalidRequest(f"{GUARDRAILS_ENV}.{name} must be true or false", field=name)
            else:
                values[name] = value
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Guardrails:
        """The policy in ``environ`` (default ``os.environ``); the strict one when it is not set."""
        text = (os.environ if environ is None else environ).get(GUARDRAILS_ENV, "")
        return cls.from_json(text) if text.strip() else cls()

    def widened(self, other: Guardrails) -> Guardrails:
        """A policy allowing what either allows (for a provider shared by several clusters)."""
        prefixes = tuple(dict.fromkeys(self.adopt_prefixes + other.adopt_prefixes))
        return Guardrails(
            allow_unencrypted=self.allow_unencrypted or other.allow_unencrypted,
            allow_public_access=self.allow_public_access or other.allow_public_access,
            allow_tls_off=self.allow_tls_off or other.allow_tls_off,
            adopt_prefixes=prefixes,
        )

    # --- checks -------------------------------------------------------------------------------

    def check_encrypted(self, encrypted: bool, *, field: str) -> None:
        """Refuse storage without encryption at rest unless ``allow_unencrypted``."""
        if not encrypted and not self.allow_unencrypted:
            raise self._violation(field, "false", "allow_unencrypted", "storage must be encrypted at rest")

    def check_private(self, publicly_accessible: bool, *, field: str) -> None:
        """Refuse a publicly accessible cluster unless ``allow_public_access``."""
        if publicly_accessible and not self.allow_public_access:
            raise self._violation(
                field, "true", "allow_public_access", "clusters must not be reachable from the internet"
            )

    def check_tls(self, tls_required: bool, *, field: str, value: str) -> None:
        """Refuse a setting that lets clients connect without TLS unless ``allow_tls_off``.

        ``value`` is what the template asked for (e.g. the parameter group's name), for the Reason.
        """
        if not tls_required and not self.allow_tls_off:
            raise self._violation(field, value, "allow_tls_off", "every connection must use TLS")

    def check_adoption(self, identifier: str, *, field: str = "AdoptExisting") -> None:
        """Refuse adopting cluster ``identifier`` unless it starts with one of ``adopt_prefixes``."""
        if any(identifier.startswith(prefix) for prefix in self.adopt_prefixes):
            return
        allowed = (
            f"it adopts only identifiers starting with {', '.join(repr(p) for p in self.adopt_prefixes)}"
            if self.adopt_prefixes
            else "it adopts no existing cluster"
        )
        raise GuardrailViolation(
            f"{field} true for '{identifier}' is refused by this provider's guardrail 'adopt_prefixes': {allowed}. "
            "Nothing was changed. Remove AdoptExisting (or choose a new identifier), or redeploy the provider "
            "with the identifier's prefix in its adopt_prefixes.",
            field=field,
            guardrail="adopt_prefixes",
        )

    @staticmethod
    def _violation(field: str, value: str, guardrail: str, why: str) -> GuardrailViolation:
        return GuardrailViolation(
            f"{field} {value} is refused by this provider's guardrail '{guardrail}' ({why}). Nothing was changed. "
            f"Remove {field} to get the secure default, or redeploy the provider with {guardrail}=True "
            "if this cluster really needs it.",
            field=field,
            guardrail=guardrail,
        )
