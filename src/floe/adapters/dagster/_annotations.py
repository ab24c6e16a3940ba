"""What a downstream input's annotation asks for: a frame, one per partition, or maybe nothing.

- ``pa.Table`` / ``pd.DataFrame`` / ``pl.DataFrame`` / ``pl.LazyFrame``
  (or no annotation): one frame of every requested row.
- ``dict[str, <frame>]`` (or ``Mapping``): one frame per requested
  partition, keyed by partition key, as dagster-polars gives them.
- ``Optional[...]`` / ``... | None``: ``None`` when the upstream table does
  not exist, instead of a :class:`floe.TableNotFoundError`.
"""

from __future__ import annotations

import collections.abc
import types
import typing

import attrs


@attrs.frozen
class InputShape:
    """The shape of an input's value.

    Attributes:
        frame: The annotation of one frame (``None`` when not annotated).
        by_partition: A ``dict`` of frames keyed by partition key.
        optional: ``None`` stands for a missing table.
    """

    frame: object
    by_partition: bool = False
    optional: bool = False


_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def input_shape(annotation: object) -> InputShape:
    """Read an input's annotation (``context.dagster_type.typing_type``)."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1 and len(typing.get_args(annotation)) == 2:
            annotation, optional = members[0], True
    if typing.get_origin(annotation) in _MAPPINGS:
        args = typing.get_args(annotation)
        frame = args[1] if len(args) == 2 else None
        return InputShape(_plain(frame), by_partition=True, optional=optional)
    return InputShape(_plain(annotation), optional=optional)


def _plain(annotation: object) -> object:
    return None if annotation is typing.Any else annotation
