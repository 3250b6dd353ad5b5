"""Aurora cloning as AWS does it, on top of moto and :class:`~tests.fakes.transitions.SlowAws`.

moto 5.2 restores a copy-on-write clone like any cluster: no clone group, no limit, no timing, and
the clone gets a managed secret of its own. Here, while an :class:`AuroraCloneFake` is installed:

* ``CloneGroupId``: a copy-on-write restore puts the origin and the clone in one clone group (the
  origin keeps the id for life); a point-in-time restore inherits the group; a snapshot restore
  starts none. (API reference, ``DBCluster.CloneGroupId``.)
* The clone limit: an origin whose clone group already holds ``cow_limit`` (15) live
  copy-on-write clones gets a *full copy* instead, silently and slowly, as AWS documents
  (Aurora User Guide, "Limitations of Aurora cloning"). Every such restore is recorded in
  :attr:`AuroraCloneFake.silent_full_copies`, so a test can assert that dbscale never caused one.
* Aurora clones only clusters with at least one DB instance, in a settled state.
* A restored cluster (clone, point-in-time or snapshot restore) keeps the source's password but has
  no managed secret of its own (``MasterUserSecret`` absent) until ``ModifyDBCluster`` with
  ``ManageMasterUserPassword``.
* Timing on the :class:`~tests.fakes.clock.FakeClock`: a clone is ``creating`` for
  ``clone`` seconds, a snapshot restore (a copy) for ``restore``, a silent full copy for
  ``full_copy``; a manual cluster snapshot is ``creating`` for ``snapshot`` seconds and cannot be
  restored, or deleted, before it is ``available``. Creation times follow the clock.

Helpers make sources, copies and clones directly (as if made earlier, or outside dbscale).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import moto.rds.models as rds_models
from moto.rds.exceptions import InvalidDBClusterSnapshotStateFault, InvalidDBClusterStateFault
from moto.rds.models import DBCluster, DBClusterSnapshot, RDSBackend

from dbscale.core.clones import (
    CLONE_OF_TAG_KEY,
    CLONED_FROM_SOURCE_TAG_KEY,
    COPY_CREATED_TAG_KEY,
    COPY_ID_TAG_KEY,
    COPY_OF_TAG_KEY,
    iso,
)
from dbscale.core.limits import CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE

from .patching import Patcher
from .transitions import SlowAws, Transition

CLONE_ROWS = {
    "clone": Transition("creating", 600, "available"),
    "restore": Transition("creating", 2400, "available"),
    "full_copy": Transition("creating", 3600, "available"),
}
SNAPSHOT_SECONDS = 900.0
_GROUP = "clone_group_id"
_COW = "dbscale_fake_copy_on_write"
_SNAPSHOT_READY = "dbscale_fake_ready_at"


def _tls_group(rds: Any, name: str, engine: str) -> str:
    """A cluster parameter group requiring TLS, as a production source has."""
    parameter, value = ("rds.force_ssl", "1") if engine == "aurora-postgresql" else ("require_secure_transport", "ON")
    family = "aurora-postgresql16" if engine == "aurora-postgresql" else "aurora-mysql8.0"
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=name, DBParameterGroupFamily=family, Description="source"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=name,
        Parameters=[{"ParameterName": parameter, "ParameterValue": value, "ApplyMethod": "pending-reboot"}],
    )
    return name


class AuroraCloneFake:
    """Clone groups, the copy-on-write limit, snapshot timing and restore secrets for moto's RDS.

    Install after ``slow`` (the ``slow_aws`` fixture); use as a context manager.
    """

    def __init__(self, slow: SlowAws, *, cow_limit: int = 15, snapshot_seconds: float = SNAPSHOT_SECONDS) -> None:
        self.slow = slow
        self.clock = slow.clock
        self.cow_limit = cow_limit
        self.snapshot_seconds = snapshot_seconds
        self.silent_full_copies: list[str] = []
        self.restores: list[tuple[str, str, str]] = []  # (kind, origin or snapshot, new cluster)
        self._patcher = Patcher()

    def __enter__(self) -> AuroraCloneFake:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def uninstall(self) -> None:
        self._patcher.restore()

    # --- the semantics ----------------------------------------------------------------------

    def install(self) -> None:
        for cls, name in ((DBCluster, _GROUP), (DBClusterSnapshot, "status")):
            if name in vars(cls):
                raise RuntimeError(f"moto now defines {cls.__name__}.{name}; revisit tests/fakes/clones.py")
        fake = self
        slow = self.slow
        for action, row in CLONE_ROWS.items():
            slow.tables["aurora"][action] = row

        def now_naive() -> datetime:
            return datetime.fromtimestamp(fake.clock.now(), tz=timezone.utc).replace(tzinfo=None)

        self._patcher.set(rds_models, "utcnow", now_naive)
        self._patcher.set(DBCluster, _GROUP, None)

        def snapshot_status_get(snapshot: Any) -> str:
            ready = getattr(snapshot, _SNAPSHOT_READY, None)
            if ready is not None and fake.clock.now() < ready:
                return "creating"
            return str(snapshot._fake_status)

        def snapshot_status_set(snapshot: Any, value: str) -> None:
            snapshot._fake_status = value

        self._patcher.set(DBClusterSnapshot, "status", property(snapshot_status_get, snapshot_status_set))

        def settled(cluster: DBCluster, what: str) -> None:
            if cluster.status not in ("available", "stopped", "backing-up"):
                raise InvalidDBClusterStateFault(
                    f"DbCluster {cluster.db_cluster_identifier} is in {cluster.status} state; cannot {what}."
                )

        def drop_secret(cluster: DBCluster) -> None:
            if getattr(cluster, "manage_master_user_password", False) and hasattr(cluster, "master_user_secret"):
                cluster.master_user_secret.delete_secret()
                del cluster.master_user_secret
            cluster.manage_master_user_password = False
            if "_master_user_password" not in vars(cluster):
                cluster._master_user_password = "password-inherited-from-the-source"  # what AWS keeps

        original_pitr = RDSBackend.restore_db_cluster_to_point_in_time

        def restore_db_cluster_to_point_in_time(
            backend: RDSBackend,
            db_cluster_identifier: str,
            source_db_cluster_identifier: str,
            restore_type: str = "full-copy",
            **kwargs: Any,
        ) -> DBCluster:
            slow.advance()
            origin = backend.clusters.get(source_db_cluster_identifier)
            kind = "full_copy"
            if origin is not None:
                settled(origin, "restore it to a point in time")
                if restore_type == "copy-on-write":
                    if not origin.members:
                        raise InvalidDBClusterStateFault(
                            f"DbCluster {source_db_cluster_identifier} has no DB instances; "
                            "a cluster can be cloned only when it has at least one."
                        )
                    if getattr(origin, _GROUP) is None:
                        setattr(origin, _GROUP, f"cg-{uuid.uuid4().hex[:20]}")
                    kind = "clone" if fake.cow_clones(backend, origin) < fake.cow_limit else "full_copy"
            cluster = original_pitr(
                backend, db_cluster_identifier, source_db_cluster_identifier, restore_type=restore_type, **kwargs
            )
            if origin is not None:
                setattr(cluster, _GROUP, getattr(origin, _GROUP))  # PITR inherits the group
            setattr(cluster, _COW, kind == "clone")
            drop_secret(cluster)
            slow.begin("aurora", cluster, kind)
            if restore_type == "copy-on-write" and kind == "full_copy":
                fake.silent_full_copies.append(db_cluster_identifier)
            fake.restores.append((kind, source_db_cluster_identifier, db_cluster_identifier))
            return cluster

        original_from_snapshot = RDSBackend.restore_db_cluster_from_snapshot

        def restore_db_cluster_from_snapshot(
            backend: RDSBackend, from_snapshot_id: str, overrides: dict[str, Any]
        ) -> DBCluster:
            slow.advance()
            snapshot = backend.cluster_snapshots.get(from_snapshot_id)
            if snapshot is not None and snapshot.status != "available":
                raise InvalidDBClusterSnapshotStateFault(
                    f"DBClusterSnapshot {from_snapshot_id} is '{snapshot.status}', not available."
                )
            cluster = original_from_snapshot(backend, from_snapshot_id, overrides)
            setattr(cluster, _GROUP, None)  # a snapshot restore starts no clone group
            setattr(cluster, _COW, False)
            drop_secret(cluster)
            slow.begin("aurora", cluster, "restore")
            fake.restores.append(("restore", from_snapshot_id, cluster.db_cluster_identifier))
            return cluster

        original_snapshot = RDSBackend.create_db_cluster_snapshot

        def create_db_cluster_snapshot(
            backend: RDSBackend,
            db_cluster_identifier: str,
            db_cluster_snapshot_identifier: str,
            snapshot_type: str = "manual",
            tags: list[dict[str, str]] | None = None,
        ) -> DBClusterSnapshot:
            slow.advance()
            cluster = backend.clusters.get(db_cluster_identifier)
            if cluster is not None and snapshot_type == "manual":
                settled(cluster, "snapshot it")
            snapshot = original_snapshot(
                backend, db_cluster_identifier, db_cluster_snapshot_identifier, snapshot_type, tags
            )
            if snapshot_type == "manual":
                setattr(snapshot, _SNAPSHOT_READY, fake.clock.now() + fake.snapshot_seconds)
            return snapshot

        original_delete_snapshot = RDSBackend.delete_db_cluster_snapshot

        def delete_db_cluster_snapshot(backend: RDSBackend, db_snapshot_identifier: str) -> DBClusterSnapshot:
            snapshot = backend.cluster_snapshots.get(db_snapshot_identifier)
            if snapshot is not None and snapshot.status != "available":
                raise InvalidDBClusterSnapshotStateFault(
                    f"DBClusterSnapshot {db_snapshot_identifier} is '{snapshot.status}'; it cannot be deleted now."
                )
            result: DBClusterSnapshot = original_delete_snapshot(backend, db_snapshot_identifier)
            return result

        original_create_instance = RDSBackend.create_db_instance

        def create_db_instance(backend: RDSBackend, db_kwargs: dict[str, Any]) -> Any:
            # "You can create DB instances only after the restore has completed and the DB cluster
            # is available" (RestoreDBClusterToPointInTime / RestoreDBClusterFromSnapshot).
            cluster = backend.clusters.get(db_kwargs.get("db_cluster_identifier") or "")
            if cluster is not None and hasattr(cluster, _COW):
                slow.advance()
                if cluster.status == "creating":
                    raise InvalidDBClusterStateFault(
                        f"DbCluster {cluster.db_cluster_identifier} is still being restored; add instances when "
                        "it is available."
                    )
            return original_create_instance(backend, db_kwargs)

        self._patcher.set(RDSBackend, "restore_db_cluster_to_point_in_time", restore_db_cluster_to_point_in_time)
        self._patcher.set(RDSBackend, "restore_db_cluster_from_snapshot", restore_db_cluster_from_snapshot)
        self._patcher.set(RDSBackend, "create_db_cluster_snapshot", create_db_cluster_snapshot)
        self._patcher.set(RDSBackend, "delete_db_cluster_snapshot", delete_db_cluster_snapshot)
        self._patcher.set(RDSBackend, "create_db_instance", create_db_instance)

    @staticmethod
    def cow_clones(backend: RDSBackend, origin: DBCluster) -> int:
        """Live copy-on-write clones in ``origin``'s clone group (what AWS's limit counts)."""
        group = getattr(origin, _GROUP)
        if group is None:
            return 0
        return sum(
            1
            for cluster in backend.clusters.values()
            if cluster is not origin and getattr(cluster, _GROUP) == group and getattr(cluster, _COW, False)
        )

    # --- helpers for tests --------------------------------------------------------------------

    def settle(self, seconds: float = 7200) -> None:
        """Let ``seconds`` of simulated time pass and every transition due by then complete."""
        self.clock.advance(seconds)
        self.slow.advance()

    def make_source(
        self,
        rds: Any,
        name: str = "prod",
        *,
        instance_class: str = "db.r6g.large",
        managed_password: bool = True,
        engine: str = "aurora-postgresql",
        instances: int = 1,
        encrypted: bool = True,
        tls: bool = True,
    ) -> None:
        """An available Aurora cluster with ``instances`` instances (not made by dbscale); encrypted,
        and with a cluster parameter group that requires TLS unless told otherwise."""
        params: dict[str, Any] = {
            "DBClusterIdentifier": name,
            "Engine": engine,
            "StorageEncrypted": encrypted,
            "MasterUsername": "postgres",
            "VpcSecurityGroupIds": ["sg-0123456789abcdef0"],
            "Tags": [{"Key": "team", "Value": "data"}],
        }
        if tls:
            params["DBClusterParameterGroupName"] = _tls_group(rds, f"{name}-tls", engine)
        if managed_password:
            params["ManageMasterUserPassword"] = True
        else:
            params["MasterUserPassword"] = "not-a-real-password-1"
        rds.create_db_cluster(**params)
        for number in range(1, instances + 1):
            rds.create_db_instance(
                DBInstanceIdentifier=f"{name}-{number}",
                DBClusterIdentifier=name,
                DBInstanceClass=instance_class,
                Engine=engine,
            )
        self.settle(1200)

    def add_clones(
        self, rds: Any, origin: str, count: int, *, prefix: str | None = None, dbscale: bool = False
    ) -> list[str]:
        """``count`` copy-on-write clones of ``origin`` made through the API, named ``<prefix><n>``
        (default prefix ``<origin>-other-``): as another tool would make them, or tagged as
        dbscale's with ``dbscale=True``. They are left creating; returns their names."""
        prefix = prefix or f"{origin}-other-"
        names = []
        for number in range(1, count + 1):
            name = f"{prefix}{number}"
            tags = [{"Key": "made-by", "Value": "someone-else"}]
            if dbscale:
                tags = [
                    {"Key": CREATED_BY_TAG_KEY, "Value": CREATED_BY_TAG_VALUE},
                    {"Key": CLONE_OF_TAG_KEY, "Value": origin},
                    {"Key": CLONED_FROM_SOURCE_TAG_KEY, "Value": origin},
                ]
            rds.restore_db_cluster_to_point_in_time(
                DBClusterIdentifier=name,
                SourceDBClusterIdentifier=origin,
                RestoreType="copy-on-write",
                UseLatestRestorableTime=True,
                Tags=tags,
            )
            names.append(name)
        return names

    def make_copy(
        self,
        rds: Any,
        source: str,
        name: str,
        *,
        age_hours: float,
        instance_class: str = "db.r6g.large",
    ) -> None:
        """A dbscale copy of ``source`` whose data is ``age_hours`` old, available with one instance."""
        created = datetime.fromtimestamp(self.clock.now() - age_hours * 3600, tz=timezone.utc)
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="postgres",
            MasterUserPassword="not-a-real-password-1",
            Tags=[
                {"Key": CREATED_BY_TAG_KEY, "Value": CREATED_BY_TAG_VALUE},
                {"Key": COPY_OF_TAG_KEY, "Value": source},
                {"Key": COPY_CREATED_TAG_KEY, "Value": iso(created)},
                {"Key": COPY_ID_TAG_KEY, "Value": name},
            ],
        )
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-1",
            DBClusterIdentifier=name,
            DBInstanceClass=instance_class,
            Engine="aurora-postgresql",
        )
        self.settle(1200)


def aws_state(rds: Any) -> dict[str, Any]:
    """Everything Describe* says about clusters, instances and cluster snapshots (for before/after
    comparisons)."""
    return {
        "clusters": rds.describe_db_clusters()["DBClusters"],
        "instances": rds.describe_db_instances()["DBInstances"],
        "snapshots": rds.describe_db_cluster_snapshots()["DBClusterSnapshots"],
    }
