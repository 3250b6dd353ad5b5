"""Changing a Redshift cluster through :class:`~dbscale.core.redshift.RedshiftProvisioning`: rescale
(elastic or classic resize, pause, resume), its plan, and ``ModifyCluster`` settings."""

from __future__ import annotations

from typing import Any

from ..operation import Operation
from ..plan import RescalePlan, redshift_plan
from ..validation import validate_flag, validate_positive_number
from .rescale import rescale_steps, validate_rescale
from .state import FORBIDDEN_OPTIONS, RedshiftState

# ModifyCluster parameters that are sent by other calls (ModifyClusterIamRoles, EnableLogging).
IAM_SETTINGS = frozenset({"IamRoles", "DefaultIamRoleArn"})
LOGGING_SETTING = "LoggingProperties"


class RedshiftChanges(RedshiftState):
    """The changing part of :class:`~dbscale.core.redshift.RedshiftProvisioning`: every change is an
    :class:`Operation`."""

    def rescale(
        self,
        new_cluster_size: int | None = None,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        resize_type: str = "auto",
        wait: bool = True,
        timeout_minutes: float = 180,
        after_pending: bool = False,
    ) -> Operation:
        """Bring the cluster to a node count, node type and paused state; None keeps the current one.

        A paused cluster that must be resized is resumed first and paused again afterwards when
        ``new_paused`` is True (or left None). ``resize_type`` is ``auto`` (elastic when AWS allows
        it, see :func:`choose_resize`), ``elastic`` or ``classic``. With ``wait`` (default True) it
        waits at most ``timeout_minutes`` (default 180: classic resize of a large cluster takes
        hours) and raises :class:`OperationTimeout` then; with ``wait=False`` it returns the started
        :class:`Operation` to poll. A cluster mid-operation raises :class:`InvalidState` unless
        ``after_pending`` is True, in which case the plan first waits for it to settle. Nothing to
        change returns an operation that is already done. Every argument but the first is
        keyword-only; flags must be real bools (``new_paused="yes"`` is an error, not True).
        """
        validate_flag(new_paused, field="new_paused", optional=True)
        for flag_name, flag in {"wait": wait, "after_pending": after_pending}.items():
            validate_flag(flag, field=flag_name)
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        validate_rescale(new_cluster_size, new_instance_type, resize_type)
        steps, description, _ = rescale_steps(
            self._name, self._describe(), new_cluster_size, new_paused, new_instance_type, resize_type, after_pending
        )
        return self._start(steps, description, wait, timeout_minutes)

    def plan_rescale(
        self,
        new_cluster_size: int | None = None,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        resize_type: str = "auto",
    ) -> RescalePlan:
        """What :meth:`rescale` with these arguments would do, without doing it: the steps (resume,
        elastic or classic resize, re-pause), the expected duration and the read-only window, from
        AWS's documented figures (:data:`dbscale.core.plan.STEP_FIGURES`). Same validation and
        errors as :meth:`rescale`; a cluster mid-operation raises :class:`InvalidState`."""
        validate_flag(new_paused, field="new_paused", optional=True)
        validate_rescale(new_cluster_size, new_instance_type, resize_type)
        steps, description, paused_now = rescale_steps(
            self._name, self._describe(), new_cluster_size, new_paused, new_instance_type, resize_type, False
        )
        return redshift_plan(self._name, description, steps, paused_now)

    def modify_settings(
        self,
        *,
        new_paused: bool | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        after_pending: bool = False,
        reboot_for_parameter_changes: bool = False,
        then_delete_parameter_group: dict[str, Any] | None = None,
        **params: Any,
    ) -> Operation:
        """Apply ``ModifyCluster`` parameters (AWS names, e.g. ``VpcSecurityGroupIds``, ``Port``),
        plus ``IamRoles`` (the full list; sent with ``DefaultIamRoleArn`` by ModifyClusterIamRoles)
        and ``LoggingProperties`` (sent by EnableLogging/DisableLogging, see
        :func:`~dbscale.core.redshift.settings.normalize_logging`).

        AWS accepts these calls only from an ``available`` cluster, so this is an operation: a
        paused cluster is resumed first, the settings are applied, the operation waits until the
        cluster is ``available`` again (no longer ``modifying``), then pauses it again. The paused
        state at the end is ``new_paused`` (None, the default: the state the cluster was in).
        Settings already in effect are not sent again. A new parameter group's values apply at the
        next reboot: with ``reboot_for_parameter_changes`` (default False) the cluster is rebooted
        when AWS reports them ``pending-reboot``, never otherwise. ``then_delete_parameter_group``
        (``{"group": ..., "tags": {...}}``) deletes dbscale's former parameter group at the end, if
        it carries those tags. ``wait`` (default True) waits at most ``timeout_minutes`` (default
        60); with ``wait=False`` the started :class:`Operation` is returned to poll. A cluster
        mid-operation raises :class:`InvalidState` unless ``after_pending`` is True: then the
        operation first waits for it to settle.
        """
        refused = FORBIDDEN_OPTIONS | {"MasterUserPassword", "NodeType", "NumberOfNodes", "ClusterType"}
        validate_flag(reboot_for_parameter_changes, field="reboot_for_parameter_changes")
        groups = [
            group
            for group in (
                {k: v for k, v in params.items() if k not in IAM_SETTINGS and k != LOGGING_SETTING},
                {k: v for k, v in params.items() if k in IAM_SETTINGS},
                {k: v for k, v in params.items() if k == LOGGING_SETTING},
            )
            if group
        ]
        tail: list[dict[str, Any]] = []
        if reboot_for_parameter_changes and "ClusterParameterGroupName" in params:
            tail.append({"action": "reboot_for_parameters"})
        if then_delete_parameter_group:
            tail.append({"action": "delete_parameter_group", **then_delete_parameter_group})
        if len(groups) <= 1 and not tail:
            return self._modify(
                refused,
                params,
                new_paused=new_paused,
                wait=wait,
                timeout_minutes=timeout_minutes,
                after_pending=after_pending,
            )
        if new_paused is None:
            new_paused = self.status in ("paused", "pausing")
        steps: list[dict[str, Any]] = []
        for index, group in enumerate(groups):
            last = index == len(groups) - 1 and not tail
            steps += self._modify(
                refused,
                group,
                new_paused=new_paused if last else False,
                wait=False,
                timeout_minutes=timeout_minutes,
                after_pending=after_pending,
            ).steps
            if index == 0 and tail and tail[0]["action"] == "reboot_for_parameters":
                steps.append(tail.pop(0))  # right after the parameter group changed
        steps += tail
        if tail or not groups or steps[-1]["action"] != "apply_settings":
            steps.append({"action": "apply_settings", "settings": {}, "paused": new_paused})
        names = ", ".join(sorted(params)) or "no settings"
        return self._start(steps, f"change {names} of {self._label} '{self._name}'", wait, timeout_minutes)
