"""The fleet: every Redshift provisioned cluster and Aurora cluster in some regions, as dbscale sees them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..aws import aws_errors, client, tag_dict
from ..limits import AURORA_SERVERLESS_INSTANCE_CLASS, CREATED_BY_TAG_KEY, CREATED_BY_TAG_VALUE
from ..pricing import HOURS_PER_MONTH, PriceBook

if TYPE_CHECKING:
    import boto3

SessionFactory = Callable[[str], "boto3.Session"]
"""Makes the boto3 session for one region."""
STACK_TAG = "aws:cloudformation:stack-name"
_REDSHIFT_SETTLED = frozenset({"available", "paused"})
_AURORA_SETTLED = frozenset({"available", "stopped"})


def region_session(region: str) -> boto3.Session:
    """A session for ``region`` from the standard AWS environment (profile, credentials, endpoint)."""
    from ..aws import new_session

    return new_session(region_name=region)


def all_regions(session: boto3.Session | None = None) -> list[str]:
    """Every region where both Redshift and RDS are offered (botocore's endpoint data, no API call)."""
    import boto3

    session = session or boto3.Session()
    return sorted(set(session.get_available_regions("redshift")) & set(session.get_available_regions("rds")))


@dataclass(frozen=True)
class ClusterInfo:
    """One cluster as found: shape, state, ownership. ``engine`` is ``redshift``, ``aurora-postgresql``
    or ``aurora-mysql``; ``node_type``/``nodes`` describe Redshift, ``instance_class``/``instances``
    (writer first) and ``acu`` (Serverless v2 range) describe Aurora. ``account`` is set when the
    cluster was read across accounts (``--accounts``), else None."""

    service: str
    region: str
    name: str
    engine: str
    status: str
    node_type: str | None = None
    nodes: int = 0
    instance_class: str | None = None
    instances: tuple[str, ...] = ()
    instance_classes: tuple[str, ...] = ()
    acu: tuple[float, float] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    account: str | None = None

    @property
    def managed(self) -> bool:
        """True when dbscale created the cluster (its ownership tag is set)."""
        return self.tags.get(CREATED_BY_TAG_KEY) == CREATED_BY_TAG_VALUE

    @property
    def stack(self) -> str | None:
        """The CloudFormation stack that owns the cluster, if any."""
        return self.tags.get(STACK_TAG)

    @property
    def paused(self) -> bool:
        """Paused (Redshift) or stopped (Aurora)."""
        return self.status in ("paused", "stopped")

    @property
    def in_flight(self) -> str | None:
        """The operation AWS reports running (the status) when the cluster is not settled."""
        settled = _REDSHIFT_SETTLED if self.service == "redshift" else _AURORA_SETTLED
        return None if self.status in settled else self.status

    @property
    def serverless(self) -> bool:
        return self.instance_class == AURORA_SERVERLESS_INSTANCE_CLASS

    @property
    def readers(self) -> int:
        return max(0, len(self.instances) - 1)

    @property
    def units(self) -> int:
        """Billed units: Redshift nodes, or Aurora instances."""
        return self.nodes if self.service == "redshift" else len(self.instances)

    @property
    def shape(self) -> str:
        """``4 x ra3.xlplus`` or ``db.r6g.large + 1 reader`` (``db.serverless 0.5-8 ACU ...``)."""
        if self.service == "redshift":
            return f"{self.nodes} x {self.node_type}"
        cls = self.instance_class or "no writer"
        if self.serverless and self.acu:
            cls += f" {self.acu[0]:g}-{self.acu[1]:g} ACU"
        return cls + (f" + {self.readers} reader{'s' if self.readers != 1 else ''}" if self.readers else "")

    def hourly_usd(self, prices: PriceBook) -> float | None:
        """Compute cost per hour now (0 while paused or stopped; Serverless v2 at its minimum ACUs);
        None when the price book has no price for the shape."""
        if self.paused:
            return 0.0
        if self.service == "redshift":
            price = prices.redshift_node(self.region, self.node_type or "")
            return None if price is None else price.on_demand * self.nodes
        total = 0.0
        for cls in self.instance_classes:
            if cls == AURORA_SERVERLESS_INSTANCE_CLASS:
                acu_price = prices.acu_hour(self.region, self.engine)
                if acu_price is None:
                    return None
                total += acu_price * (self.acu[0] if self.acu else 0.0)
            else:
                instance = prices.aurora_instance(self.region, self.engine, cls)
                if instance is None:
                    return None
                total += instance.on_demand
        return total

    def to_dict(self, prices: PriceBook | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "service": self.service,
            "region": self.region,
            "name": self.name,
            "engine": self.engine,
            "shape": self.shape,
            "status": self.status,
            "paused": self.paused,
            "managed": self.managed,
            "stack": self.stack,
            "operation_in_flight": self.in_flight,
        }
        if self.service == "redshift":
            data.update(node_type=self.node_type, nodes=self.nodes)
        else:
            data.update(
                instance_class=self.instance_class,
                instances=list(self.instances),
                readers=self.readers,
                serverless_v2_acu=list(self.acu) if self.acu else None,
            )
        if prices is not None:
            hourly = self.hourly_usd(prices)
            data["hourly_usd"] = hourly
            data["monthly_usd"] = None if hourly is None else hourly * HOURS_PER_MONTH
            data["price_source"] = str(prices.sources[self.region]) if self.region in prices.sources else None
        return data if self.account is None else {"account": self.account, **data}


def _redshift_clusters(region: str, session: boto3.Session) -> list[ClusterInfo]:
    redshift = client("redshift", session)
    found = []
    with aws_errors(f"list Redshift clusters in {region}"):
        for page in redshift.get_paginator("describe_clusters").paginate():
            for c in page.get("Clusters", []):
                found.append(
                    ClusterInfo(
                        "redshift",
                        region,
                        c["ClusterIdentifier"],
                        "redshift",
                        str(c.get("ClusterStatus", "unknown")),
                        node_type=c.get("NodeType"),
                        nodes=int(c.get("NumberOfNodes", 0)),
                        tags=tag_dict(c.get("Tags")),
                    )
                )
    return found


def _aurora_clusters(region: str, session: boto3.Session) -> list[ClusterInfo]:
    rds = client("rds", session)
    found = []
    with aws_errors(f"list Aurora clusters in {region}"):
        instances = {
            i["DBInstanceIdentifier"]: i
            for page in rds.get_paginator("describe_db_instances").paginate()
            for i in page.get("DBInstances", [])
        }
        for page in rds.get_paginator("describe_db_clusters").paginate():
            for c in page.get("DBClusters", []):
                if not str(c.get("Engine", "")).startswith("aurora"):
                    continue
                members = sorted(
                    c.get("DBClusterMembers", []),
                    key=lambda m: (not m.get("IsClusterWriter"), m["DBInstanceIdentifier"]),
                )
                ids = tuple(m["DBInstanceIdentifier"] for m in members)
                classes = tuple(str(instances.get(i, {}).get("DBInstanceClass", "")) for i in ids)
                writer_class = classes[0] if members and members[0].get("IsClusterWriter") else None
                scaling = c.get("ServerlessV2ScalingConfiguration") or {}
                acu = None
                if scaling.get("MaxCapacity") is not None:
                    acu = (float(scaling.get("MinCapacity", 0)), float(scaling["MaxCapacity"]))
                found.append(
                    ClusterInfo(
                        "aurora",
                        region,
                        c["DBClusterIdentifier"],
                        str(c["Engine"]),
                        str(c.get("Status", "unknown")),
                        instance_class=writer_class,
                        instances=ids,
                        instance_classes=classes,
                        acu=acu,
                        tags=tag_dict(c.get("TagList")),
                    )
                )
    return found


def discover(
    regions: Iterable[str],
    *,
    sessions: SessionFactory = region_session,
    tags: dict[str, str] | None = None,
) -> list[ClusterInfo]:
    """Every Redshift provisioned cluster and Aurora cluster in ``regions`` that carries all of
    ``tags`` (three paginated Describe calls per region), sorted by region, service and name."""
    found: list[ClusterInfo] = []
    for region in dict.fromkeys(regions):
        session = sessions(region)
        found += _redshift_clusters(region, session) + _aurora_clusters(region, session)
    wanted = tags or {}
    found = [c for c in found if all(c.tags.get(k) == v for k, v in wanted.items())]
    return sorted(found, key=lambda c: (c.region, c.service, c.name))
