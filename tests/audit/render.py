"""Render the API calls the handlers made as the equivalent native CloudFormation resources.

``python -m tests.audit.render OUTDIR [CDK_OUT]`` synthesizes the example app (or reads the cloud
assembly in CDK_OUT), drives its custom resources and those of examples/raw-cloudformation.yaml
through the real handlers on moto (tests/audit/record.py), and writes one native template per
source template to OUTDIR (``DbscaleExample.native.json`` ...). ``make audit`` lints them with
checkov; tests/audit/test_native_lint.py with cfn-lint and the cdk-nag packs.

The mapping is generic and table-driven: a call's API parameters become the native resource's
properties of the same name (checked against the resource's CloudFormation schema, which cfn-lint
ships), except those listed in :data:`OPERATIONS` (renamed, folded into another property, or
dropped with the reason). A write operation missing from the table, or an API parameter that is
neither a native property nor listed, raises :class:`Unrendered`: nothing is dropped silently, so
a parameter the handlers start sending shows up here, rendered or failing.

A value the handler got from a template reference (a security group id, a KMS key ARN, a subnet
group name) becomes a template parameter; an identifier of another rendered resource (a cluster's
identifier in an instance's ``DBClusterIdentifier``, a parameter group's name) becomes a ``Ref``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.audit.record import Recorded, References, load_sources, record, synthesize


class Unrendered(AssertionError):
    """A recorded write call, or one of its parameters, that the mapping does not know."""


Props = dict[str, Any]
Fold = Callable[[Props, Any], None]  # (the native resource's properties, the API value)


def _tags_added(props: Props, tags: Any) -> None:
    kept = [t for t in props.get("Tags", []) if t["Key"] not in {n["Key"] for n in tags}]
    props["Tags"] = kept + [{"Key": t["Key"], "Value": t["Value"]} for t in tags]


def _tags_removed(props: Props, keys: Any) -> None:
    props["Tags"] = [t for t in props.get("Tags", []) if t["Key"] not in set(keys)]


def _set(name: str) -> Fold:
    def fold(props: Props, value: Any) -> None:
        props[name] = value

    return fold


def _into(name: str, key: str) -> Fold:
    """The value becomes ``key`` of the object property ``name`` (e.g. MasterUserSecret.KmsKeyId)."""

    def fold(props: Props, value: Any) -> None:
        props.setdefault(name, {})[key] = value

    return fold


def _log_exports(name: str) -> Fold:
    """RDS CloudwatchLogsExportConfiguration {EnableLogTypes, DisableLogTypes} -> EnableCloudwatchLogsExports."""

    def fold(props: Props, value: Any) -> None:
        current = [t for t in props.get(name, []) if t not in value.get("DisableLogTypes", [])]
        props[name] = current + [t for t in value.get("EnableLogTypes", []) if t not in current]

    return fold


def _rds_parameters(props: Props, value: Any) -> None:
    """RDS Parameters [{ParameterName, ParameterValue, ApplyMethod}] -> native {name: value}."""
    props.setdefault("Parameters", {}).update({p["ParameterName"]: p["ParameterValue"] for p in value})


def _redshift_parameters(props: Props, value: Any) -> None:
    """Redshift Parameters [{ParameterName, ParameterValue, ApplyType...}] -> [{ParameterName, ParameterValue}]."""
    current = {p["ParameterName"]: p["ParameterValue"] for p in props.get("Parameters", [])}
    current.update({p["ParameterName"]: p["ParameterValue"] for p in value})
    props["Parameters"] = [{"ParameterName": k, "ParameterValue": v} for k, v in current.items()]


def _iam_roles_added(props: Props, roles: Any) -> None:
    props["IamRoles"] = list(dict.fromkeys([*props.get("IamRoles", []), *roles]))


def _iam_roles_removed(props: Props, roles: Any) -> None:
    props["IamRoles"] = [r for r in props.get("IamRoles", []) if r not in set(roles)]


def _dropped(reason: str) -> Fold:
    """A request-only parameter: it says how to make the change, not what the resource is."""

    def fold(props: Props, value: Any) -> None:
        del props, value

    fold.__doc__ = reason
    return fold


APPLY = _dropped("when to apply a change; native resources apply it in the stack update")
LOGGING = "LoggingProperties"


@dataclass(frozen=True)
class Operation:
    """How one write operation shows in a native resource.

    ``key``: the API parameter naming the resource (its value is the resource's identifier);
    ``creates``: whether the call makes the resource (else it changes one rendered before);
    ``special``: API parameters whose native form differs (renamed, folded, dropped with a reason);
    every other parameter must be a native property of the same name."""

    resource_type: str
    key: str
    creates: bool
    special: dict[str, Fold] = field(default_factory=dict)
    by_arn: bool = False  # ``key`` holds the resource's ARN (tagging calls)


_REDSHIFT_CLUSTER = "AWS::Redshift::Cluster"
_DB_CLUSTER = "AWS::RDS::DBCluster"
_DB_INSTANCE = "AWS::RDS::DBInstance"
_DB_CLUSTER_SPECIAL: dict[str, Fold] = {
    "MasterUserSecretKmsKeyId": _into("MasterUserSecret", "KmsKeyId"),
    "EnablePerformanceInsights": _set("PerformanceInsightsEnabled"),
    "PerformanceInsightsKMSKeyId": _set("PerformanceInsightsKmsKeyId"),
    "CloudwatchLogsExportConfiguration": _log_exports("EnableCloudwatchLogsExports"),
    "ApplyImmediately": APPLY,
    "AllowMajorVersionUpgrade": _dropped("the native DBCluster allows a major upgrade when EngineVersion changes"),
    "NewDBClusterIdentifier": _set("DBClusterIdentifier"),
    "ServerlessV2ScalingConfiguration": _set("ServerlessV2ScalingConfiguration"),
}
_DB_INSTANCE_SPECIAL: dict[str, Fold] = {
    "CloudwatchLogsExportConfiguration": _log_exports("EnableCloudwatchLogsExports"),
    "NewDBInstanceIdentifier": _set("DBInstanceIdentifier"),
    "VpcSecurityGroupIds": _set("VPCSecurityGroups"),
}
_REDSHIFT_MODIFY: dict[str, Fold] = {
    "NewClusterIdentifier": _set("ClusterIdentifier"),
    "ClusterParameterGroupName": _set("ClusterParameterGroupName"),
}

# (service, operation) -> how it renders. The exceptions to "same name" are listed per operation.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("redshift", "CreateCluster"): Operation(_REDSHIFT_CLUSTER, "ClusterIdentifier", True),
    ("redshift", "RestoreFromClusterSnapshot"): Operation(_REDSHIFT_CLUSTER, "ClusterIdentifier", True),
    ("redshift", "ModifyCluster"): Operation(_REDSHIFT_CLUSTER, "ClusterIdentifier", False, _REDSHIFT_MODIFY),
    ("redshift", "ModifyClusterMaintenance"): Operation(_REDSHIFT_CLUSTER, "ClusterIdentifier", False),
    ("redshift", "ModifyClusterIamRoles"): Operation(
        _REDSHIFT_CLUSTER,
        "ClusterIdentifier",
        False,
        {"AddIamRoles": _iam_roles_added, "RemoveIamRoles": _iam_roles_removed},
    ),
    ("redshift", "EnableLogging"): Operation(
        _REDSHIFT_CLUSTER,
        "ClusterIdentifier",
        False,
        {k: _into(LOGGING, k) for k in ("BucketName", "S3KeyPrefix", "LogDestinationType", "LogExports")},
    ),
    ("redshift", "ModifyClusterSnapshot"): Operation(_REDSHIFT_CLUSTER, "ClusterIdentifier", False),
    ("redshift", "CreateClusterParameterGroup"): Operation(
        "AWS::Redshift::ClusterParameterGroup", "ParameterGroupName", True
    ),
    ("redshift", "ModifyClusterParameterGroup"): Operation(
        "AWS::Redshift::ClusterParameterGroup", "ParameterGroupName", False, {"Parameters": _redshift_parameters}
    ),
    ("redshift", "CreateTags"): Operation("*", "ResourceName", False, {"Tags": _tags_added}, by_arn=True),
    ("redshift", "DeleteTags"): Operation("*", "ResourceName", False, {"TagKeys": _tags_removed}, by_arn=True),
    ("rds", "CreateDBCluster"): Operation(_DB_CLUSTER, "DBClusterIdentifier", True, _DB_CLUSTER_SPECIAL),
    ("rds", "RestoreDBClusterFromSnapshot"): Operation(_DB_CLUSTER, "DBClusterIdentifier", True, _DB_CLUSTER_SPECIAL),
    ("rds", "RestoreDBClusterToPointInTime"): Operation(_DB_CLUSTER, "DBClusterIdentifier", True, _DB_CLUSTER_SPECIAL),
    ("rds", "ModifyDBCluster"): Operation(_DB_CLUSTER, "DBClusterIdentifier", False, _DB_CLUSTER_SPECIAL),
    ("rds", "CreateDBInstance"): Operation(_DB_INSTANCE, "DBInstanceIdentifier", True, _DB_INSTANCE_SPECIAL),
    ("rds", "ModifyDBInstance"): Operation(
        _DB_INSTANCE, "DBInstanceIdentifier", False, {**_DB_INSTANCE_SPECIAL, "ApplyImmediately": APPLY}
    ),
    ("rds", "CreateDBClusterParameterGroup"): Operation(
        "AWS::RDS::DBClusterParameterGroup",
        "DBClusterParameterGroupName",
        True,
        {"DBParameterGroupFamily": _set("Family")},
    ),
    ("rds", "ModifyDBClusterParameterGroup"): Operation(
        "AWS::RDS::DBClusterParameterGroup", "DBClusterParameterGroupName", False, {"Parameters": _rds_parameters}
    ),
    ("rds", "CreateDBParameterGroup"): Operation(
        "AWS::RDS::DBParameterGroup", "DBParameterGroupName", True, {"DBParameterGroupFamily": _set("Family")}
    ),
    ("rds", "ModifyDBParameterGroup"): Operation(
        "AWS::RDS::DBParameterGroup", "DBParameterGroupName", False, {"Parameters": _rds_parameters}
    ),
    ("rds", "AddTagsToResource"): Operation("*", "ResourceName", False, {"Tags": _tags_added}, by_arn=True),
    ("rds", "RemoveTagsFromResource"): Operation("*", "ResourceName", False, {"TagKeys": _tags_removed}, by_arn=True),
    ("secretsmanager", "CreateSecret"): Operation("AWS::SecretsManager::Secret", "Name", True),
}

# Write calls that make or change nothing a native cluster template would declare.
NOT_RESOURCES: dict[str, str] = {
    "stepfunctions": "the executions of the runtime's long operations (it answers CloudFormation later), "
    "not part of the cluster",
    "sts": "the caller's identity, read only",
}
READ_PREFIXES = ("Describe", "List", "Get")


# Delete calls (made for a Delete request) -> the native DeletionPolicy that does the same. A
# resource the handler leaves behind on Delete renders with "Retain".
def _final_snapshot(skip: str) -> Callable[[dict[str, Any]], str]:
    return lambda params: "Delete" if params.get(skip) else "Snapshot"


DELETIONS: dict[tuple[str, str], tuple[str, str, Callable[[dict[str, Any]], str]]] = {
    ("redshift", "DeleteCluster"): (
        _REDSHIFT_CLUSTER,
        "ClusterIdentifier",
        _final_snapshot("SkipFinalClusterSnapshot"),
    ),
    ("rds", "DeleteDBCluster"): (_DB_CLUSTER, "DBClusterIdentifier", _final_snapshot("SkipFinalSnapshot")),
    ("rds", "DeleteDBInstance"): (_DB_INSTANCE, "DBInstanceIdentifier", lambda params: "Delete"),
    ("redshift", "DeleteClusterParameterGroup"): (
        "AWS::Redshift::ClusterParameterGroup",
        "ParameterGroupName",
        lambda params: "Delete",
    ),
    ("rds", "DeleteDBClusterParameterGroup"): (
        "AWS::RDS::DBClusterParameterGroup",
        "DBClusterParameterGroupName",
        lambda params: "Delete",
    ),
    ("rds", "DeleteDBParameterGroup"): ("AWS::RDS::DBParameterGroup", "DBParameterGroupName", lambda params: "Delete"),
    ("secretsmanager", "DeleteSecret"): ("AWS::SecretsManager::Secret", "SecretId", lambda params: "Delete"),
}

# The identifier property and the suffix of each rendered resource type's logical id.
NAMES = {
    _REDSHIFT_CLUSTER: ("ClusterIdentifier", "Cluster"),
    "AWS::Redshift::ClusterParameterGroup": ("ParameterGroupName", "ParameterGroup"),
    _DB_CLUSTER: ("DBClusterIdentifier", "Cluster"),
    _DB_INSTANCE: ("DBInstanceIdentifier", "Instance"),
    "AWS::RDS::DBClusterParameterGroup": ("DBClusterParameterGroupName", "ClusterParameterGroup"),
    "AWS::RDS::DBParameterGroup": ("DBParameterGroupName", "InstanceParameterGroup"),
    "AWS::SecretsManager::Secret": ("Name", "Secret"),
}
# ARN resource segment -> rendered type, for tagging calls (arn:aws:rds:...:cluster:NAME).
ARN_TYPES = {
    ("redshift", "cluster"): _REDSHIFT_CLUSTER,
    ("redshift", "parametergroup"): "AWS::Redshift::ClusterParameterGroup",
    ("rds", "cluster"): _DB_CLUSTER,
    ("rds", "db"): _DB_INSTANCE,
    ("rds", "cluster-pg"): "AWS::RDS::DBClusterParameterGroup",
    ("rds", "pg"): "AWS::RDS::DBParameterGroup",
}


def native_properties(resource_type: str) -> set[str]:
    """The writable properties of ``resource_type`` in the CloudFormation schema cfn-lint ships."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    read_only = {p.split("/")[2] for p in schema.get("readOnlyProperties", []) if p.count("/") == 2}
    return set(schema["properties"]) - read_only


@dataclass
class _Native:
    template: str
    logical_id: str
    type: str
    identifier: str
    properties: Props
    deletion_policy: str = "Retain"


class Renderer:
    """Folds recorded calls into native resources; ``templates()`` gives one template per source."""

    def __init__(self, references: References) -> None:
        self.references = references
        self.resources: dict[tuple[str, str], _Native] = {}  # (type, identifier) -> resource
        self.order: list[_Native] = []

    def add(self, recorded: Recorded) -> None:
        counters: dict[str, int] = {}
        for call in recorded.calls:
            if call.operation.startswith(READ_PREFIXES) or call.service in NOT_RESOURCES:
                continue
            operation = OPERATIONS.get((call.service, call.operation))
            if operation is None:
                raise Unrendered(
                    f"{recorded.resource.name}: {call.service} {call.operation} has no native rendering "
                    f"(add it to tests/audit/render.py OPERATIONS): {call.params}"
                )
            self._apply(recorded, call, operation, counters)
        # A Delete the handler refuses (DeletionProtection) deletes nothing: the resources stay "Retain".
        for call in recorded.delete_calls:
            deletion = DELETIONS.get((call.service, call.operation))
            if deletion is not None:
                resource_type, key, policy = deletion
                found = self.resources.get((resource_type, call.params[key]))
                if found is not None:
                    found.deletion_policy = policy(call.params)

    def _apply(self, recorded: Recorded, call: Any, operation: Operation, counters: dict[str, int]) -> None:
        params = dict(call.params)
        identifier = params.pop(operation.key)
        if operation.by_arn:
            native = self._by_arn(call.service, identifier, recorded)
        elif operation.creates:
            suffix = NAMES[operation.resource_type][1]
            counters[suffix] = counters.get(suffix, 0) + 1
            number = "" if suffix == "Cluster" else str(counters[suffix])
            native = _Native(
                recorded.resource.source,
                f"{recorded.resource.name}{suffix}{number}",
                operation.resource_type,
                identifier,
                {NAMES[operation.resource_type][0]: identifier},
            )
            self.resources[(operation.resource_type, identifier)] = native
            self.order.append(native)
        else:
            found = self.resources.get((operation.resource_type, identifier))
            if found is None:
                raise Unrendered(f"{recorded.resource.name}: {call.operation} changes {identifier}, never created")
            native = found
        allowed = native_properties(native.type)
        for name, value in params.items():
            fold = operation.special.get(name)
            if fold is not None:
                fold(native.properties, value)
            elif name in allowed:
                native.properties[name] = value
            else:
                raise Unrendered(
                    f"{recorded.resource.name}: {call.service} {call.operation} parameter {name} is not a "
                    f"{native.type} property and has no mapping in tests/audit/render.py OPERATIONS"
                )
        old_identifier = native.identifier
        native.identifier = native.properties[NAMES[native.type][0]]
        if native.identifier != old_identifier:
            self.resources[(native.type, native.identifier)] = self.resources.pop((native.type, old_identifier))

    def _by_arn(self, service: str, arn: str, recorded: Recorded) -> _Native:
        parts = arn.split(":")
        resource_type = ARN_TYPES.get((service, parts[5] if len(parts) > 5 else ""))
        found = resource_type and self.resources.get((resource_type, parts[-1]))
        if not found:
            raise Unrendered(f"{recorded.resource.name}: tags {arn}, which no rendered resource is")
        return found

    def templates(self) -> dict[str, dict[str, Any]]:
        identifiers: dict[str, list[_Native]] = {}
        for native in self.order:
            identifiers.setdefault(native.identifier, []).append(native)
        out: dict[str, dict[str, Any]] = {}
        for native in self.order:
            template = out.setdefault(
                native.template,
                {
                    "AWSTemplateFormatVersion": "2010-09-09",
                    "Description": f"What dbscale's handlers created for {native.template}, as native resources",
                    "Parameters": {},
                    "Resources": {},
                },
            )
            name_property = NAMES[native.type][0]
            properties = {
                k: v if k == name_property else self._symbolic(v, native, identifiers, template["Parameters"])
                for k, v in native.properties.items()
            }
            resource: dict[str, Any] = {"Type": native.type, "Properties": properties}
            # dbscale deletes a replaced cluster the way it deletes a removed one.
            resource["DeletionPolicy"] = resource["UpdateReplacePolicy"] = native.deletion_policy
            template["Resources"][native.logical_id] = resource
        for template in out.values():
            if not template["Parameters"]:
                del template["Parameters"]
        return out

    def _symbolic(
        self, value: Any, owner: _Native, identifiers: dict[str, list[_Native]], parameters: dict[str, Any]
    ) -> Any:
        if isinstance(value, list):
            return [self._symbolic(v, owner, identifiers, parameters) for v in value]
        if isinstance(value, dict):
            if set(value) == {"Key", "Value"}:  # a tag: keep the text
                return value
            return {k: self._symbolic(v, owner, identifiers, parameters) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        others = [r for r in identifiers.get(value, []) if r is not owner and r.template == owner.template]
        if others:
            return {"Ref": others[0].logical_id}
        reference = self.references.parameters.get(value)
        if reference is not None:
            name, kind = reference
            parameters[name] = {"Type": kind, "Description": f"stands for {name} of the source template"}
            return {"Ref": name}
        return value


def render(recorded: list[Recorded], references: References) -> dict[str, dict[str, Any]]:
    renderer = Renderer(references)
    for item in recorded:
        if item.status != "SUCCESS":
            raise AssertionError(f"{item.resource.name}: the handler answered {item.status}: {item.reason}")
        renderer.add(item)
    return renderer.templates()


def render_example(cdk_out: Path, **record_options: Any) -> dict[str, dict[str, Any]]:
    """The native templates for the example app synthesized in ``cdk_out`` and the raw template."""
    recorded, references = record(load_sources(cdk_out), **record_options)
    return render(recorded, references)


def write(templates: dict[str, dict[str, Any]], outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, template in templates.items():
        path = outdir / f"{name}.native.json"
        path.write_text(json.dumps(template, indent=1, sort_keys=False) + "\n")
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print("usage: python -m tests.audit.render OUTDIR [CDK_OUT]", file=sys.stderr)
        return 2
    outdir = Path(argv[0])
    cdk_out = Path(argv[1]) if len(argv) == 2 else synthesize(outdir / "cdk.out")
    for path in write(render_example(cdk_out), outdir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["NOT_RESOURCES", "OPERATIONS", "Renderer", "Unrendered", "render", "render_example", "write"]
