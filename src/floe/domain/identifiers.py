"""Namespace and table identifiers.

Nested namespaces are tuples of parts, never dotted strings: ``("sales",
"eu")`` is the namespace ``sales.eu``. A part is a word of letters, digits,
``_`` or ``-`` (Unicode letters allowed), so that it is valid in every
Iceberg REST catalog, Polaris included, and in the embedded SQL catalog.

Names must also be storable: every catalog turns them into a path in its
warehouse. The embedded catalog (PyIceberg's ``SqlCatalog``) places a table
at ``<warehouse>/<namespace parts joined by ".">/<table>``, so the whole
namespace is ONE directory name; Polaris uses one directory per part. File
systems cap a directory name at 255 bytes (``NAME_MAX``), counted in UTF-8:
85 CJK characters already fill it. Hence a part, and the dotted namespace,
are at most 255 UTF-8 bytes. Together they bound a table's location below
the warehouse: at most 255 + 1 + 255 bytes, plus
``/metadata/00000-<uuid>.metadata.json`` (66 bytes), far from ``PATH_MAX``
(4096) and within an object store's 1024-byte key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

from floe.domain.errors import InvalidIdentifierError

Namespace = tuple[str, ...]

#: UTF-8 bytes of one namespace part or table name: a directory name on disk (``NAME_MAX``).
MAX_PART_BYTES = 255
#: UTF-8 bytes of the dotted namespace: the embedded catalog's directory name for it.
MAX_NAMESPACE_BYTES = 255
#: Namespace levels.
MAX_NAMESPACE_DEPTH = 16
_PART = re.compile(r"\w[\w\-]*\Z")


def validate_part(part: object, *, what: str = "name") -> str:
    """Check one namespace or table name part.

    Args:
        part: The candidate part.
        what: What the part is, for the error message.

    Returns:
        The part, unchanged.

    Raises:
        InvalidIdentifierError: If the part is empty, longer than
            :data:`MAX_PART_BYTES` in UTF-8, or contains a dot or a character
            outside letters, digits, ``_`` and ``-``.
    """
    if not isinstance(part, str):
        raise InvalidIdentifierError(
            f"{what} must be a string, got {type(part).__name__}", subject=repr(part)
        )
    if not part:
        raise InvalidIdentifierError(f"{what} must not be empty", subject=part)
    size = _utf8_size(part)
    if size > MAX_PART_BYTES:
        raise InvalidIdentifierError(
            f"{what} {part[:20]!r}… is {size} bytes long in UTF-8 ({len(part)} characters); "
            f"the limit is {MAX_PART_BYTES} bytes, the longest file name a warehouse can store",
            subject=part,
        )
    if "." in part:
        raise InvalidIdentifierError(
            f"{what} {part!r} contains a dot; nest namespaces with tuples, e.g. ('sales', 'eu')",
            subject=part,
        )
    if not _PART.match(part):
        raise InvalidIdentifierError(
            f"{what} {part!r} may only hold letters, digits, '_' and '-' "
            "and must start with a letter, digit or '_'",
            subject=part,
        )
    return part


def parse_namespace(value: str | Iterable[str]) -> Namespace:
    """Turn ``"a.b"`` or ``("a", "b")`` into a validated namespace tuple.

    Args:
        value: A dotted string or a sequence of parts.

    Returns:
        The namespace as a tuple of parts.

    Raises:
        InvalidIdentifierError: If the namespace is empty, too deep, longer
            than :data:`MAX_NAMESPACE_BYTES` dotted, or a part is invalid.
    """
    if isinstance(value, str):
        parts: tuple[object, ...] = tuple(value.split("."))
    elif isinstance(value, list | tuple):
        parts = tuple(value)
    else:
        raise InvalidIdentifierError(
            f"a namespace must be a dotted string or a tuple of parts, got {value!r}",
            subject=repr(value),
        )
    if not parts:
        raise InvalidIdentifierError("a namespace needs at least one part", subject="")
    if len(parts) > MAX_NAMESPACE_DEPTH:
        raise InvalidIdentifierError(
            f"namespace has {len(parts)} levels; the limit is {MAX_NAMESPACE_DEPTH}",
            subject=".".join(map(str, parts)),
        )
    namespace = tuple(validate_part(p, what="namespace part") for p in parts)
    text = format_namespace(namespace)
    size = _utf8_size(text)
    if size > MAX_NAMESPACE_BYTES:
        raise InvalidIdentifierError(
            f"namespace {text[:40]!r}… is {size} bytes long in UTF-8 with its dots; the limit "
            f"is {MAX_NAMESPACE_BYTES} bytes, as the embedded catalog stores the whole "
            "namespace as one directory name",
            subject=text,
        )
    return namespace


def _utf8_size(text: str) -> int:
    # A lone surrogate is not UTF-8; the character rule refuses it afterwards.
    return len(text.encode("utf-8", "surrogatepass"))


def format_namespace(namespace: Namespace) -> str:
    """Render a namespace tuple as dotted text (for messages and logs)."""
    return ".".join(namespace)


def _namespace_converter(value: str | Iterable[str]) -> Namespace:
    return parse_namespace(value)


def _name_validator(_: object, __: attrs.Attribute[str], value: str) -> None:
    validate_part(value, what="table name")


@attrs.frozen
class TableIdentifier:
    """A table's place in the catalog: its namespace and its name.

    Attributes:
        namespace: The namespace parts, outermost first.
        name: The table name.
    """

    namespace: Namespace = attrs.field(converter=_namespace_converter)
    name: str = attrs.field(validator=_name_validator)

    @classmethod
    def from_string(cls, text: str) -> TableIdentifier:
        """Parse ``"ns1.ns2.table"``: the last part is the table name.

        Raises:
            InvalidIdentifierError: If there are fewer than two parts or a part
                is invalid (e.g. ``"a..b"``).
        """
        if not isinstance(text, str):
            raise InvalidIdentifierError(
                f"table identifier must be a string, got {type(text).__name__}",
                subject=repr(text),
            )
        parts = text.split(".")
        if len(parts) < 2:
            raise InvalidIdentifierError(
                f"table identifier {text!r} needs a namespace and a name, e.g. 'sales.orders'",
                subject=text,
            )
        try:
            return cls(namespace=tuple(parts[:-1]), name=parts[-1])
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(
                f"table identifier {text!r}: {exc}", subject=text
            ) from None

    @classmethod
    def from_parts(cls, parts: Sequence[str]) -> TableIdentifier:
        """Build from ``(ns1, ns2, table)``.

        Raises:
            InvalidIdentifierError: If there are fewer than two parts.
        """
        if not isinstance(parts, list | tuple):
            raise InvalidIdentifierError(
                f"table identifier parts must be a list or tuple, got {parts!r}",
                subject=repr(parts),
            )
        parts = tuple(parts)
        if len(parts) < 2:
            raise InvalidIdentifierError(
                f"table identifier {parts!r} needs a namespace and a name", subject=str(parts)
            )
        return cls(namespace=parts[:-1], name=parts[-1])

    @property
    def parts(self) -> tuple[str, ...]:
        """Namespace parts followed by the table name."""
        return (*self.namespace, self.name)

    def __str__(self) -> str:
        return ".".join(self.parts)
