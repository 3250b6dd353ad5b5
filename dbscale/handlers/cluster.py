"""The lifecycle every cluster custom resource shares: create or adopt, converge, delete.

A resource type supplies its schema and five small hooks (open, create, converge, settings_operation,
attributes); this module owns the CloudFormation semantics: replacement on a new identifier,
immutable properties, adoption, idempotent retries, rollback over a running operation, and
never deleting a cluster this resource did not create.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from dbscale.cfn import LOG, Progress, Prop, Provider, Request, ResourceType, immutable_changes, parse
from dbscale.cfn.state import OperationState
from dbscale.core.errors import (
    ClusterAlreadyExists,
    ClusterNotFound,
    DbscaleError,
    GuardrailViolation,
    InvalidRequest,
    OperationFailed,
)
from dbscale.core.guardrails import Guardrails
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from dbscale.core.operation import Operation
from dbscale.core.preflight import check_preflight
from dbscale.core.validation import renamed, validate_cluster_identifier

from .plan_check import check_plan, with_plan
from .state import ClusterSteps, OperationSteps

STACK_TAG_KEY = "dbscale:cfn-stack-id"
LOGICAL_ID_TAG_KEY = "dbscale:cfn-logical-id"
MAX_CONVERGE_ROUNDS = 3
S = TypeVar("S", bound=OperationSteps)
ClusterState = OperationState[ClusterSteps]
"""The state of a cluster resource's request (its own part: :class:`~dbscale.handlers.state.ClusterSteps`)."""


def cfn_tags(request: Request) -> dict[str, str]:
    """The tags that mark a cluster as created by this stack's resource."""
    return {STACK_TAG_KEY: request.stack_id, LOGICAL_ID_TAG_KEY: request.logical_id}


def owned_by(tags: dict[str, str], request: Request) -> bool:
    """True when this very resource (same stack, same logical id) created the cluster."""
    return (
        tags.get(CREATED_BY_TAG_KEY) == CREATED_BY_TAG_VALUE
        and tags.get(STACK_TAG_KEY) == request.stack_id
        and tags.get(LOGICAL_ID_TAG_KEY) == request.logical_id
    )


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class ReplaceableResource(ResourceType[S]):
    """A resource whose identifier property names the cluster: a new identifier on Update means a
    replacement (create the new cluster; CloudFormation then deletes the old one), the same one an
    in-place update. Subclasses parse the properties and do each phase."""

    identifier_property: str = "ClusterIdentifier"
    argument_names: Mapping[str, str] = {}
    """The core's argument names -> this resource's property names, for InvalidRequest Reasons."""

    def check_request(self, request: Request) -> None:
        if request.request_type == "Delete":
            return  # a Delete must not fail on the properties that failed its Create
        try:
            self.parse(request)
        except InvalidRequest as err:
            raise renamed(err, self.argument_names) from None

    def step(self, provider: Provider, request: Request, state: OperationState[S]) -> Progress:
        try:
            return self._step(provider, request, state)
        except InvalidRequest as err:
            raise renamed(err, self.argument_names) from None

    def _step(self, provider: Provider, request: Request, state: OperationState[S]) -> Progress:
        if request.request_type == "Delete":
            return self._delete(provider, request, state)
        props = self.parse(request)
        if state.physical_id is None:
            if request.request_type == "Update" and request.physical_id == props[self.identifier_property]:
                self._begin_update(provider, request, props, state)
            else:
                self._begin_create(provider, request, props, state)
        return self._advance(provider, request, props, state)

    def parse(self, request: Request) -> dict[str, Any]:
        raise NotImplementedError

    def preflight(self, provider: Provider, props: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Check in AWS what the properties refer to before anything is created or changed (on an
        Update, ``old``, only what changed); one PreflightFailed lists every problem."""
        check_preflight(self.resource_type, props, provider.session, old=old)

    def _begin_create(
        self, provider: Provider, request: Request, props: dict[str, Any], state: OperationState[S]
    ) -> None:
        raise NotImplementedError

    def _begin_update(
        self, provider: Provider, request: Request, props: dict[str, Any], state: OperationState[S]
    ) -> None:
        raise NotImplementedError

    def _advance(
        self, provider: Provider, request: Request, props: dict[str, Any], state: OperationState[S]
    ) -> Progress:
        """Drive the started change on; done when the cluster is as declared."""
        raise NotImplementedError

    def _delete(self, provider: Provider, request: Request, state: OperationState[S]) -> Progress:
        raise NotImplementedError


class ClusterResource(ReplaceableResource[ClusterSteps]):
    """Base of Custom::RedshiftCluster and Custom::AuroraCluster."""

    state_type = ClusterSteps
    service = "cluster"
    schema: tuple[Prop, ...] = ()
    size_properties: tuple[str, ...] = ()
    """Properties an autoscaler may change; with ``Autoscaled`` an update that leaves them as they
    were keeps the cluster's current size instead of restoring the declared one."""
    settings: tuple[str, ...] = ()
    """Properties changed in place by :meth:`settings_operation` (not through rescale)."""
    encryption_property: str | None = None
    """The boolean property that turns encryption at rest on (guardrail ``allow_unencrypted``)."""
    public_property: str | None = None
    """The boolean property that makes the cluster reachable from the internet (``allow_public_access``)."""
    tls_property: str | None = None
    """The property :meth:`tls_setting` reads; on Update the setting is checked only when it changes."""

    # --- hooks ----------------------------------------------------------------------------

    def normalize(self, props: dict[str, Any]) -> dict[str, Any]:
        """Fill in defaults that depend on other properties (applied to old and new properties alike)."""
        return props

    def validate(self, props: dict[str, Any], request: Request) -> None:
        raise NotImplementedError

    def open(self, provider: Provider, cluster_id: str) -> Any:
        """The provisioning object of an existing cluster; ClusterNotFound when missing."""
        raise NotImplementedError

    def create(self, provider: Provider, props: dict[str, Any], tags: dict[str, str]) -> tuple[Any, Operation | None]:
        """Create the cluster: the provisioning object and its operation, or None for the operation when
        the cluster turned out to exist already (the core then opened it instead)."""
        raise NotImplementedError

    def converge(self, cluster: Any, props: dict[str, Any]) -> Operation:
        """An operation (not yet polled) bringing the cluster to the declared shape and paused state."""
        raise NotImplementedError

    def settings_operation(
        self, cluster: Any, changed: dict[str, Any], props: dict[str, Any], *, new_paused: bool | None
    ) -> Operation:
        """An operation (not yet polled) applying the ``changed`` settings once the cluster has settled:
        it resumes a paused cluster, applies, waits, and leaves it paused per ``new_paused``."""
        raise NotImplementedError

    def attributes(self, cluster: Any, request: Request) -> dict[str, str]:
        """Fn::GetAtt values; ``Adopted`` is true when this resource did not create the cluster."""
        raise NotImplementedError

    def tls_setting(self, provider: Provider, props: dict[str, Any]) -> tuple[str, str, bool] | None:
        """The property deciding whether clients must use TLS, its value, and whether the cluster
        will then require TLS (guardrail ``allow_tls_off``); None when nothing the template sets
        can turn TLS off. May read AWS (e.g. the parameters of a named parameter group)."""
        return None

    def guardrails(self) -> Guardrails:
        """This provider's guardrails, from its environment (strict when none are configured)."""
        return Guardrails.from_env()

    def check_guardrails(
        self, provider: Provider, props: dict[str, Any], old: dict[str, Any] | None, guardrails: Guardrails
    ) -> None:
        """Refuse the insecure settings ``guardrails`` do not allow, before any change is made.

        On Update (``old`` given) only a setting that changes is checked: a value the stack already
        runs with (allowed when it was made) must not fail an unrelated update or its rollback.
        """

        def changed(name: str) -> bool:
            return old is None or old.get(name) != props.get(name)

        if self.encryption_property and changed(self.encryption_property):
            guardrails.check_encrypted(bool(props[self.encryption_property]), field=self.encryption_property)
        if self.public_property and changed(self.public_property):
            guardrails.check_private(bool(props[self.public_property]), field=self.public_property)
        if self.tls_property is not None and not changed(self.tls_property):
            return  # the group the cluster runs with is not read again (it was checked when set)
        tls = self.tls_setting(provider, props)
        if tls is not None:
            name, value, required = tls
            guardrails.check_tls(required, field=name, value=value)

    def adoption_violations(self, provider: Provider, cluster: Any, guardrails: Guardrails) -> list[tuple[str, str]]:
        """(guardrail, what the cluster runs with) for each setting of an existing cluster that
        ``guardrails`` refuse (AdoptExisting): adopting must not bring in a cluster the provider
        would refuse to create. Default: nothing checked."""
        return []

    def lenient_old(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Old properties that do not parse as a whole (an older schema, or the failed update a
        rollback reverts): each property parsed on its own, the raw value where that fails, so the
        guardrails still compare old and new per property instead of checking everything."""
        values: dict[str, Any] = {}
        for prop in self.schema:
            try:
                values.update(parse((prop,), {prop.name: (raw or {}).get(prop.name)}))
            except InvalidRequest:
                values[prop.name] = (raw or {}).get(prop.name)
        try:
            return self.normalize(values)
        except Exception:  # normalize may need values that did not parse; the raw ones will do
            return values

    def expected_attributes(self, props: dict[str, Any]) -> dict[str, str]:
        """The attributes the declared properties will give once the operation is done (for an
        answer sent before it is: a completion signal's early SUCCESS)."""
        return {}

    # --- the lifecycle ----------------------------------------------------------------------

    def parse(self, request: Request) -> dict[str, Any]:
        props = self.normalize(parse(self.schema, request.properties))
        self.validate(props, request)
        if (
            request.request_type != "Delete"
            and request.properties.get("CompletionSignalUrl")
            and not props.get("WaitForCompletion", True)
        ):
            raise InvalidRequest(
                "WaitForCompletion false cannot go with a CompletionSignalUrl: the wait condition would never be "
                "signalled. Remove one of them.",
                field="WaitForCompletion",
            )
        return props

    def _begin_create(self, provider: Provider, request: Request, props: dict[str, Any], state: ClusterState) -> None:
        cluster_id = props["ClusterIdentifier"]
        guardrails = self.guardrails()
        try:
            cluster = self.open(provider, cluster_id)
        except ClusterNotFound:
            cluster = None
            self.preflight(provider, props, None)  # before the guardrails: they read a named parameter group
        if cluster is None or not owned_by(cluster.tags, request):
            # A cluster this resource made was checked when it was made: a retry, or the rollback of
            # a replacement back to it, must not be refused because the policy changed since.
            self.check_guardrails(provider, props, None, guardrails)
        if cluster is None:
            # From here on a create may reach AWS even if its answer is lost (a timeout, a
            # throttle after AWS acted): every answer must carry this id so the rollback Delete
            # finds the cluster. A Delete of a cluster that is not there, or not ours, is harmless.
            state.physical_id = cluster_id
            try:
                _, operation = self.create(provider, props, cfn_tags(request))
            except InvalidRequest:
                state.physical_id = None  # refused before anything was made: the marker id says so
                raise
            except ClusterAlreadyExists:
                # Another stack made it between the check above and the create (a twin delivery of this
                # request carries this request's tags, and the create goes on with it).
                state.physical_id = None
                raise ClusterAlreadyExists(
                    f"{self.service} cluster '{cluster_id}' was created by someone else while this resource "
                    "was creating it; choose another ClusterIdentifier"
                ) from None
            if operation is not None:
                state.resource.op = operation.to_dict()
        elif owned_by(cluster.tags, request):
            LOG.info("cluster %s was created by an earlier attempt of this resource; continuing", cluster_id)
        elif props["AdoptExisting"]:
            guardrails.check_adoption(cluster_id)
            violations = self.adoption_violations(provider, cluster, guardrails)
            if violations:
                found = "; ".join(f"{what} (guardrail '{name}')" for name, what in violations)
                raise GuardrailViolation(
                    f"AdoptExisting true for '{cluster_id}' is refused: the cluster runs with {found}, which this "
                    "provider refuses. Nothing was changed. Make the cluster comply first, or redeploy the "
                    "provider with that guardrail allowed.",
                    field="AdoptExisting",
                    guardrail=violations[0][0],
                )
            LOG.info("adopting existing cluster %s; it will never be deleted by this resource", cluster_id)
            state.resource.adopted = True
        else:
            raise ClusterAlreadyExists(
                f"{self.service} cluster '{cluster_id}' already exists and was not created by this resource. "
                "Set AdoptExisting to true to manage it (the stack will then never delete it), or choose "
                "another ClusterIdentifier."
            )
        state.physical_id = cluster_id

    def _begin_update(self, provider: Provider, request: Request, props: dict[str, Any], state: ClusterState) -> None:
        try:
            old = self.normalize(parse(self.schema, request.old_properties))
            guarded_old = old
        except InvalidRequest:
            old = {}  # old properties from an older schema: nothing to compare
            guarded_old = self.lenient_old(request.old_properties)
        for name in immutable_changes(self.schema, old, props) if old else []:
            raise InvalidRequest(
                f"{name} cannot change in place (from {json.dumps(old.get(name))} to {json.dumps(props.get(name))}). "
                "Set a new ClusterIdentifier to replace the cluster: CloudFormation then creates the new one and "
                "deletes the old one (after a final snapshot unless SkipFinalSnapshot is true).",
                field=name,
            )
        self.preflight(provider, props, old or None)
        self.check_guardrails(provider, props, guarded_old, self.guardrails())
        cluster_id = props["ClusterIdentifier"]
        cluster = self.open(provider, cluster_id)
        update_tags(cluster, old.get("Tags") or {}, props.get("Tags") or {})
        if props["Autoscaled"] and old and all(old.get(n) == props.get(n) for n in self.size_properties):
            state.resource.keep_size = True
        changed = {name: props[name] for name in self.settings if old and old.get(name) != props.get(name)}
        if changed:
            # Applied as steps of the operation (_advance): AWS refuses them on a paused or busy cluster.
            state.resource.settings = changed
        state.physical_id = cluster_id

    def _advance(self, provider: Provider, request: Request, props: dict[str, Any], state: ClusterState) -> Progress:
        cluster_id = str(state.physical_id)
        steps = state.resource
        if steps.keep_size:
            props = {**props, **dict.fromkeys(self.size_properties)}
        while True:
            if steps.op:
                operation = Operation.from_dict(steps.op, session=provider.session, clock=provider.clock)
                result = operation.poll()
                steps.op = operation.to_dict()
                if result.failed:
                    raise OperationFailed(f"{self.service} cluster '{cluster_id}': {result.reason}")
                if result.in_progress:
                    if not props["WaitForCompletion"]:
                        cluster = self.open(provider, cluster_id)
                        data = with_plan(self.attributes(cluster, request), steps)
                        data.update({"InProgress": "true", "Status": cluster.status})
                        return Progress(cluster_id, True, data, result.reason)
                    if state.signal and not state.answered:
                        # AWS accepted the change: answer with the declared end state now, signal later.
                        data = with_plan(self.attributes(self.open(provider, cluster_id), request), steps)
                        if not steps.keep_size:
                            data.update(self.expected_attributes(props))
                        return Progress(cluster_id, False, data, result.reason, answer_early=True)
                    return Progress(cluster_id, False, detail=result.reason)
                steps.op = None
            rounds = steps.rounds
            if rounds >= MAX_CONVERGE_ROUNDS:
                raise OperationFailed(
                    f"{self.service} cluster '{cluster_id}' did not reach the declared state after "
                    f"{rounds} rounds of changes; something outside this stack is changing it"
                )
            cluster = self.open(provider, cluster_id)
            if rounds == 0:
                self._check_plan(provider, cluster, props, state)
            operation = self.converge(cluster, props)
            changed, steps.settings = steps.settings, None
            if changed:
                operation = self._with_settings(provider, cluster, changed, props, operation)
            steps.rounds = rounds + 1
            if not operation.steps:
                data = with_plan(self.attributes(cluster, request), steps)
                data["InProgress"] = "false"
                return Progress(cluster_id, True, data)
            steps.op = operation.to_dict()

    def _check_plan(self, provider: Provider, cluster: Any, props: dict[str, Any], state: ClusterState) -> None:
        try:
            plan = self.plan(cluster, props)
        except DbscaleError:
            return  # a busy cluster (a rollback over a running operation): it is planned once settled
        check_plan(self.service, plan, props, state, provider.clock.now())

    def plan(self, cluster: Any, props: dict[str, Any]) -> Any:
        """The core's :class:`~dbscale.core.plan.RescalePlan` of what :meth:`converge` would do (None: no plan)."""
        return None

    def _with_settings(
        self, provider: Provider, cluster: Any, changed: dict[str, Any], props: dict[str, Any], converge: Operation
    ) -> Operation:
        """One operation: the settings first (after any running operation settles), then ``converge``.

        A non-empty converge plan ends in the declared paused state itself (its resume step is a
        no-op on a running cluster), so the settings leave the cluster running for it: one resume
        and one pause in all. Without one, the settings end in the declared state.
        """
        settings = self.settings_operation(
            cluster, changed, props, new_paused=False if converge.steps else props["Paused"]
        )
        return Operation(
            converge.service,
            converge.cluster_name,
            settings.steps + converge.steps,
            description=settings.description + (f", then {converge.description}" if converge.steps else ""),
            session=provider.session,
            clock=provider.clock,
        )

    def _delete(self, provider: Provider, request: Request, state: ClusterState) -> Progress:
        def final_snapshot() -> bool:
            return not parse(self.schema, request.properties)["SkipFinalSnapshot"]

        return delete_owned(
            provider,
            request,
            state.resource,
            open_cluster=lambda name: self.open(provider, name),
            final_snapshot=final_snapshot,
            label=f"{self.service} cluster",
        )


def update_tags(cluster: Any, old_tags: dict[str, str], new_tags: dict[str, str]) -> None:
    """Apply the change from ``old_tags`` to ``new_tags`` (both as declared) to ``cluster``."""
    add = {k: v for k, v in new_tags.items() if old_tags.get(k) != v}
    remove = [k for k in old_tags if k not in new_tags]
    if add or remove:
        cluster.update_tags(add, remove)


def delete_owned(
    provider: Provider,
    request: Request,
    steps: OperationSteps,
    *,
    open_cluster: Callable[[str], Any],
    final_snapshot: Callable[[], bool],
    label: str,
) -> Progress:
    """Delete the cluster of ``request``'s physical id, if this resource created it.

    A marker id (a Create that made nothing), a missing cluster, or one this stack and logical id
    did not create (adopted, foreign) is success without a change. ``final_snapshot()`` reads the
    request's properties; when they cannot be read, a final snapshot is taken (keep the data).
    The deletion is started once and then polled across invocations (``steps.op``).
    """
    cluster_id = request.physical_id or request.failed_create_id
    try:
        validate_cluster_identifier(cluster_id)
    except DbscaleError:
        LOG.info("physical id %s names no cluster (an earlier Create failed); nothing to delete", cluster_id)
        return Progress(cluster_id, True)
    if not steps.op:
        try:
            cluster = open_cluster(cluster_id)
        except ClusterNotFound:
            return Progress(cluster_id, True)
        if not owned_by(cluster.tags, request):
            LOG.info("cluster %s was not created by this resource (adopted or foreign); left untouched", cluster_id)
            return Progress(cluster_id, True)
        try:
            snapshot = bool(final_snapshot())
        except InvalidRequest:
            snapshot = True  # unreadable properties: keep the data
        steps.op = cluster.delete(final_snapshot=snapshot, wait=False).to_dict()
    operation = Operation.from_dict(steps.op, session=provider.session, clock=provider.clock)
    result = operation.poll()
    steps.op = operation.to_dict()
    if result.failed:
        raise OperationFailed(f"{label} '{cluster_id}': {result.reason}")
    return Progress(cluster_id, result.done, detail=result.reason)


def text_attributes(values: dict[str, object]) -> dict[str, str]:
    """Fn::GetAtt values are strings."""
    return {key: _text(value) for key, value in values.items()}
