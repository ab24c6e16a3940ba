"""The IO manager's settings as one validated value.

:class:`floe.adapters.dagster.IcebergIOManager` takes its settings as
Dagster config fields; :class:`IcebergIOManagerConfig` is the same settings
checked and converted into floe's types (a namespace tuple, a
:class:`floe.WriteMode`), so that an invalid setting fails as a
:class:`floe.InvalidConfigError` or :class:`floe.InvalidIdentifierError`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from floe.domain.errors import InvalidConfigError
from floe.domain.identifiers import Namespace, parse_namespace
from floe.domain.models import WriteMode
from floe.domain.refs import MAIN, check_ref_name


def _str_map(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _write_mode(value: WriteMode | str) -> WriteMode:
    try:
        return WriteMode(value)
    except ValueError:
        modes = ", ".join(m.value for m in WriteMode)
        raise InvalidConfigError(
            f"unknown write mode {value!r}; expected one of {modes}", subject="write_mode"
        ) from None


def _branch(value: str | None) -> str | None:
    """A branch name, checked; ``None``, ``""`` and ``"main"`` all mean ``main``."""
    if value is None or value == "" or value == MAIN:
        return None
    return check_ref_name(value)


@attrs.frozen
class IcebergIOManagerConfig:
    """How the Dagster IO manager maps asset outputs to tables.

    Attributes:
        default_namespace: Namespace of single-part asset keys.
        write_mode: Default write mode: ``overwrite``, so that an asset's
            materialization replaces its table (a partitioned asset's, its
            partition); ``append`` and ``upsert`` are opted into.
        schema_evolution: Whether writes may add columns / widen types.
        partition_column: Column filtered by time-window partitions.
        table_properties: Properties set on tables floe creates.
        branch: The branch every asset is written to and read from first
            (write-audit-publish); ``None`` is ``main``.
    """

    default_namespace: Namespace = attrs.field(default=("default",), converter=parse_namespace)
    write_mode: WriteMode = attrs.field(default=WriteMode.OVERWRITE, converter=_write_mode)
    schema_evolution: bool = True
    partition_column: str | None = None
    table_properties: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map)
    branch: str | None = attrs.field(default=None, converter=_branch)
