"""Aurora copy-on-write clones, and a pool of full copies for when a source has no free clone slot.

A *clone* (``RestoreDBClusterToPointInTime`` with ``RestoreType=copy-on-write``) shares its
source's storage pages and is ready in minutes whatever the size of the data. Aurora allows
:data:`DEFAULT_MAX_CLONES_PER_SOURCE` (15) copy-on-write clones per copy of the data, clones of
clones included; after that AWS silently makes the next "clone" a full copy, which takes as long
as a restore (source: :data:`CLONE_LIMIT_SOURCE_URL`). dbscale therefore counts the clones of a
cluster before cloning it and never asks AWS for one more than the limit.

A *copy* is a full, independent copy of the source (a snapshot restore plus one DB instance,
because Aurora clones only clusters that have one) with its own 15 clone slots.

:func:`provision_clone` makes one clone (choosing the source, a fresh copy, or a new copy), and
:class:`ClonePool` keeps enough fresh copies with free slots around. Every long change is an
:class:`~dbscale.core.operation.Operation` of idempotent :class:`CloneSteps`, so a Lambda can start
it and a later invocation can finish it.

Modules, each importing only those listed before it: ``naming`` (names, tags, times), ``inventory`` (what
exists, clone counts), ``inputs`` (checks of requests and pool settings), ``plans`` (the steps of
copies, clones and purges), ``steps`` (the step runner), ``provision`` (one clone), ``pool`` (the
pool of copies).
"""

from __future__ import annotations

from .inputs import validate_clone_request, validate_pool_settings
from .inventory import CLONE_LIMIT_SOURCE_URL, DEFAULT_MAX_CLONES_PER_SOURCE, CopyInfo, clone_count
from .naming import (
    CLONE_OF_TAG_KEY,
    CLONED_FROM_SOURCE_TAG_KEY,
    COPY_CREATED_TAG_KEY,
    COPY_ID_TAG_KEY,
    COPY_OF_TAG_KEY,
    copy_cutoff,
    copy_identifier,
    copy_identifier_prefix,
    iso,
    parse_timestamp,
    seed_snapshot_identifier,
)
from .plans import DEFAULT_COPY_SERVERLESS_V2_CAPACITY, ClonePlan, CloneSlotUnavailable, waiting_only
from .pool import ClonePool, PoolDecision, PoolMaintenance, PoolStatus
from .provision import provision_clone

# Saved operations name only their service ("clones"); dbscale.core.operation.RUNNERS maps it to
# CloneSteps, so operations saved before this package existed still resume.
from .steps import CloneSteps

__all__ = [
    "CLONED_FROM_SOURCE_TAG_KEY",
    "CLONE_LIMIT_SOURCE_URL",
    "CLONE_OF_TAG_KEY",
    "COPY_CREATED_TAG_KEY",
    "COPY_ID_TAG_KEY",
    "COPY_OF_TAG_KEY",
    "DEFAULT_COPY_SERVERLESS_V2_CAPACITY",
    "DEFAULT_MAX_CLONES_PER_SOURCE",
    "ClonePlan",
    "ClonePool",
    "CloneSlotUnavailable",
    "CloneSteps",
    "CopyInfo",
    "PoolDecision",
    "PoolMaintenance",
    "PoolStatus",
    "clone_count",
    "copy_cutoff",
    "copy_identifier",
    "copy_identifier_prefix",
    "iso",
    "parse_timestamp",
    "provision_clone",
    "seed_snapshot_identifier",
    "validate_clone_request",
    "validate_pool_settings",
    "waiting_only",
]
