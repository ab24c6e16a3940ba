"""Maintenance policies a catalog applies to a table (Apache Polaris' policy types).

Polaris answers ``GET /polaris/v1/{prefix}/applicable-policies`` with the
policies that apply to a table, its own and those inherited from its
namespaces and catalog (the nearest of a type wins, so there is one per
type). Each has a type and a ``content``: JSON text validated by Polaris
against the type's schema (``polaris-core/.../schemas/policies/system/``):

- ``system.snapshot-expiry``: ``{"enable": bool, "config": {...}}``; floe
  reads ``config.min_snapshot_to_keep`` (``retain_last``) and
  ``config.max_snapshot_age_days`` (``older_than``).
- ``system.orphan-file-removal``: ``{"enable": bool,
  "max_orphan_file_age_in_days": number, "locations": [...], "config":
  {...}}``; floe reads the age (``older_than``). ``locations`` is not
  honoured: floe only ever searches the table's own location.
- ``system.data-compaction``: ``{"enable": bool, "config": {...}}``; floe
  reads ``config.target_file_size_bytes`` (compaction's ``target_file_size``).

Other types (``custom.*``, ``system.metadata-compaction``) are ignored.
Parsing is pure: content that is not what the schema allows raises
:class:`InvalidPolicyError` naming the policy.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TypeVar

import attrs

from floe.domain.errors import InvalidPolicyError

_T = TypeVar("_T")

#: The content schema version Polaris defines for the system policy types.
SCHEMA_VERSION = "2025-02-03"


class PolicyType(enum.StrEnum):
    """The Polaris system policy types floe acts on."""

    SNAPSHOT_EXPIRY = "system.snapshot-expiry"
    ORPHAN_FILE_REMOVAL = "system.orphan-file-removal"
    DATA_COMPACTION = "system.data-compaction"


@attrs.frozen
class AppliedPolicy:
    """A policy the catalog applies to a table, as it lists it (content unparsed).

    Attributes:
        name: The policy's name.
        policy_type: Its type, e.g. ``system.snapshot-expiry``.
        content: Its content, JSON text (``None`` when it has none).
        inherited: It is attached to a parent namespace or the catalog.
    """

    name: str
    policy_type: str
    content: str | None = None
    inherited: bool = False


@attrs.frozen
class SnapshotExpiryPolicy:
    """A ``system.snapshot-expiry`` policy.

    Attributes:
        name: The policy's name.
        enabled: Snapshot expiry is to run.
        retain_last: ``config.min_snapshot_to_keep``, if set.
        older_than: ``config.max_snapshot_age_days``, if set.
    """

    name: str
    enabled: bool
    retain_last: int | None = None
    older_than: timedelta | None = None


@attrs.frozen
class OrphanFileRemovalPolicy:
    """A ``system.orphan-file-removal`` policy.

    Attributes:
        name: The policy's name.
        enabled: Orphan-file removal is to run.
        older_than: ``max_orphan_file_age_in_days``, if set.
    """

    name: str
    enabled: bool
    older_than: timedelta | None = None


@attrs.frozen
class DataCompactionPolicy:
    """A ``system.data-compaction`` policy.

    Attributes:
        name: The policy's name.
        enabled: Compaction is to run.
        target_file_size_bytes: ``config.target_file_size_bytes``, if set.
    """

    name: str
    enabled: bool
    target_file_size_bytes: int | None = None


@attrs.frozen
class TablePolicies:
    """The maintenance policies that apply to one table (``None``: no policy of that type).

    Attributes:
        snapshot_expiry: The snapshot expiry policy.
        orphan_file_removal: The orphan-file removal policy.
        data_compaction: The data compaction policy.
    """

    snapshot_expiry: SnapshotExpiryPolicy | None = None
    orphan_file_removal: OrphanFileRemovalPolicy | None = None
    data_compaction: DataCompactionPolicy | None = None


def _refuse(policy: AppliedPolicy, problem: str) -> InvalidPolicyError:
    return InvalidPolicyError(
        f"policy {policy.name!r} ({policy.policy_type}) applying to the table: {problem}",
        subject=policy.name,
    )


def _content(policy: AppliedPolicy, allowed: frozenset[str]) -> Mapping[str, object]:
    try:
        content = json.loads(policy.content or "")
    except ValueError:
        raise _refuse(policy, f"content is not JSON: {policy.content!r:.80}") from None
    if not isinstance(content, dict):
        raise _refuse(policy, f"content must be a JSON object, got {content!r:.80}")
    unknown = sorted(set(content) - allowed)
    if unknown:
        raise _refuse(policy, f"unknown content field(s) {unknown}")
    if not isinstance(content.get("enable"), bool):
        raise _refuse(policy, f"'enable' must be true or false, got {content.get('enable')!r}")
    version = content.get("version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise _refuse(policy, f"content version {version!r} is not {SCHEMA_VERSION!r}")
    config = content.get("config", {})
    if not isinstance(config, dict):
        raise _refuse(policy, f"'config' must be a JSON object, got {config!r:.80}")
    return content


def _config(content: Mapping[str, object]) -> Mapping[str, object]:
    config = content.get("config", {})
    return config if isinstance(config, dict) else {}


def _number(policy: AppliedPolicy, field: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refuse(policy, f"{field!r} must be a number, got {value!r}")
    if value < 0:
        raise _refuse(policy, f"{field!r} must not be negative, got {value!r}")
    return float(value)


def _days(policy: AppliedPolicy, field: str, value: object) -> timedelta | None:
    days = _number(policy, field, value)
    return None if days is None else timedelta(days=days)


def _whole(policy: AppliedPolicy, field: str, value: object, *, least: int) -> int | None:
    number = _number(policy, field, value)
    if number is None:
        return None
    if not number.is_integer() or number < least:
        raise _refuse(policy, f"{field!r} must be a whole number >= {least}, got {value!r}")
    return int(number)


_COMMON = frozenset({"version", "enable", "config"})


def _snapshot_expiry(policy: AppliedPolicy) -> SnapshotExpiryPolicy:
    content = _content(policy, _COMMON)
    config = _config(content)
    return SnapshotExpiryPolicy(
        name=policy.name,
        enabled=bool(content["enable"]),
        retain_last=_whole(
            policy, "config.min_snapshot_to_keep", config.get("min_snapshot_to_keep"), least=1
        ),
        older_than=_days(
            policy, "config.max_snapshot_age_days", config.get("max_snapshot_age_days")
        ),
    )


def _orphan_file_removal(policy: AppliedPolicy) -> OrphanFileRemovalPolicy:
    content = _content(policy, _COMMON | {"max_orphan_file_age_in_days", "locations"})
    locations = content.get("locations", [])
    if not isinstance(locations, list) or not all(isinstance(x, str) for x in locations):
        raise _refuse(policy, f"'locations' must be a list of text, got {locations!r:.80}")
    return OrphanFileRemovalPolicy(
        name=policy.name,
        enabled=bool(content["enable"]),
        older_than=_days(
            policy, "max_orphan_file_age_in_days", content.get("max_orphan_file_age_in_days")
        ),
    )


def _data_compaction(policy: AppliedPolicy) -> DataCompactionPolicy:
    content = _content(policy, _COMMON)
    config = _config(content)
    return DataCompactionPolicy(
        name=policy.name,
        enabled=bool(content["enable"]),
        target_file_size_bytes=_whole(
            policy,
            "config.target_file_size_bytes",
            config.get("target_file_size_bytes"),
            least=1,
        ),
    )


def table_policies(applied: Iterable[AppliedPolicy]) -> TablePolicies:
    """The maintenance policies among those a catalog applies to a table, parsed.

    Policies of other types are ignored. Polaris applies one policy per
    type (the nearest overrides inherited ones); should a catalog list
    several, the table's own wins over an inherited one, then the first.

    Args:
        applied: The policies as the catalog lists them.

    Returns:
        The snapshot expiry, orphan-file removal and compaction policies.

    Raises:
        InvalidPolicyError: A maintenance policy's content is not valid for
            its type (not JSON, unknown fields, ``enable`` missing, a
            negative or non-numeric age, ``min_snapshot_to_keep`` < 1...).
    """
    chosen: dict[str, AppliedPolicy] = {}
    for policy in sorted(applied, key=lambda p: p.inherited):  # stable: own ones first
        chosen.setdefault(policy.policy_type, policy)
    expiry = chosen.get(PolicyType.SNAPSHOT_EXPIRY)
    orphans = chosen.get(PolicyType.ORPHAN_FILE_REMOVAL)
    compaction = chosen.get(PolicyType.DATA_COMPACTION)
    return TablePolicies(
        snapshot_expiry=None if expiry is None else _snapshot_expiry(expiry),
        orphan_file_removal=None if orphans is None else _orphan_file_removal(orphans),
        data_compaction=None if compaction is None else _data_compaction(compaction),
    )


#: Snapshot age limit of a policy-driven run when neither caller nor policy sets one
#: (Iceberg's ``history.expire.max-snapshot-age-ms`` default).
DEFAULT_RUN_SNAPSHOT_AGE = timedelta(days=5)
#: Newest snapshots a policy-driven run keeps when neither caller nor policy says
#: (Iceberg's ``history.expire.min-snapshots-to-keep`` default).
DEFAULT_RUN_RETAIN_LAST = 1


@attrs.frozen
class ExpirySettings:
    """What a policy-driven run passes to snapshot expiry.

    Attributes:
        older_than: The age beyond which snapshots may go.
        retain_last: How many of the newest snapshots stay.
    """

    older_than: timedelta
    retain_last: int


def expiry_settings(
    policy: SnapshotExpiryPolicy | None,
    *,
    older_than: timedelta | None,
    retain_last: int | None,
) -> ExpirySettings | None:
    """Expiry settings of a policy-driven run: the caller's, else the policy's, else Iceberg's.

    Args:
        policy: The table's snapshot expiry policy, if any.
        older_than: The caller's age limit (``None``: not given).
        retain_last: The caller's count (``None``: not given).

    Returns:
        The settings, or ``None`` when a disabled policy says expiry is not to run.
    """
    if policy is not None and not policy.enabled:
        return None
    from_policy = policy or SnapshotExpiryPolicy(name="", enabled=True)
    return ExpirySettings(
        older_than=_first(older_than, from_policy.older_than, DEFAULT_RUN_SNAPSHOT_AGE),
        retain_last=_first(retain_last, from_policy.retain_last, DEFAULT_RUN_RETAIN_LAST),
    )


@attrs.frozen
class CompactionSettings:
    """What a policy-driven run passes to compaction.

    Attributes:
        target_file_size: The size to aim for; ``None`` takes the table's
            ``write.target-file-size-bytes``.
    """

    target_file_size: int | None


def compaction_settings(
    policy: DataCompactionPolicy | None, *, target_file_size: int | None
) -> CompactionSettings | None:
    """Compaction settings of a policy-driven run: the caller's, else the policy's target.

    Args:
        policy: The table's data compaction policy, if any.
        target_file_size: The caller's target (``None``: not given).

    Returns:
        The settings, or ``None`` when a disabled policy says compaction is not to run.
    """
    if policy is not None and not policy.enabled:
        return None
    from_policy = None if policy is None else policy.target_file_size_bytes
    return CompactionSettings(target_file_size=_first(target_file_size, from_policy, None))


def orphan_settings(
    policy: OrphanFileRemovalPolicy | None, *, older_than: timedelta | None, default: timedelta
) -> timedelta | None:
    """The orphan age of a policy-driven run: the caller's, else the policy's, else ``default``.

    Args:
        policy: The table's orphan-file removal policy, if any.
        older_than: The caller's age (``None``: not given).
        default: floe's default age.

    Returns:
        The age, or ``None`` when a disabled policy says removal is not to run.
    """
    if policy is not None and not policy.enabled:
        return None
    return _first(older_than, None if policy is None else policy.older_than, default)


def _first(given: _T | None, from_policy: _T | None, default: _T) -> _T:
    if given is not None:
        return given
    return from_policy if from_policy is not None else default
