"""Slow AWS: moto's instant state changes become timed status transitions on a :class:`FakeClock`.

While a :class:`SlowAws` is installed, moto's Redshift and RDS backends are wrapped so that, e.g.,
a new Redshift cluster is ``creating`` for 600 simulated seconds before it is ``available``, a
classic resize keeps the old shape (and DescribeResize says ``IN_PROGRESS``) until it completes,
and a deleted Aurora instance stays ``deleting`` for a while before it disappears.

States advance lazily: every wrapped backend call (describes included) first applies whatever
transitions are due at ``clock.now()``. Wrapped mutating calls also check the state first, as AWS
does (``InvalidClusterState``, ``InvalidDBClusterStateFault`` ...), so code that acts on a busy
cluster fails here as it would in AWS.

The durations are a table per resource kind; a test may change them with :meth:`SlowAws.set_duration`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from moto.rds.exceptions import (
    DBClusterNotFoundError,
    DBClusterToBeDeletedHasActiveMembers,
    DBInstanceNotFoundError,
    InvalidDBClusterStateFault,
    RDSClientError,
)
from moto.rds.models import DBCluster, DBInstance, RDSBackend
from moto.redshift.exceptions import ClusterNotFoundError, InvalidParameterCombinationError
from moto.redshift.models import Cluster, RedshiftBackend

from .clock import FakeClock
from .moto_shims import finish_resize, install_moto_shims, invalid_cluster_state, start_resize
from .patching import Patcher

GONE = "<gone>"
"""A transition's ``next`` when the resource disappears at the end of it."""


@dataclass(frozen=True)
class Transition:
    """One timed change: the resource shows ``state`` for ``seconds``, then ``next``.

    ``next`` is a settled status, :data:`GONE`, or the name of another row of the same table,
    which then runs (e.g. Redshift ``final_snapshot`` -> ``delete``).
    """

    state: str
    seconds: float
    next: str


# Typical durations, in simulated seconds, at the quick end of what AWS takes (it varies with data
# size and region); short enough that a test polling every 15 s stays fast.
REDSHIFT_CLUSTER: dict[str, Transition] = {
    "create": Transition("creating", 600, "available"),
    "pause": Transition("pausing", 180, "paused"),
    "resume": Transition("resuming", 180, "available"),
    "elastic_resize": Transition("resizing", 600, "available"),
    "classic_resize": Transition("resizing", 1200, "available"),
    "modify": Transition("modifying", 120, "available"),
    "final_snapshot": Transition("final-snapshot", 180, "delete"),
    "delete": Transition("deleting", 180, GONE),
}
AURORA_CLUSTER: dict[str, Transition] = {
    "create": Transition("creating", 120, "available"),
    "modify": Transition("modifying", 60, "available"),
    "stop": Transition("stopping", 180, "stopped"),
    "start": Transition("starting", 180, "available"),
    "failover": Transition("failing-over", 60, "available"),
    "delete": Transition("deleting", 120, GONE),
}
AURORA_INSTANCE: dict[str, Transition] = {
    "create": Transition("creating", 300, "available"),
    "modify": Transition("modifying", 300, "available"),
    "stop": Transition("stopping", 180, "stopped"),
    "start": Transition("starting", 180, "available"),
    "delete": Transition("deleting", 180, GONE),
}
TABLES: dict[str, dict[str, Transition]] = {
    "redshift": REDSHIFT_CLUSTER,
    "aurora": AURORA_CLUSTER,
    "aurora-instance": AURORA_INSTANCE,
}


@dataclass
class _Run:
    kind: str
    obj: Any
    name: str
    action: str
    until: float
    on_done: Callable[[], None] | None


def _identifier(kind: str, obj: Any) -> str:
    if kind == "redshift":
        return str(obj.cluster_identifier)
    if kind == "aurora":
        return str(obj.db_cluster_identifier)
    return str(obj.db_instance_identifier)


class SlowAws:
    """Timed status transitions for moto's Redshift clusters and Aurora clusters and instances.

    Use as a context manager (or :meth:`install` / :meth:`uninstall`); the ``slow_aws`` fixture
    does it for a test. Inspect with :meth:`observed` (statuses describe calls returned, repeats
    collapsed) and :meth:`history` (every status set, with its simulated time).
    """

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.tables: dict[str, dict[str, Transition]] = {kind: dict(rows) for kind, rows in TABLES.items()}
        self.pending_maintenance: list[DBInstance] = []
        self._runs: dict[int, _Run] = {}
        self._observed: dict[tuple[str, str], list[str]] = {}
        self._history: dict[tuple[str, str], list[tuple[float, str]]] = {}
        self._patcher = Patcher()

    # --- configuration and inspection -------------------------------------------------------

    def set_duration(self, kind: str, action: str, seconds: float) -> None:
        """Change how long ``action`` takes for ``kind`` (``redshift``, ``aurora``, ``aurora-instance``)."""
        self.tables[kind][action] = replace(self.tables[kind][action], seconds=seconds)

    def observed(self, name: str, kind: str = "redshift") -> list[str]:
        """The statuses describe calls returned for ``name``, consecutive repeats collapsed."""
        return list(self._observed.get((kind, name), []))

    def history(self, name: str, kind: str = "redshift") -> list[tuple[float, str]]:
        """Every status this layer gave ``name``, with the simulated time it was set."""
        return list(self._history.get((kind, name), []))

    def busy(self, obj: Any) -> bool:
        """True while a transition of the moto object ``obj`` runs."""
        return id(obj) in self._runs

    @property
    def running(self) -> list[str]:
        """``kind:name action`` of every transition in flight."""
        return [f"{run.kind}:{run.name} {run.action}" for run in self._runs.values()]

    # --- the mechanism ----------------------------------------------------------------------

    def begin(
        self,
        kind: str,
        obj: Any,
        action: str,
        on_done: Callable[[], None] | None = None,
        *,
        start: float | None = None,
    ) -> None:
        """Put ``obj`` into ``action``'s state now; ``on_done`` runs when its chain of rows ends.

        A transition already running for ``obj`` is replaced (its ``on_done`` never runs), so
        wrappers check the state first, as AWS does.
        """
        row = self.tables[kind][action]
        name = _identifier(kind, obj)
        begun = self.clock.now() if start is None else start
        self._set_status(kind, obj, name, row.state, at=begun)
        self._runs[id(obj)] = _Run(kind, obj, name, action, begun + row.seconds, on_done)

    def advance(self) -> None:
        """Complete every transition due at ``clock.now()``, oldest first."""
        now = self.clock.now()
        while True:
            due = [run for run in self._runs.values() if run.until <= now]
            if not due:
                return
            run = min(due, key=lambda r: r.until)
            del self._runs[id(run.obj)]
            row = self.tables[run.kind][run.action]
            if row.next in self.tables[run.kind]:
                self.begin(run.kind, run.obj, row.next, run.on_done, start=run.until)
                continue
            if row.next == GONE:
                self._history.setdefault((run.kind, run.name), []).append((run.until, GONE))
            else:
                self._set_status(run.kind, run.obj, run.name, row.next, at=run.until)
            if run.on_done is not None:
                run.on_done()

    def finish_all(self) -> None:
        """Advance the clock until no transition is running (a test's "wait for AWS")."""
        while self._runs:
            soonest = min(run.until for run in self._runs.values())
            self.clock.advance(max(0.0, soonest - self.clock.now()))
            self.advance()

    def apply_maintenance(self) -> None:
        """Start the class changes deferred to the maintenance window (``ApplyImmediately=False``)."""
        self.advance()
        waiting = []
        for instance in self.pending_maintenance:
            if instance.status == "available":
                self.begin("aurora-instance", instance, "modify", on_done=_apply_pending(instance))
            else:
                waiting.append(instance)  # e.g. stopped: AWS applies it in a later window
        self.pending_maintenance = waiting

    def _set_status(self, kind: str, obj: Any, name: str, status: str, *, at: float | None = None) -> None:
        obj.status = status
        self._history.setdefault((kind, name), []).append((self.clock.now() if at is None else at, status))

    def _observe(self, kind: str, name: str, status: str) -> None:
        seen = self._observed.setdefault((kind, name), [])
        if not seen or seen[-1] != status:
            seen.append(status)

    # --- install ----------------------------------------------------------------------------

    def install(self) -> None:
        install_moto_shims()
        if self._patcher.active:
            raise RuntimeError("SlowAws is already installed")
        self._install_redshift()
        self._install_rds()

    def uninstall(self) -> None:
        self._patcher.restore()

    def __enter__(self) -> SlowAws:
        self.install()
        return self

    def __exit__(self, *_: object) -> None:
        self.uninstall()

    def _wrap(self, cls: type, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(cls, name)
        wrapper = make(original)
        wrapper.__name__ = name
        self._patcher.set(cls, name, wrapper)

    # --- Redshift ---------------------------------------------------------------------------

    def _install_redshift(self) -> None:
        slow = self

        def describe_clusters(original: Any) -> Any:
            def wrapper(backend: RedshiftBackend, cluster_identifier: str | None = None, tag_keys: Any = None) -> Any:
                slow.advance()
                clusters = original(backend, cluster_identifier, tag_keys)
                for cluster in clusters:
                    slow._observe("redshift", cluster.cluster_identifier, cluster.status)
                return clusters

            return wrapper

        def describe_resize(original: Any) -> Any:
            def wrapper(backend: RedshiftBackend, cluster_identifier: str) -> Any:
                slow.advance()
                return original(backend, cluster_identifier)

            return wrapper

        def create_cluster(original: Any) -> Any:
            def wrapper(backend: RedshiftBackend, **kwargs: Any) -> Any:
                slow.advance()
                cluster = original(backend, **kwargs)
                slow.begin("redshift", cluster, "create")
                return cluster

            return wrapper

        def pause_or_resume(action: str, required: str) -> Callable[[Any], Any]:
            def make(original: Any) -> Any:
                def wrapper(backend: RedshiftBackend, cluster_id: str) -> Any:
                    slow.advance()
                    cluster = _redshift_cluster(backend, cluster_id)
                    if cluster.status != required:
                        raise invalid_cluster_state(
                            f"The cluster {cluster_id} is '{cluster.status}'; it must be '{required}' to {action}"
                        )
                    original(backend, cluster_id)
                    slow.begin("redshift", cluster, action)
                    return cluster

                return wrapper

            return make

        def resize_cluster(_original: Any) -> Any:
            def wrapper(
                backend: RedshiftBackend,
                cluster_identifier: str,
                node_type: str | None = None,
                number_of_nodes: int | None = None,
                cluster_type: str | None = None,
                classic: bool = False,
            ) -> Any:
                slow.advance()
                cluster, record = start_resize(
                    backend, cluster_identifier, node_type, number_of_nodes, cluster_type, classic
                )
                slow.begin(
                    "redshift",
                    cluster,
                    "classic_resize" if classic else "elastic_resize",
                    on_done=lambda: finish_resize(cluster, record),
                )
                return cluster

            return wrapper

        def modify_cluster(original: Any) -> Any:
            def wrapper(backend: RedshiftBackend, **kwargs: Any) -> Any:
                slow.advance()
                cluster = _redshift_cluster(backend, kwargs["cluster_identifier"])
                if cluster.status != "available":
                    raise invalid_cluster_state(
                        f"The cluster {cluster.cluster_identifier} is '{cluster.status}'; "
                        "it must be 'available' to modify"
                    )
                result = original(backend, **kwargs)
                slow.begin("redshift", result, "modify")
                return result

            return wrapper

        def delete_cluster(original: Any) -> Any:
            def wrapper(backend: RedshiftBackend, **kwargs: Any) -> Any:
                slow.advance()
                name = kwargs["cluster_identifier"]
                cluster = _redshift_cluster(backend, name)
                if cluster.status not in ("available", "paused"):
                    raise invalid_cluster_state(f"The cluster {name} is '{cluster.status}'; it cannot be deleted now")
                skip = bool(kwargs.get("skip_final_snapshot"))
                snapshot = kwargs.get("final_cluster_snapshot_identifier")
                if not skip and snapshot is None:
                    raise InvalidParameterCombinationError(
                        "FinalClusterSnapshotIdentifier is required unless SkipFinalClusterSnapshot is specified."
                    )
                if not skip:
                    backend.create_cluster_snapshot(name, snapshot, cluster.region, cluster.tags)

                def gone() -> None:
                    original(
                        backend,
                        cluster_identifier=name,
                        skip_final_snapshot=True,
                        final_cluster_snapshot_identifier=None,
                    )

                slow.begin("redshift", cluster, "delete" if skip else "final_snapshot", on_done=gone)
                return cluster

            return wrapper

        self._wrap(RedshiftBackend, "describe_clusters", describe_clusters)
        self._wrap(RedshiftBackend, "describe_resize", describe_resize)
        self._wrap(RedshiftBackend, "create_cluster", create_cluster)
        self._wrap(RedshiftBackend, "pause_cluster", pause_or_resume("pause", "available"))
        self._wrap(RedshiftBackend, "resume_cluster", pause_or_resume("resume", "paused"))
        self._wrap(RedshiftBackend, "resize_cluster", resize_cluster)
        self._wrap(RedshiftBackend, "modify_cluster", modify_cluster)
        self._wrap(RedshiftBackend, "delete_cluster", delete_cluster)

    # --- RDS / Aurora -----------------------------------------------------------------------

    def _install_rds(self) -> None:
        slow = self

        def cluster_of(backend: RDSBackend, name: str) -> DBCluster:
            cluster = backend.clusters.get(name)
            if cluster is None:
                raise DBClusterNotFoundError(name)
            return cluster

        def require_cluster(cluster: DBCluster, allowed: tuple[str, ...], what: str) -> None:
            if cluster.status not in allowed:
                raise InvalidDBClusterStateFault(
                    f"DbCluster {cluster.db_cluster_identifier} is in {cluster.status} state but expected it to be "
                    f"one of {','.join(allowed)} to {what}."
                )

        def describe(kind: str) -> Callable[[Any], Any]:
            def make(original: Any) -> Any:
                def wrapper(backend: RDSBackend, *args: Any, **kwargs: Any) -> Any:
                    slow.advance()
                    found = original(backend, *args, **kwargs)
                    for obj in found:
                        slow._observe(kind, _identifier(kind, obj), obj.status)
                    return found

                return wrapper

            return make

        def create_db_cluster(original: Any) -> Any:
            def wrapper(backend: RDSBackend, kwargs: dict[str, Any]) -> Any:
                slow.advance()
                cluster = original(backend, kwargs)
                slow.begin("aurora", cluster, "create")
                return cluster

            return wrapper

        def modify_db_cluster(original: Any) -> Any:
            def wrapper(backend: RDSBackend, kwargs: dict[str, Any]) -> Any:
                slow.advance()
                cluster = cluster_of(backend, kwargs["db_cluster_identifier"])
                require_cluster(cluster, ("available",), "modify it")
                original(backend, kwargs)
                slow.begin("aurora", cluster, "modify")
                return cluster

            return wrapper

        def stop_or_start(action: str, required: str) -> Callable[[Any], Any]:
            def make(original: Any) -> Any:
                def wrapper(backend: RDSBackend, cluster_identifier: str) -> Any:
                    slow.advance()
                    cluster = cluster_of(backend, cluster_identifier)
                    require_cluster(cluster, (required,), f"{action} it")
                    members = cluster.members
                    if action == "stop" and any(m.status != "available" for m in members):
                        raise InvalidDBClusterStateFault(
                            f"DbCluster {cluster_identifier} has instances that are not available; "
                            "it cannot be stopped."
                        )
                    original(backend, cluster_identifier)
                    slow.begin("aurora", cluster, action)
                    for member in members:
                        slow.begin("aurora-instance", member, action)
                    return cluster

                return wrapper

            return make

        def failover_db_cluster(original: Any) -> Any:
            def wrapper(
                backend: RDSBackend, db_cluster_identifier: str, target_db_instance_identifier: str | None = None
            ) -> Any:
                slow.advance()
                cluster = cluster_of(backend, db_cluster_identifier)
                require_cluster(cluster, ("available",), "fail over")
                old_writer = cluster.writer
                original(backend, db_cluster_identifier, target_db_instance_identifier)  # validates and switches
                new_writer = cluster.writer
                # Undo the instant switch; it happens when the failover completes.
                new_writer.is_cluster_writer = False
                if old_writer is not None:
                    old_writer.is_cluster_writer = True
                slow.begin("aurora", cluster, "failover", on_done=lambda: cluster.failover(new_writer))
                return cluster

            return wrapper

        def delete_db_cluster(original: Any) -> Any:
            def wrapper(backend: RDSBackend, cluster_identifier: str, snapshot_name: str | None = None) -> Any:
                slow.advance()
                cluster = cluster_of(backend, cluster_identifier)
                require_cluster(cluster, ("available",), "delete it")
                if cluster.deletion_protection:
                    raise RDSClientError(
                        "InvalidParameterCombination",
                        "Cannot delete protected Cluster, please disable deletion protection and try again.",
                    )
                if cluster.members:
                    raise DBClusterToBeDeletedHasActiveMembers()
                if snapshot_name:
                    backend.create_db_cluster_snapshot(cluster_identifier, snapshot_name)
                slow.begin("aurora", cluster, "delete", on_done=lambda: original(backend, cluster_identifier, None))
                return cluster

            return wrapper

        def create_db_instance(original: Any) -> Any:
            def wrapper(backend: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
                slow.advance()
                cluster_name = db_kwargs.get("db_cluster_identifier")
                if cluster_name and cluster_name in backend.clusters:
                    require_cluster(
                        backend.clusters[cluster_name], ("available", "creating", "modifying"), "add an instance"
                    )
                instance = original(backend, db_kwargs)
                slow.begin("aurora-instance", instance, "create")
                return instance

            return wrapper

        def modify_db_instance(original: Any) -> Any:
            def wrapper(backend: RDSBackend, db_instance_identifier: str, db_kwargs: dict[str, Any]) -> Any:
                slow.advance()
                instance = _db_instance(backend, db_instance_identifier)
                if instance.status != "available":
                    raise invalid_instance_state(
                        f"Database instance {db_instance_identifier} is '{instance.status}', not available."
                    )
                old_class = instance.db_instance_class
                result = original(backend, db_instance_identifier, db_kwargs)
                new_class = instance.db_instance_class
                if new_class != old_class:
                    # The class changes when the modification completes (or in the maintenance window).
                    instance.db_instance_class = old_class
                    instance.pending_modified_values = {"DBInstanceClass": new_class}
                    if db_kwargs.get("apply_immediately"):
                        slow.begin("aurora-instance", instance, "modify", on_done=_apply_pending(instance))
                    else:
                        slow.pending_maintenance.append(instance)
                return result

            return wrapper

        def delete_db_instance(original: Any) -> Any:
            def wrapper(backend: RDSBackend, **kwargs: Any) -> Any:
                slow.advance()
                name = kwargs["db_instance_identifier"]
                instance = _db_instance(backend, name)
                if instance.status == "deleting":
                    raise invalid_instance_state(f"Instance {name} is already being deleted.")
                cluster = backend.clusters.get(getattr(instance, "db_cluster_identifier", None) or "")
                if cluster is not None:
                    require_cluster(
                        cluster, ("available", "modifying", "creating", "failing-over"), "delete an instance"
                    )
                if instance.deletion_protection:
                    raise RDSClientError(
                        "InvalidParameterCombination",
                        "Cannot delete protected DB Instance, please disable deletion protection and try again.",
                    )
                slow.begin("aurora-instance", instance, "delete", on_done=lambda: original(backend, **kwargs))
                return instance

            return wrapper

        # moto's DBCluster.status reports "creating" once, then "available": make it a plain attribute.
        self._patcher.set(
            DBCluster,
            "status",
            property(lambda c: c._status, lambda c, value: setattr(c, "_status", value)),
        )
        self._wrap(RDSBackend, "describe_db_clusters", describe("aurora"))
        self._wrap(RDSBackend, "describe_db_instances", describe("aurora-instance"))
        self._wrap(RDSBackend, "create_db_cluster", create_db_cluster)
        self._wrap(RDSBackend, "modify_db_cluster", modify_db_cluster)
        self._wrap(RDSBackend, "stop_db_cluster", stop_or_start("stop", "available"))
        self._wrap(RDSBackend, "start_db_cluster", stop_or_start("start", "stopped"))
        self._wrap(RDSBackend, "failover_db_cluster", failover_db_cluster)
        self._wrap(RDSBackend, "delete_db_cluster", delete_db_cluster)
        self._wrap(RDSBackend, "create_db_instance", create_db_instance)
        self._wrap(RDSBackend, "modify_db_instance", modify_db_instance)
        self._wrap(RDSBackend, "delete_db_instance", delete_db_instance)


def invalid_instance_state(message: str) -> RDSClientError:
    """AWS's ``InvalidDBInstanceState`` (HTTP 400; botocore's code, without "Fault")."""
    return RDSClientError("InvalidDBInstanceState", message)


def _redshift_cluster(backend: RedshiftBackend, name: str) -> Cluster:
    """The cluster, looked up without going through the (observing) describe wrapper."""
    cluster = backend.clusters.get(name)
    if cluster is None:
        raise ClusterNotFoundError(name)
    return cluster


def _db_instance(backend: RDSBackend, name: str) -> DBInstance:
    instance = backend.databases.get(name)
    if instance is None:
        raise DBInstanceNotFoundError(name)
    return instance


def _apply_pending(instance: DBInstance) -> Callable[[], None]:
    def apply() -> None:
        pending = getattr(instance, "pending_modified_values", None) or {}
        if "DBInstanceClass" in pending:
            instance.db_instance_class = pending["DBInstanceClass"]
        instance.pending_modified_values = None

    return apply
