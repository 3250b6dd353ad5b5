"""Input validation shared by the core, the handlers and the constructs (one copy of each rule).

Every function raises :class:`InvalidRequest` naming the field and the allowed values, and makes
no AWS call. ``field`` lets each caller name the input the way its user wrote it (``node_type`` in
Python, ``NodeType`` in CloudFormation). One module per kind of input:
:mod:`.values` (text, numbers, flags), :mod:`.clusters` (shapes), :mod:`.names` (AWS names),
:mod:`.tags`, :mod:`.options` (AWS parameters, messages in the caller's names).
"""

from __future__ import annotations

from .clusters import (
    validate_aurora_cluster,
    validate_aurora_engine,
    validate_aurora_instance_class,
    validate_auto_pause,
    validate_backup_retention,
    validate_cluster_identifier,
    validate_port,
    validate_reader_count,
    validate_redshift_node_type,
    validate_redshift_nodes,
    validate_resize_type,
    validate_serverless_v2_capacity,
)
from .names import (
    validate_aurora_db_name,
    validate_aurora_master_username,
    validate_db_subnet_group_name,
    validate_engine_version,
    validate_kms_key_id,
    validate_parameter_group_name,
    validate_redshift_db_name,
    validate_redshift_master_username,
    validate_redshift_subnet_group_name,
    validate_security_group_ids,
)
from .options import renamed, validate_aws_options
from .tags import validate_tag, validate_tags
from .values import (
    control_character,
    describe_value,
    parse_decimal,
    parse_flag,
    parse_integer,
    validate_copy_age_hours,
    validate_flag,
    validate_positive_number,
    validate_text,
)

__all__ = [
    "control_character",
    "describe_value",
    "parse_decimal",
    "parse_flag",
    "parse_integer",
    "renamed",
    "validate_aurora_cluster",
    "validate_aurora_db_name",
    "validate_aurora_engine",
    "validate_aurora_instance_class",
    "validate_aurora_master_username",
    "validate_auto_pause",
    "validate_aws_options",
    "validate_backup_retention",
    "validate_cluster_identifier",
    "validate_copy_age_hours",
    "validate_db_subnet_group_name",
    "validate_engine_version",
    "validate_flag",
    "validate_kms_key_id",
    "validate_parameter_group_name",
    "validate_port",
    "validate_positive_number",
    "validate_reader_count",
    "validate_redshift_db_name",
    "validate_redshift_master_username",
    "validate_redshift_node_type",
    "validate_redshift_nodes",
    "validate_redshift_subnet_group_name",
    "validate_resize_type",
    "validate_security_group_ids",
    "validate_serverless_v2_capacity",
    "validate_tag",
    "validate_tags",
    "validate_text",
]
