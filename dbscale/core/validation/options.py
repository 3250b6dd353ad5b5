"""Messages in the caller's names, and AWS request parameters given through the Python API."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..errors import InvalidRequest
from .names import (
    validate_db_subnet_group_name,
    validate_engine_version,
    validate_kms_key_id,
    validate_parameter_group_name,
    validate_redshift_db_name,
    validate_redshift_subnet_group_name,
    validate_security_group_ids,
)
from .tags import validate_tag
from .values import (
    describe_value,
    validate_text,
)

# --- messages in the caller's names ------------------------------------------------------------


def renamed(err: InvalidRequest, names: Mapping[str, str]) -> InvalidRequest:
    """``err`` in the caller's names: its ``field`` mapped through ``names`` (Python argument ->
    the caller's name, e.g. a CloudFormation property), and each argument name with an underscore
    or a subscript in ``names`` replaced in its message. The one place core messages are renamed."""
    field = names.get(err.field, err.field) if err.field else err.field
    spelled = sorted((k for k in names if "_" in k or "[" in k), key=len, reverse=True)
    message = str(err)
    if spelled:
        pattern = re.compile(r"(?<![\w\[])(" + "|".join(re.escape(k) for k in spelled) + r")(?![\w\[])")
        message = pattern.sub(lambda m: names[m.group(1)], message)
    if field == err.field and message == str(err):
        return err
    return InvalidRequest(message, field=field)


# --- AWS request parameters given through the Python API ----------------------------------------

# Parameters of CreateCluster/ModifyCluster and CreateDBCluster/ModifyDBCluster (AWS's names) with
# one meaning across both services, and their checks; every other string is checked as text.
_AWS_OPTION_CHECKS: Mapping[str, Callable[..., object]] = {
    "DBName": validate_redshift_db_name,
    "ClusterSubnetGroupName": validate_redshift_subnet_group_name,
    "ClusterParameterGroupName": validate_parameter_group_name,
    "DBSubnetGroupName": validate_db_subnet_group_name,
    "DBClusterParameterGroupName": validate_parameter_group_name,
    "VpcSecurityGroupIds": validate_security_group_ids,
    "KmsKeyId": validate_kms_key_id,
    "EngineVersion": validate_engine_version,
}


def validate_aws_options(options: Mapping[str, object]) -> None:
    """Check create/modify parameters in AWS's names before they reach AWS: the names above by
    their rules, ``Tags`` as tags, and every other string (or list of strings) for control characters."""
    for name, value in options.items():
        check = _AWS_OPTION_CHECKS.get(name)
        if check is not None:
            check(value, field=name)
        elif name == "Tags":
            if not isinstance(value, (list, tuple)) or not all(isinstance(t, Mapping) for t in value):
                message = f"Tags must be a list of {{Key, Value}} objects, got {describe_value(value)}"
                raise InvalidRequest(message, field="Tags")
            for tag in value:
                validate_tag(tag.get("Key"), tag.get("Value", ""), field=name, user=False)
        elif isinstance(value, str):
            validate_text(value, field=name)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, str):
                    validate_text(item, field=name)
