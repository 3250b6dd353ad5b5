"""What Redshift and Aurora provisioning share: adopt-or-create, ownership, tags, delete, step running.

Each service module subclasses :class:`ClusterProvisioning` and :class:`ClusterSteps` and fills in
the class attributes and hooks that differ (AWS's names for the same things, the create and delete
plans); the logic here is the same for both services.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .aws import aws_errors, checked_tag_changes, client, final_snapshot_name, tag_dict, tag_list, tags_include
from .clock import SYSTEM_CLOCK, Clock
from .errors import AwsError, ClusterAlreadyExists, ClusterNotFound, ClusterNotOwned, InvalidRequest, InvalidState
from .limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE, TAG_KEY_MAX_LENGTH
from .operation import Operation, StepOutcome, StepTable, step
from .validation import (
    validate_aws_options,
    validate_cluster_identifier,
    validate_flag,
    validate_positive_number,
    validate_tags,
    validate_text,
)

if TYPE_CHECKING:
    import boto3

# How a described cluster shows a setting given in a Modify* call's own name: a key of the
# description, or a function of it. Lists compare as sets (security group ids).
SettingReader = str | Callable[[dict[str, Any]], Any]


def settings_in_effect(cluster: dict[str, Any], settings: dict[str, Any], readers: dict[str, SettingReader]) -> bool:
    """True when every setting already has the wanted value in ``cluster`` (a Describe* item),
    or is pending with it (``PendingModifiedValues``). A setting the description lacks is not in effect."""
    pending = cluster.get("PendingModifiedValues") or {}
    for key, wanted in settings.items():
        reader = readers.get(key, key)
        current = reader(cluster) if callable(reader) else cluster.get(reader, _ABSENT)
        queued = pending.get(reader, _ABSENT) if isinstance(reader, str) else _ABSENT
        if isinstance(wanted, (list, tuple)):
            wanted = sorted(wanted)
            current = sorted(current) if isinstance(current, (list, tuple)) else current
        if current != wanted and queued != wanted:
            return False
    return True


_ABSENT = object()


def describe_one(what: str, listing: Callable[[], list[dict[str, Any]]]) -> dict[str, Any]:
    """The first item ``listing`` returns (a Describe* call); :class:`ClusterNotFound` when it is empty.

    ``what`` names the resource in errors, e.g. ``"Redshift cluster 'a'"``.
    """
    with aws_errors(f"describe {what}"):
        found = listing()
    if not found:
        raise ClusterNotFound(f"{what} does not exist")
    first: dict[str, Any] = found[0]
    return first


@dataclass(frozen=True)
class ConnectionInfo:
    """How to reach a cluster. The password stays in Secrets Manager under ``secret_arn``."""

    host: str | None
    port: int | None
    database: str | None
    user: str | None
    secret_arn: str | None
    reader_host: str | None = None


_Provisioning = TypeVar("_Provisioning", bound="ClusterProvisioning")


class ClusterProvisioning:
    """Base of :class:`~dbscale.core.redshift.RedshiftProvisioning` and
    :class:`~dbscale.core.aurora.RdsProvisioning`: one cluster, read fresh from AWS on every access.

    AWS is called in named methods only: :meth:`open` (adopt an existing cluster) and each service's
    ``create`` classmethod. A service's constructor is the seed's get-or-create call, made of the two.
    """

    # Also the Operation kind, which names the service's step runner.
    service: ClassVar[str]
    _client_service: ClassVar[str]
    # How messages name the cluster, e.g. "Redshift cluster".
    _label: ClassVar[str]
    _tags_key: ClassVar[str]
    _already_exists_codes: ClassVar[frozenset[str]]
    _reserved_options: ClassVar[frozenset[str]]
    _forbidden_options: ClassVar[frozenset[str]]
    _managed_password_option: ClassVar[str]
    # The client methods that add and remove tags, both taking ResourceName.
    _tagging_calls: ClassVar[tuple[str, str]]
    # Where the description holds the cluster's status, and the states a change may start from.
    _status_key: ClassVar[str]
    _settled_states: ClassVar[frozenset[str]]

    def _bind(self, cluster_name: str, session: boto3.Session | None, clock: Clock | None) -> None:
        """Store the cluster's name, session and clock and make the client: no AWS call."""
        self._name = validate_cluster_identifier(cluster_name)
        self._session = session
        self._clock = clock or SYSTEM_CLOCK
        self._client = client(self._client_service, session)
        self.pending_operation: Operation | None = None

    @classmethod
    def _unopened(
        cls: type[_Provisioning], cluster_name: str, session: boto3.Session | None, clock: Clock | None
    ) -> _Provisioning:
        """The object for ``cluster_name`` without any AWS call (the constructor is the seed's get-or-create)."""
        made = cls.__new__(cls)
        made._bind(cluster_name, session, clock)
        return made

    @classmethod
    def open(
        cls: type[_Provisioning],
        cluster_name: str,
        *,
        session: boto3.Session | None = None,
        clock: Clock | None = None,
    ) -> _Provisioning:
        """The existing cluster ``cluster_name``, checked with one Describe call; :class:`ClusterNotFound`
        when it does not exist."""
        opened = cls._unopened(cluster_name, session, clock)
        opened._describe()
        return opened

    def _open_or_create(self, create: Callable[[], Operation] | None, hint: str) -> None:
        """The seed's get-or-create: adopt the cluster (one Describe call), or, when it is missing, send
        ``create``; without ``create`` a missing cluster raises :class:`ClusterNotFound` ending in ``hint``."""
        try:
            self._describe()
        except ClusterNotFound:
            if create is None:
                raise ClusterNotFound(f"{self._label} '{self._name}' does not exist; {hint}") from None
            create()

    # --- hooks ------------------------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def _arn(self, cluster: dict[str, Any]) -> str:
        raise NotImplementedError

    def _delete_steps(self, snapshot: str | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _check_deletable(self, cluster: dict[str, Any]) -> None:
        """Raise when AWS would refuse the delete for a reason only a human can lift."""

    # --- creation ---------------------------------------------------------------------------

    @classmethod
    def _create_options(cls, create_options: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        for key in create_options:
            if key in cls._forbidden_options:
                raise InvalidRequest(
                    f"{key} is not accepted: dbscale lets AWS generate the master password and keep "
                    "it in Secrets Manager",
                    field=key,
                )
            if key in cls._reserved_options:
                raise InvalidRequest(f"{key} is set by dbscale from its own arguments", field=key)
        validate_aws_options(create_options)
        options = dict(create_options)
        tags = tag_dict(options.pop("Tags", None))
        tags[CREATED_BY_TAG_KEY] = CREATED_BY_TAG_VALUE
        return {
            **defaults,
            **options,
            cls._managed_password_option: True,
            "Tags": tag_list(tags),
        }

    def _create(
        self,
        create: Callable[..., Any],
        params: dict[str, Any],
        steps: list[dict[str, Any]],
        description: str,
        wait: bool,
        timeout_minutes: float,
    ) -> Operation:
        """Send the create call (no Describe first) and start the operation of ``steps`` after it.

        A cluster that exists already is this create's own when it carries exactly its tags (a retry);
        otherwise :class:`ClusterAlreadyExists`."""
        try:
            with aws_errors(f"create {self._label} '{self._name}'"):
                create(**params)
        except AwsError as err:
            # A retried create whose first attempt went through (a timeout or 5xx after AWS
            # accepted it) answers "already exists": the cluster carrying exactly our tags is ours.
            if err.code not in self._already_exists_codes:
                raise
            if not tags_include(tag_dict(self._describe().get(self._tags_key)), tag_dict(params["Tags"])):
                raise ClusterAlreadyExists(f"{self._label} '{self._name}' already exists") from None
        self.pending_operation = self._operation(steps, description)
        if wait:
            self.pending_operation.wait(timeout_minutes=timeout_minutes)
        return self.pending_operation

    # --- state, read fresh from AWS -------------------------------------------------------

    def _owned(self, cluster: dict[str, Any]) -> bool:
        return tag_dict(cluster.get(self._tags_key)).get(CREATED_BY_TAG_KEY) == CREATED_BY_TAG_VALUE

    @property
    def cluster_name(self) -> str:
        return self._name

    @property
    def adopted(self) -> bool:
        """True when dbscale did not create the cluster (so it will not delete it without force)."""
        return not self._owned(self._describe())

    @property
    def tags(self) -> dict[str, str]:
        """The cluster's tags."""
        return tag_dict(self._describe().get(self._tags_key))

    # --- changes ----------------------------------------------------------------------------

    def _modify(
        self,
        refused: Collection[str],
        params: dict[str, Any],
        *,
        new_paused: bool | None,
        wait: bool,
        timeout_minutes: float,
        after_pending: bool,
        step_fields: dict[str, Any] | None = None,
    ) -> Operation:
        """The operation that applies ``params`` (a Modify* call's parameters); see ``modify_settings``."""
        for key in params:
            if key in refused:
                raise InvalidRequest(f"{key} cannot be changed through modify_settings", field=key)
        validate_aws_options(params)
        if new_paused is not None and not isinstance(new_paused, bool):
            raise InvalidRequest(f"new_paused must be True, False or None, got {new_paused!r}", field="new_paused")
        if not params and new_paused is None and not set(step_fields or {}) - {"apply_immediately"}:
            return self._operation([], f"no settings to change on {self._label} '{self._name}'")
        status = str(self._describe()[self._status_key])
        if status not in self._settled_states and not after_pending:
            raise InvalidState(
                f"{self._label} '{self._name}' is '{status}'; wait until it has settled before changing "
                "its settings, or pass after_pending=True"
            )
        step = {"action": "apply_settings", "settings": dict(params), "paused": new_paused, **(step_fields or {})}
        names = ", ".join(sorted(params)) or "no settings"
        return self._start([step], f"change {names} of {self._label} '{self._name}'", wait, timeout_minutes)

    def update_tags(self, add: dict[str, str], remove: list[str] | tuple[str, ...] = ()) -> None:
        """Add or overwrite the tags ``add`` and delete the keys in ``remove`` (dbscale's own tag is kept)."""
        validate_tags(add, field="add")
        for key in remove:
            validate_text(key, field="remove", max_length=TAG_KEY_MAX_LENGTH)
        arn = self._arn(self._describe())
        remove = checked_tag_changes(add, remove)
        add_tags, remove_tags = (getattr(self._client, call) for call in self._tagging_calls)
        with aws_errors(f"tag {self._label} '{self._name}'"):
            if add:
                add_tags(ResourceName=arn, Tags=tag_list(add))
            if remove:
                remove_tags(ResourceName=arn, TagKeys=list(remove))

    def delete(
        self,
        *,
        final_snapshot: bool = True,
        force: bool = False,
        wait: bool = True,
        snapshot_identifier: str | None = None,
        timeout_minutes: float = 60,
    ) -> Operation:
        """Delete the cluster (for Aurora: its instances, then the cluster), by default after a final
        snapshot ``<cluster>-final-<UTC timestamp>``. For Aurora the snapshot name is checked
        (free, valid) before any instance is deleted; a taken name fails the operation with nothing deleted.

        Refuses (:class:`ClusterNotOwned`) to delete a cluster dbscale did not create unless
        ``force``. A cluster that does not exist is a no-op (an operation that is already done).
        ``wait``/``timeout_minutes`` (default 60) as for :meth:`rescale`.
        """
        for flag_name, flag in {"final_snapshot": final_snapshot, "force": force, "wait": wait}.items():
            validate_flag(flag, field=flag_name)
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        try:
            c = self._describe()
        except ClusterNotFound:
            return self._operation([], f"delete {self._label} '{self._name}' (already gone)")
        if not self._owned(c) and not force:
            raise ClusterNotOwned(
                f"{self._label} '{self._name}' was not created by dbscale; pass force=True to delete it"
            )
        self._check_deletable(c)
        snapshot = None
        if final_snapshot:
            snapshot = final_snapshot_name(self._name, self._clock, snapshot_identifier)
        return self._start(
            self._delete_steps(snapshot),
            f"delete {self._label} '{self._name}'"
            + (f" with final snapshot '{snapshot}'" if snapshot else " without a final snapshot"),
            wait,
            timeout_minutes,
        )

    def _operation(self, steps: list[dict[str, Any]], description: str) -> Operation:
        return Operation(
            self.service, self._name, steps, description=description, session=self._session, clock=self._clock
        )

    def _start(self, steps: list[dict[str, Any]], description: str, wait: bool, timeout_minutes: float) -> Operation:
        op = self._operation(steps, description)
        if wait:
            op.wait(timeout_minutes=timeout_minutes)
        return op


class ClusterSteps(StepTable):
    """Base of the services' step runners: the steps whose logic does not depend on the service."""

    _client_service: ClassVar[str]
    # How messages name the service, e.g. "Redshift".
    _service_label: ClassVar[str]
    # True: a step method also receives the step's other fields as keyword arguments.
    _fields_as_arguments: ClassVar[bool]
    _status_key: ClassVar[str]
    # Cluster states a change may start from.
    _settled: ClassVar[frozenset[str]]

    def __init__(self, *, session: boto3.Session | None = None, clock: Clock | None = None) -> None:
        self._client = client(self._client_service, session)

    def run(self, cluster_name: str, step: dict[str, Any]) -> StepOutcome:
        """Run one step on the cluster: the method marked ``@step(step["action"])`` (see :attr:`STEPS`)."""
        action = step["action"]
        args = {k: v for k, v in step.items() if k != "action"} if self._fields_as_arguments else {}
        method = self.STEPS.get(action)
        if method is None:
            return StepOutcome.fail(f"unknown {self._service_label} step '{action}'")
        outcome: StepOutcome = method(self, cluster_name, step, **args)
        return outcome

    def _cluster(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _cluster_if_exists(self, name: str) -> dict[str, Any] | None:
        try:
            return self._cluster(name)
        except ClusterNotFound:
            return None

    def _cluster_broken(self, name: str, cluster: dict[str, Any]) -> StepOutcome | None:
        """A failed outcome when the cluster is in a state no amount of waiting fixes."""
        raise NotImplementedError

    @step("wait_settled")
    def _wait_settled(self, name: str, step: dict[str, Any]) -> StepOutcome:
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        if c[self._status_key] in self._settled:
            return StepOutcome.next()
        return StepOutcome.wait(f"waiting for the running '{c[self._status_key]}' operation to finish")

    @step("planned")
    def _planned(self, name: str, step: dict[str, Any], **_: Any) -> StepOutcome:
        remaining = step["steps"]
        while remaining:
            outcome = self.run(name, remaining[0])
            if outcome.kind != "next":
                return outcome
            remaining.pop(0)
        return StepOutcome.next()

    # --- settings (Modify* parameters) as steps: resume, apply, wait, pause again -------------

    # The status of a paused (stopped) cluster, and the steps that leave and re-enter it.
    _paused_status: ClassVar[str]
    _resume_steps: ClassVar[tuple[str, ...]]
    _pause_steps: ClassVar[tuple[str, ...]]
    # Cluster states AWS accepts a Modify* call in.
    _modifiable: ClassVar[frozenset[str]]
    # How the description shows each setting (see :func:`settings_in_effect`).
    _setting_readers: ClassVar[dict[str, SettingReader]] = {}

    def _settings_in_effect(self, name: str, cluster: dict[str, Any], settings: dict[str, Any]) -> bool:
        """Whether ``settings`` are in effect (or pending) on ``cluster``; a service may read more than
        the description for settings it does not show (e.g. Redshift's logging)."""
        return settings_in_effect(cluster, settings, self._setting_readers)

    def _send_settings(self, name: str, settings: dict[str, Any], step: dict[str, Any]) -> None:
        """The Modify* call itself."""
        raise NotImplementedError

    @step("apply_settings")
    def _apply_settings(self, name: str, step: dict[str, Any], **_: Any) -> StepOutcome:
        # AWS refuses Modify* on a paused or busy cluster: wait until it settles, then plan from the
        # state it settled in (resume if paused, apply, wait, pause again) and run the plan inline.
        c = self._cluster(name)
        if (broken := self._cluster_broken(name, c)) is not None:
            return broken
        status = c[self._status_key]
        if status not in self._settled:
            return StepOutcome.wait(f"waiting for the running '{status}' operation to finish before changing settings")
        paused_now = status == self._paused_status
        paused_after = paused_now if step["paused"] is None else bool(step["paused"])
        changes = self._settings_changes(name, c, step)
        plan: list[dict[str, Any]] = []
        if paused_now and (changes or not paused_after):
            plan += [{"action": action} for action in self._resume_steps]
        plan += changes
        if paused_after and (changes or not paused_now):
            plan += [{"action": action} for action in self._pause_steps]
        step.clear()
        step.update({"action": "planned", "steps": plan})
        return self._planned(name, step)

    def _settings_changes(self, name: str, cluster: dict[str, Any], step: dict[str, Any]) -> list[dict[str, Any]]:
        """The steps that apply ``step``'s settings to the settled ``cluster`` (none when in effect)."""
        if not step["settings"] or self._settings_in_effect(name, cluster, step["settings"]):
            return []
        extra = {k: v for k, v in step.items() if k not in ("action", "settings", "paused")}
        return [
            {"action": "wait_available"},
            {"action": "modify_settings", "settings": step["settings"], **extra},
            {"action": "wait_available"},
        ]

    @step("modify_settings")
    def _modify_settings(self, name: str, step: dict[str, Any], **_: Any) -> StepOutcome:
        c = self._cluster(name)
        settings = step["settings"]
        if self._settings_in_effect(name, c, settings):
            return StepOutcome.next()  # applied already, e.g. by an earlier, interrupted poll
        status = c[self._status_key]
        if status not in self._modifiable:
            return StepOutcome.wait(f"cluster is '{status}', waiting for it to accept the settings")
        self._send_settings(name, settings, step)
        return StepOutcome.next()

    @step("wait_deleted")
    def _wait_deleted(self, name: str, step: dict[str, Any]) -> StepOutcome:
        if (c := self._cluster_if_exists(name)) is None:
            return StepOutcome.next()
        return StepOutcome.wait(f"cluster is '{c[self._status_key]}', waiting for it to be deleted")
