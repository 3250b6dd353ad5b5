"""moto 5.2 gaps the preflight (dbscale.core.preflight) meets, filled as AWS answers. Installed by
:func:`tests.fakes.moto_shims.install_moto_shims`.

* RDS ``DescribeAccountAttributes`` is not implemented (a Python ``NotImplementedError``, no AWS
  error): here it answers ``AccountQuotas`` ``DBClusters`` and ``DBInstances`` with ``Used`` counted
  from moto's backend and ``Max`` from :data:`RDS_QUOTAS` (AWS's defaults, 40 each; a test lowers them).
* RDS ``DescribeDBParameterGroups`` of a name that does not exist answers an empty list; AWS answers
  ``DBParameterGroupNotFound``.
* AWS's default parameter groups (``default.aurora-postgresql16``, ``default.aurora-mysql8.0``) exist
  in every region; moto has none. Here one is made the first time it is described.
* ``CreateDBCluster`` accepts a ``DBClusterParameterGroupName``, ``DBSubnetGroupName`` and ``KmsKeyId``
  that do not exist; AWS refuses them (``DBClusterParameterGroupNotFound``,
  ``DBSubnetGroupNotFoundFault``, ``KMSKeyNotAccessibleFault``).
* ``CreateDBCluster`` with ``EnableHttpEndpoint`` true makes a provisioned or Serverless v2 cluster
  with its Data API off in moto (it keeps the flag for Serverless v1 only); AWS turns it on (on
  the versions that have it: :mod:`tests.fakes.data_api` refuses the others when installed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.kms.models import kms_backends
from moto.rds.exceptions import DBParameterGroupNotFoundError, RDSClientError
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

RDS_QUOTAS: dict[str, int] = {"DBClusters": 40, "DBInstances": 40}
"""The Max of each RDS account quota the fake answers (AWS's defaults); tests may change them."""
_DEFAULT_GROUP = re.compile(r"^default\.(aurora-(?:postgresql|mysql)[0-9.]+)$")


def key_exists(account_id: str, region: str, key_id: str) -> bool:
    """True when moto's KMS has ``key_id`` (an id, ARN, alias or alias ARN) in that account and region."""
    backend = kms_backends[account_id][region]
    try:
        return backend.any_id_to_key_id(key_id) in backend.keys
    except (KeyError, TypeError, AttributeError):  # moto's lookup of an alias no key has
        return False


def _describe_account_attributes(response: RDSResponse) -> ActionResult:
    backend = response.backend
    used = {"DBClusters": len(backend.clusters), "DBInstances": len(backend.databases)}
    quotas = [{"AccountQuotaName": name, "Used": used[name], "Max": most} for name, most in RDS_QUOTAS.items()]
    return ActionResult({"AccountQuotas": quotas})


def _strict_parameter_groups(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe_db_parameter_groups(self: RDSBackend, kwargs: dict[str, Any]) -> Any:
        name = kwargs.get("db_parameter_group_name")
        found = original(self, kwargs)
        if name and not found:
            default = _DEFAULT_GROUP.match(name)
            if default is None:
                raise DBParameterGroupNotFoundError(name)
            self.create_db_parameter_group(
                {"db_parameter_group_name": name, "db_parameter_group_family": default.group(1), "description": name}
            )
            found = original(self, kwargs)
        return found

    return describe_db_parameter_groups


def _default_cluster_groups(original: Callable[..., Any]) -> Callable[..., Any]:
    def describe_db_cluster_parameter_groups(self: RDSBackend, group_name: str | None) -> Any:
        default = _DEFAULT_GROUP.match(group_name or "")
        if default is not None and group_name not in self.db_cluster_parameter_groups:
            self.create_db_cluster_parameter_group(group_name, default.group(1), group_name, None)
        return original(self, group_name)

    return describe_db_cluster_parameter_groups


def _strict_create_db_cluster(original: Callable[..., Any]) -> Callable[..., Any]:
    # On the CreateDBCluster response only: moto's restores make their clusters through the backend's
    # create_db_cluster, with the source's settings.
    def create_db_cluster(response: RDSResponse) -> Any:
        self, kwargs = response.backend, response.params
        group = kwargs.get("db_cluster_parameter_group_name")
        if group and not _DEFAULT_GROUP.match(group) and group not in self.db_cluster_parameter_groups:
            raise RDSClientError("DBClusterParameterGroupNotFound", f"DBClusterParameterGroup {group} not found.")
        subnets = kwargs.get("db_subnet_group_name")
        if subnets and subnets != "default" and subnets not in self.subnet_groups:
            raise RDSClientError("DBSubnetGroupNotFoundFault", f"DBSubnetGroup {subnets} not found.")
        key = kwargs.get("kms_key_id")
        if key and not key_exists(self.account_id, self.region_name, key):
            raise RDSClientError("KMSKeyNotAccessibleFault", f"The specified KMS key {key} does not exist.")
        answer = original(response)
        made = self.clusters.get(kwargs.get("db_cluster_identifier"))
        if kwargs.get("enable_http_endpoint") and made is not None and made.engine_mode != "serverless":
            made._enable_http_endpoint = True  # moto keeps it for Serverless v1 only
        return answer

    return create_db_cluster


def install_preflight_shims() -> None:
    """Install the shims above (called once by ``install_moto_shims``)."""
    if "describe_account_attributes" in vars(RDSResponse):
        raise RuntimeError("moto now implements RDS DescribeAccountAttributes; revisit tests/fakes/preflight.py")
    RDSResponse.describe_account_attributes = _describe_account_attributes  # type: ignore[attr-defined]
    RDSBackend.describe_db_parameter_groups = _strict_parameter_groups(  # type: ignore[method-assign]
        RDSBackend.describe_db_parameter_groups
    )
    RDSBackend.describe_db_cluster_parameter_groups = _default_cluster_groups(  # type: ignore[method-assign]
        RDSBackend.describe_db_cluster_parameter_groups
    )
    RDSResponse.create_db_cluster = _strict_create_db_cluster(RDSResponse.create_db_cluster)  # type: ignore[method-assign]


# --- what tests make for the preflight to find -------------------------------------------------


def create_key(alias: str | None = None, *, session: Any = None) -> str:
    """A KMS key (with ``alias``, e.g. ``alias/pi``) in the test's region; its ARN."""
    import boto3

    kms = (session or boto3).client("kms")
    arn = str(kms.create_key()["KeyMetadata"]["Arn"])
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def create_role(arn: str, service: str, *, session: Any = None) -> str:
    """The IAM role ``arn`` names (its last path segment), trusting ``service`` (e.g.
    ``monitoring.rds.amazonaws.com``); ``arn``."""
    import json

    import boto3

    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    (session or boto3).client("iam").create_role(
        RoleName=arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(trust)
    )
    return arn
