"""Custom::AuroraClone: ``dbscale.handlers.aurora_clone.handler``.

A copy-on-write clone of an Aurora cluster (or of a fresh full copy of it when the source has no
free clone slot), with one writer instance. Create picks where to clone from with
:func:`dbscale.core.clones.provision_clone`; a copy (snapshot and restore) can take longer than one
Lambda invocation, so the operation is kept in the poll state and continued by later polls.
Update changes the writer's instance class and the tags in place; a new ``SourceClusterId`` (with
a derived ``CloneClusterIdentifier``) or a new ``CloneClusterIdentifier`` replaces the clone.
Delete removes the clone, without a final snapshot unless ``FinalSnapshot`` is true (clones are
disposable), and never touches a cluster this resource did not create.

With a completion signal (``CompletionSignalUrl``, see :mod:`dbscale.cfn.signal`) the resource
answers SUCCESS as soon as AWS has accepted the first request of the operation (the copy's seed
snapshot, or the clone itself) and keeps polling; the outcome goes to the wait condition handle:
SUCCESS with the finished clone's attributes (:data:`SIGNAL_ATTRIBUTES`) as the signal's Data, or
FAILURE with the reason. A new clone's early answer carries only what is known by then
(``ClusterIdentifier``, ``ClonedFrom``, ``InProgress``): its endpoints and secret do not exist yet,
so they are read from the wait condition's Data (the ``AuroraClone`` construct does so itself).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from dbscale.cfn import LOG, Progress, Prop, Provider, Request, immutable_changes, parse
from dbscale.cfn.signal import AURORA_CLONE_SIGNAL_ATTRIBUTES, SIGNAL_URL_PROPERTY
from dbscale.cfn.state import OperationState
from dbscale.core.aurora import RdsProvisioning, describe_db_cluster
from dbscale.core.aurora.settings import tls_required
from dbscale.core.aws import client, tag_dict
from dbscale.core.clones import (
    CLONE_OF_TAG_KEY,
    ClonePlan,
    CloneSlotUnavailable,
    provision_clone,
    validate_clone_request,
    waiting_only,
)
from dbscale.core.errors import (
    ClusterAlreadyExists,
    ClusterNotFound,
    GuardrailViolation,
    InvalidRequest,
    OperationFailed,
)
from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import CLUSTER_IDENTIFIER_MAX_LENGTH
from dbscale.core.operation import Operation

from .cluster import ReplaceableResource, cfn_tags, delete_owned, owned_by, text_attributes, update_tags
from .state import CloneSteps

SCHEMA: tuple[Prop, ...] = (
    Prop("SourceClusterId", required=True, immutable=True),
    Prop("InstanceClass", required=True),
    Prop("CopyOk", "bool", default=False),
    Prop("CopyCreatedSince"),
    Prop("MaxCopyAgeHours", "float"),
    Prop("PurgeObsoleteCopies", "bool", default=False),
    Prop("MaxClonesPerSource", "int", minimum=1),
    Prop("CopyInstanceClass"),
    Prop("ServerlessV2MinCapacity", "float"),
    Prop("ServerlessV2MaxCapacity", "float"),
    Prop("CloneClusterIdentifier", immutable=True),
    Prop("FinalSnapshot", "bool", default=False),
    Prop("WaitForCompletion", "bool", default=True),
    Prop("Tags", "tags", default={}),
)
# validate_clone_request's argument names -> this resource's property names (for messages).
CONSTRUCT_TO_PROPERTY: dict[str, str] = {
    "source_cluster_id": "SourceClusterId",
    "instance_class": "InstanceClass",
    "clone_cluster_id": "CloneClusterIdentifier",
    "copy_instance_class": "CopyInstanceClass",
    "copy_created_since": "CopyCreatedSince",
    "max_copy_age_hours": "MaxCopyAgeHours",
    "max_clones_per_source": "MaxClonesPerSource",
    "serverless_v2_min_acu": "ServerlessV2MinCapacity",
    "serverless_v2_max_acu": "ServerlessV2MaxCapacity",
    # provision_clone's and rescale's other arguments
    "max_copy_age": "MaxCopyAgeHours",
    "copy_ok": "CopyOk",
    "purge_obsolete_copies": "PurgeObsoleteCopies",
    "tags": "Tags",
    "new_instance_type": "InstanceClass",
    "new_serverless_v2_capacity[0]": "ServerlessV2MinCapacity",
    "new_serverless_v2_capacity[1]": "ServerlessV2MaxCapacity",
}
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")

SIGNAL_ATTRIBUTES = AURORA_CLONE_SIGNAL_ATTRIBUTES
"""Attributes a completion signal carries, in this order (the construct reads them back by position)."""
EARLY_ATTRIBUTES = ("ClusterIdentifier", "ClonedFrom")
"""What the early answer of a new clone carries: all that is known before the clone exists."""
CloneState = OperationState[CloneSteps]
"""The state of a clone's request (its own part: :class:`~dbscale.handlers.state.CloneSteps`)."""


def default_clone_identifier(stack_id: str, logical_id: str, source_cluster_id: str) -> str:
    """``<stack name>-<logical id>-<8 hex>``, lowercased and shortened to a valid identifier.

    The hash covers the stack id, the logical id and the source, so the name is stable across
    polls and retries, and a new source gives a new name (CloudFormation then replaces the clone).
    """
    parts = stack_id.split("/")
    stack_name = parts[1] if len(parts) >= 3 else stack_id
    digest = hashlib.sha256(f"{stack_id}|{logical_id}|{source_cluster_id}".encode()).hexdigest()[:8]
    base = _NOT_IDENTIFIER.sub("-", f"{stack_name}-{logical_id}".lower()).strip("-")
    if not base or not base[0].isalpha():
        base = f"clone-{base}".rstrip("-")
    base = base[: CLUSTER_IDENTIFIER_MAX_LENGTH - len(digest) - 1].rstrip("-")
    return f"{base}-{digest}"


class AuroraCloneResource(ReplaceableResource[CloneSteps]):
    resource_type = "Custom::AuroraClone"
    state_type = CloneSteps
    identifier_property = "CloneClusterIdentifier"
    argument_names = CONSTRUCT_TO_PROPERTY
    signal_attributes = SIGNAL_ATTRIBUTES

    # --- properties ---------------------------------------------------------------------------

    def parse(self, request: Request, raw: dict[str, Any] | None = None) -> dict[str, Any]:
        props = parse(SCHEMA, request.properties if raw is None else raw)
        validate_clone_request(
            source_cluster_id=props["SourceClusterId"],
            instance_class=props["InstanceClass"],
            clone_cluster_id=props["CloneClusterIdentifier"],
            copy_instance_class=props["CopyInstanceClass"],
            copy_created_since=props["CopyCreatedSince"],
            max_copy_age_hours=props["MaxCopyAgeHours"],
            max_clones_per_source=props["MaxClonesPerSource"],
            serverless_v2_min_acu=props["ServerlessV2MinCapacity"],
            serverless_v2_max_acu=props["ServerlessV2MaxCapacity"],
            fields=CONSTRUCT_TO_PROPERTY,
        )
        if props["CloneClusterIdentifier"] is None:
            props["CloneClusterIdentifier"] = default_clone_identifier(
                request.stack_id, request.logical_id, props["SourceClusterId"]
            )
            if props["CloneClusterIdentifier"] == props["SourceClusterId"]:
                raise InvalidRequest(
                    "the derived CloneClusterIdentifier equals SourceClusterId; set CloneClusterIdentifier",
                    field="CloneClusterIdentifier",
                )
        if raw is None and request.properties.get(SIGNAL_URL_PROPERTY) and not props["WaitForCompletion"]:
            raise InvalidRequest(
                "WaitForCompletion false cannot go with a CompletionSignalUrl: the wait condition would never be "
                "signalled. Remove one of them.",
                field="WaitForCompletion",
            )
        return props

    # --- the lifecycle ------------------------------------------------------------------------

    def _begin_create(self, provider: Provider, request: Request, props: dict[str, Any], state: CloneState) -> None:
        clone_id = props["CloneClusterIdentifier"]
        try:
            existing = RdsProvisioning.open(clone_id, session=provider.session, clock=provider.clock)
        except ClusterNotFound:
            existing = None
        if existing is not None and not owned_by(existing.tags, request):
            raise ClusterAlreadyExists(
                f"cluster '{clone_id}' already exists and was not created by this resource; choose another "
                "CloneClusterIdentifier (or leave it out: dbscale then derives one from the stack and logical id)"
            )
        if existing is None:  # a clone this resource made was checked when it was made
            self.preflight(provider, props, None)
            self._check_source_guardrails(provider, props["SourceClusterId"])
        # A clone (or its seed copy) may be created from here on: answers carry the clone's id.
        state.physical_id = clone_id
        max_age = props["MaxCopyAgeHours"]
        acu_given = props["ServerlessV2MaxCapacity"] is not None
        try:
            plan = self._provision(props, request, clone_id, max_age, acu_given)
        except (InvalidRequest, ClusterAlreadyExists, ClusterNotFound, CloneSlotUnavailable):
            state.physical_id = None  # refused before anything was made: the marker id says so
            raise
        LOG.info(
            json.dumps(
                {
                    "logical_id": request.logical_id,
                    "clone": clone_id,
                    "action": plan.action,
                    "cloned_from": plan.cloned_from,
                    "new_copy": plan.new_copy_id,
                    "purged_copies": list(plan.purged_copies),
                    "reason": plan.reason,
                }
            )
        )
        if plan.operation is None:  # only dry runs and "none" plans come without one; neither is asked for here
            raise OperationFailed(f"Aurora clone '{clone_id}': no operation was started ({plan.reason})")
        state.physical_id = clone_id
        state.resource.op, state.resource.cloned_from = plan.operation.to_dict(), plan.cloned_from

    @staticmethod
    def _check_source_guardrails(provider: Provider, source_id: str) -> None:
        """A clone or copy inherits its source's encryption: refuse an unencrypted source unless this
        provider's guardrails allow unencrypted storage (a missing source is reported later, as before)."""
        guardrails = Guardrails.from_env()
        if guardrails.allow_unencrypted and guardrails.allow_tls_off:
            return
        try:
            source = describe_db_cluster(client("rds", provider.session), source_id)
        except ClusterNotFound:
            return
        if not source.get("StorageEncrypted") and not guardrails.allow_unencrypted:
            raise GuardrailViolation(
                f"SourceClusterId '{source_id}' is not encrypted at rest, so its clone would not be either: refused "
                "by this provider's guardrail 'allow_unencrypted'. Nothing was changed. Clone an encrypted cluster "
                "(e.g. restore a snapshot of this one with a KMS key), or redeploy the provider with "
                "allow_unencrypted=True.",
                field="SourceClusterId",
                guardrail="allow_unencrypted",
            )
        # The clone runs with its source's cluster parameter group (core.clones._network_options).
        group = source.get("DBClusterParameterGroup")
        if (
            group
            and not guardrails.allow_tls_off
            and not tls_required(client("rds", provider.session), group, source["Engine"])
        ):
            raise GuardrailViolation(
                f"SourceClusterId '{source_id}' runs with cluster parameter group '{group}', which leaves TLS "
                "optional, and its clone would too: refused by this provider's guardrail 'allow_tls_off'. Nothing "
                "was changed. Give the source a parameter group that requires TLS, or redeploy the provider with "
                "allow_tls_off=True.",
                field="SourceClusterId",
                guardrail="allow_tls_off",
            )

    def _provision(
        self, props: dict[str, Any], request: Request, clone_id: str, max_age: Any, acu_given: bool
    ) -> ClonePlan:
        return provision_clone(
            props["SourceClusterId"],
            clone_id,
            instance_class=props["InstanceClass"],
            max_copy_age=None if max_age is None else timedelta(hours=max_age),
            copy_created_since=props["CopyCreatedSince"],
            copy_ok=props["CopyOk"],
            purge_obsolete_copies=props["PurgeObsoleteCopies"],
            max_clones_per_source=props["MaxClonesPerSource"],
            tags={**props["Tags"], **cfn_tags(request)},
            copy_instance_class=props["CopyInstanceClass"],
            serverless_v2_min_acu=props["ServerlessV2MinCapacity"] if acu_given else None,
            serverless_v2_max_acu=props["ServerlessV2MaxCapacity"] if acu_given else None,
            session=provider.session,
            clock=provider.clock,
            wait=False,
        )

    def _begin_update(self, provider: Provider, request: Request, props: dict[str, Any], state: CloneState) -> None:
        try:
            old = self.parse(request, request.old_properties or {})
        except InvalidRequest:
            old = {}  # old properties from an older schema: nothing to compare
        for name in immutable_changes(SCHEMA, old, props) if old else []:
            raise InvalidRequest(
                f"{name} cannot change in place (from {json.dumps(old.get(name))} to {json.dumps(props.get(name))}) "
                "while CloneClusterIdentifier stays the same. Set a new CloneClusterIdentifier, or leave it out so "
                "that dbscale derives one: CloudFormation then creates the new clone and deletes the old one.",
                field=name,
            )
        clone_id = props["CloneClusterIdentifier"]
        try:
            cluster = RdsProvisioning.open(clone_id, session=provider.session, clock=provider.clock)
        except ClusterNotFound:
            raise ClusterNotFound(
                f"clone '{clone_id}' no longer exists; remove the resource from the template and add it again "
                "(or give it a new CloneClusterIdentifier) to make a new clone"
            ) from None
        update_tags(cluster, old.get("Tags") or {}, props["Tags"])
        state.physical_id, state.resource.op = clone_id, None

    def _advance(self, provider: Provider, request: Request, props: dict[str, Any], state: CloneState) -> Progress:
        clone_id = str(state.physical_id)
        steps = state.resource
        while True:
            if steps.op:
                operation = Operation.from_dict(steps.op, session=provider.session, clock=provider.clock)
                result = operation.poll()
                steps.op = operation.to_dict()
                if result.failed:
                    raise OperationFailed(f"Aurora clone '{clone_id}': {result.reason}")
                if result.in_progress:
                    if not props["WaitForCompletion"] and waiting_only(operation):
                        try:
                            data = self.attributes(provider, clone_id)
                        except ClusterNotFound:
                            return Progress(clone_id, False, detail=result.reason)
                        data["InProgress"] = "true"
                        return Progress(clone_id, True, data, result.reason)
                    if state.signal and not state.answered:
                        # AWS accepted the operation's first request: answer now, signal the outcome later.
                        data = self._early_attributes(provider, clone_id, steps)
                        return Progress(clone_id, False, data, result.reason, answer_early=True)
                    return Progress(clone_id, False, detail=result.reason)
                steps.op = None
            if steps.converged:
                data = self.attributes(provider, clone_id)
                data["InProgress"] = "false"
                return Progress(clone_id, True, data)
            # Bring the writer to the declared class (and ACU range): a no-op right after a create.
            cluster = RdsProvisioning.open(clone_id, session=provider.session, clock=provider.clock)
            acu = None
            if props["ServerlessV2MaxCapacity"] is not None:
                acu = (props["ServerlessV2MinCapacity"], props["ServerlessV2MaxCapacity"])
            operation = cluster.rescale(
                new_instance_type=props["InstanceClass"],
                new_serverless_v2_capacity=acu,
                wait=False,
                after_pending=True,
            )
            steps.converged = True
            if operation.steps:
                steps.op = operation.to_dict()

    def _early_attributes(self, provider: Provider, clone_id: str, steps: CloneSteps) -> dict[str, str]:
        """The attributes of an answer sent before the operation is done, none of them guessed.

        A new clone (``cloned_from`` recorded by the create) has no endpoint, ARN or secret yet: only
        its identifier and origin are answered. An existing clone changing its writer's class keeps
        its endpoints, ARN and secret: they are answered as they are."""
        if steps.cloned_from is not None:
            known = {"ClusterIdentifier": clone_id, "ClonedFrom": steps.cloned_from}
            return text_attributes({name: known[name] for name in EARLY_ATTRIBUTES})
        return self.attributes(provider, clone_id)

    def attributes(self, provider: Provider, clone_id: str) -> dict[str, str]:
        cluster = RdsProvisioning.open(clone_id, session=provider.session, clock=provider.clock).describe()
        return text_attributes(
            {
                "Endpoint.Address": cluster.get("Endpoint"),
                "Endpoint.Port": cluster.get("Port"),
                "ReadEndpoint.Address": cluster.get("ReaderEndpoint"),
                "ClusterIdentifier": clone_id,
                "ClusterArn": cluster.get("DBClusterArn"),
                "ClonedFrom": tag_dict(cluster.get("TagList")).get(CLONE_OF_TAG_KEY),
                "SecretArn": (cluster.get("MasterUserSecret") or {}).get("SecretArn"),
            }
        )

    def _delete(self, provider: Provider, request: Request, state: CloneState) -> Progress:
        # Clones are disposable: no final snapshot unless FinalSnapshot is true.
        return delete_owned(
            provider,
            request,
            state.resource,
            open_cluster=lambda name: RdsProvisioning.open(name, session=provider.session, clock=provider.clock),
            final_snapshot=lambda: bool(parse(SCHEMA, request.properties)["FinalSnapshot"]),
            label="Aurora clone",
        )


provider = Provider(AuroraCloneResource())


def handler(event: dict[str, Any], context: Any) -> dict[str, Any] | None:
    """The Lambda entry point for Custom::AuroraClone."""
    return provider.handle(event, context)
