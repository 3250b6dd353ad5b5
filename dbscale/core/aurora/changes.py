"""Changing an Aurora cluster through :class:`~dbscale.core.aurora.RdsProvisioning`: rescale (instance
class, readers, ACU range, stop/start), its plan, ``ModifyDBCluster`` settings, the Data API and auto-pause."""

from __future__ import annotations

from typing import Any

from ..aws import aws_errors
from ..engine_versions import resolve_engine_version, satisfies
from ..errors import InvalidState
from ..operation import Operation
from ..plan import RescalePlan, aurora_plan
from ..validation import validate_auto_pause, validate_flag, validate_positive_number
from .describe import SETTLED
from .rescale import plan_rescale, rescale_description, rescale_request
from .state import FORBIDDEN_OPTIONS, RESERVED_OPTIONS, AuroraState


class AuroraChanges(AuroraState):
    """The changing part of :class:`~dbscale.core.aurora.RdsProvisioning`: every change but the Data API
    and auto-pause switches is an :class:`Operation`."""

    def rescale(
        self,
        immediate: bool = True,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        new_reader_count: int | None = None,
        new_serverless_v2_capacity: tuple[float, float] | None = None,
        new_seconds_until_auto_pause: int | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        after_pending: bool = False,
        instance_settings: dict[str, Any] | None = None,
    ) -> Operation:
        """Bring the cluster to an instance class, reader count, ACU range and stopped state.

        None keeps the current value. A stopped cluster that must change is started first and
        stopped again afterwards when ``new_paused`` is True (or left None).

        Instance class, ``immediate=True`` (default): readers are modified one at a time (each
        reboots while the others serve reads); the writer is never rebooted in place: a new
        instance of the new class is added, and when it is available the cluster fails over to it
        (one failover, typically under a minute of write unavailability, instead of a 5-10 minute
        reboot), then the old writer is deleted.

        ``immediate=False``: every instance's class change is submitted with
        ``ApplyImmediately=False``, so AWS applies it in that instance's next maintenance window,
        as an in-place reboot of each instance (writer included: no failover swap happens, because a
        swap cannot be deferred). The ACU range change is likewise deferred. Reader count changes
        and start/stop cannot be deferred and happen now.

        ``new_seconds_until_auto_pause`` (300 to 86,400) goes with a Serverless v2 minimum of 0 ACU:
        how long an idle instance waits before Aurora pauses it.

        ``instance_settings``: CreateDBInstance parameters for the instances it adds (see
        :mod:`dbscale.core.aurora.settings`); None (default) gives them the writer's.

        ``wait``, ``timeout_minutes`` (default 60) and ``after_pending`` as for
        :meth:`RedshiftProvisioning.rescale`. Every argument but the first is keyword-only; flags
        must be real bools (``rescale(True, "db.r6g.xlarge")`` is a TypeError, not a stop).
        """
        validate_flag(new_paused, field="new_paused", optional=True)
        for flag_name, flag in {"immediate": immediate, "wait": wait, "after_pending": after_pending}.items():
            validate_flag(flag, field=flag_name)
        validate_positive_number(timeout_minutes, field="timeout_minutes")
        request = rescale_request(
            immediate,
            new_paused,
            new_instance_type,
            new_reader_count,
            new_serverless_v2_capacity,
            new_seconds_until_auto_pause,
            instance_settings,
        )
        steps, description = self._rescale_steps(request, after_pending)
        return self._start(steps, description, wait, timeout_minutes)

    def plan_rescale(
        self,
        immediate: bool = True,
        *,
        new_paused: bool | None = None,
        new_instance_type: str | None = None,
        new_reader_count: int | None = None,
        new_serverless_v2_capacity: tuple[float, float] | None = None,
        new_seconds_until_auto_pause: int | None = None,
    ) -> RescalePlan:
        """What :meth:`rescale` with these arguments would do, without doing it: the steps (start,
        readers added or changed, new writer and failover, old writer deleted, stop), the expected
        duration and the write-unavailable window, from AWS's documented figures
        (:data:`dbscale.core.plan.STEP_FIGURES`). Same validation and errors as :meth:`rescale`;
        a cluster mid-operation raises :class:`InvalidState`."""
        validate_flag(new_paused, field="new_paused", optional=True)
        validate_flag(immediate, field="immediate")
        request = rescale_request(
            immediate,
            new_paused,
            new_instance_type,
            new_reader_count,
            new_serverless_v2_capacity,
            new_seconds_until_auto_pause,
            None,
        )
        steps, description = self._rescale_steps(request, False)
        return aurora_plan(self._name, description, steps, immediate)

    def _rescale_steps(self, request: dict[str, Any], after_pending: bool) -> tuple[list[dict[str, Any]], str]:
        """The steps of the checked ``request`` (:func:`~dbscale.core.aurora.rescale.rescale_request`) and
        their description."""
        c = self._describe()
        steps: list[dict[str, Any]]
        if c["Status"] not in SETTLED:
            if not after_pending:
                raise InvalidState(
                    f"Aurora cluster '{self._name}' is '{c['Status']}'; wait until it is available or "
                    "stopped before changing it"
                )
            steps = [{"action": "wait_settled"}, {"action": "replan", **request}]
        else:
            steps = plan_rescale(self._client, c, request)
        return steps, rescale_description(self._name, request)

    def modify_settings(
        self,
        *,
        apply_immediately: bool = True,
        new_paused: bool | None = None,
        wait: bool = True,
        timeout_minutes: float = 60,
        after_pending: bool = False,
        instance_settings: dict[str, Any] | None = None,
        reboot: bool = False,
        **params: Any,
    ) -> Operation:
        """Apply ``ModifyDBCluster`` parameters (AWS names, e.g. ``BackupRetentionPeriod``).

        AWS refuses ModifyDBCluster on a stopped (or starting, stopping, modifying) cluster, so this
        is an operation: a stopped cluster is started, the operation waits until the cluster and
        every instance are available, applies the settings, waits again, then stops the cluster
        again. The stopped state at the end is ``new_paused`` (None, the default: the state the
        cluster was in). Settings already in effect are not sent again. With
        ``apply_immediately=False`` AWS applies what it can defer in the maintenance window.
        ``wait``, ``timeout_minutes`` (default 60) and ``after_pending`` as for
        :meth:`RedshiftProvisioning.modify_settings`. Returns the operation (dbscale 0.1.0
        returned None as soon as AWS accepted the call). An ``EngineVersion`` the cluster already
        satisfies (its own, or its major) is no change; another major is resolved like at create time.

        ``instance_settings`` (ModifyDBInstance parameters, see :mod:`dbscale.core.aurora.settings`)
        are applied to every instance that lacks them. ``reboot`` (default False) reboots each
        instance whose parameter group change waits for a reboot (``pending-reboot``), readers first;
        without it those changes wait for the next reboot.
        """
        validate_flag(apply_immediately, field="apply_immediately")
        if params.get("EngineVersion") is not None:
            running = self._describe()
            if satisfies(running["Engine"], params["EngineVersion"], running["EngineVersion"]):
                params = {k: v for k, v in params.items() if k != "EngineVersion"}
            else:
                params["EngineVersion"] = resolve_engine_version(
                    self._client, running["Engine"], params["EngineVersion"]
                )
        return self._modify(
            FORBIDDEN_OPTIONS | (RESERVED_OPTIONS - {"EngineVersion"}),
            params,
            new_paused=new_paused,
            wait=wait,
            timeout_minutes=timeout_minutes,
            after_pending=after_pending,
            step_fields={
                "apply_immediately": apply_immediately,
                **({"instance_settings": dict(instance_settings)} if instance_settings else {}),
                **({"reboot": True} if reboot else {}),
            },
        )

    def set_http_endpoint(self, enabled: bool) -> None:
        """Turn the RDS Data API (the cluster's HTTP endpoint) on or off (EnableHttpEndpoint /
        DisableHttpEndpoint: Serverless v2 and provisioned clusters of engine versions that support it)."""
        arn = self._describe()["DBClusterArn"]
        with aws_errors(f"{'enable' if enabled else 'disable'} the Data API of Aurora cluster '{self._name}'"):
            if enabled:
                self._client.enable_http_endpoint(ResourceArn=arn)
            else:
                self._client.disable_http_endpoint(ResourceArn=arn)

    def set_auto_pause(
        self, seconds: int, *, capacity: tuple[float, float] | None = None, apply_immediately: bool = True
    ) -> None:
        """Set how long (300-86400 s) a 0-ACU-minimum Serverless v2 cluster idles before it pauses.

        ``capacity``: the (min, max) ACU range to send with it. Default None: the cluster's current one.
        """
        current = self._describe().get("ServerlessV2ScalingConfiguration") or {}
        config = {"MinCapacity": capacity[0], "MaxCapacity": capacity[1]} if capacity else current
        checked = validate_auto_pause(seconds, config.get("MinCapacity"), field="seconds", min_field="MinCapacity")
        with aws_errors(f"set the auto-pause delay of Aurora cluster '{self._name}'"):
            self._client.modify_db_cluster(
                DBClusterIdentifier=self._name,
                ServerlessV2ScalingConfiguration={
                    "MinCapacity": config["MinCapacity"],
                    "MaxCapacity": config["MaxCapacity"],
                    "SecondsUntilAutoPause": checked,
                },
                ApplyImmediately=apply_immediately,
            )
