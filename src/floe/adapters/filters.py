"""Row filters: Iceberg's expression syntax, parsed and checked by PyIceberg.

Every adapter accepts the same filters because every adapter parses them
here, with PyIceberg's own parser, and binds them to the table schema so
that an unknown column is reported as an :class:`InvalidFilterError` before
any data is touched. A filter is text or a PyIceberg ``BooleanExpression``
(what PyIceberg users already build); both obey the same size limits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    IsNaN,
    Not,
    NotEqualTo,
    NotIn,
    NotNull,
    Or,
)
from pyiceberg.expressions.parser import parse
from pyiceberg.expressions.visitors import bind, rewrite_not
from pyiceberg.io.pyarrow import expression_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, FloatType

from floe.domain.errors import InvalidFilterError

#: The most predicates (terms joined by ``and``/``or``) a filter may hold.
#: PyIceberg's parser and every visitor of the expression cost time in
#: proportion to it (about 1 ms per term); a longer list of values is one
#: ``in`` predicate, which has no such limit.
MAX_FILTER_PREDICATES = 1000
#: The deepest nesting of parentheses and ``not`` a filter may have: the
#: expression visitors recurse once per level.
MAX_FILTER_NESTING = 50

_LEXEMES = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[A-Za-z_][A-Za-z0-9_.]*|[()]")


def check_filter_size(text: str, *, table: str) -> None:
    """Refuse a filter beyond the documented size limits before parsing it.

    One pass over the text's lexemes (quoted literals and names are skipped
    whole), so a huge filter is refused in linear time.

    Raises:
        InvalidFilterError: More than :data:`MAX_FILTER_PREDICATES` predicates
            or a nesting deeper than :data:`MAX_FILTER_NESTING`.
    """
    predicates, depth, deepest, nots = 1, 0, 0, 0
    for lexeme in _LEXEMES.findall(text):
        word = lexeme.lower()
        if word in ("and", "or"):
            predicates += 1
            nots = 0
        elif word == "not":
            nots += 1
        elif lexeme == "(":
            depth += 1
        elif lexeme == ")":
            depth -= 1
            nots = 0
        deepest = max(deepest, depth + nots)
    if predicates > MAX_FILTER_PREDICATES:
        raise InvalidFilterError(
            f"row filter for table {table} has {predicates} predicates; at most "
            f"{MAX_FILTER_PREDICATES} are allowed (use 'col in (...)' for long value lists)",
            subject=table,
        )
    if deepest > MAX_FILTER_NESTING:
        raise InvalidFilterError(
            f"row filter for table {table} nests {deepest} levels deep; at most "
            f"{MAX_FILTER_NESTING} are allowed",
            subject=table,
        )


def check_expression_size(expression: BooleanExpression, *, table: str) -> None:
    """Refuse an expression object beyond the size limits, without recursing.

    The predicates are counted as in text; an ``and``/``or`` chain nests one
    level per term when built, so the depth allowed is the predicate limit
    plus :data:`MAX_FILTER_NESTING`.

    Raises:
        InvalidFilterError: More than :data:`MAX_FILTER_PREDICATES` predicates
            or deeper than the limits allow.
    """
    deepest_allowed = MAX_FILTER_PREDICATES + MAX_FILTER_NESTING
    predicates = 0
    pending: list[tuple[object, int]] = [(expression, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > deepest_allowed:
            raise InvalidFilterError(
                f"row filter for table {table} nests more than {deepest_allowed} levels deep",
                subject=table,
            )
        if isinstance(node, And | Or):
            pending += [(node.left, depth + 1), (node.right, depth + 1)]
        elif isinstance(node, Not):
            pending.append((node.child, depth + 1))
        else:
            predicates += 1
            if predicates > MAX_FILTER_PREDICATES:
                raise InvalidFilterError(
                    f"row filter for table {table} has more than {MAX_FILTER_PREDICATES} "
                    "predicates (use an In predicate for long value lists)",
                    subject=table,
                )


def parse_filter(text: object, *, table: str) -> BooleanExpression:
    """Parse filter text (``None`` or blank: every row), or check an expression.

    Args:
        text: Iceberg filter text, a PyIceberg ``BooleanExpression`` (used as
            it is, unbound), or ``None``.
        table: The table's name, for messages.

    Raises:
        InvalidFilterError: The text is not a valid Iceberg expression, the
            value is neither text nor an expression, or it is beyond the size
            limits (:func:`check_filter_size`, :func:`check_expression_size`).
    """
    if isinstance(text, BooleanExpression):
        check_expression_size(text, table=table)
        return text
    if text is None or (isinstance(text, str) and not text.strip()):
        return AlwaysTrue()
    if not isinstance(text, str):
        raise InvalidFilterError(
            f"the row filter for table {table} must be filter text (a str) or a PyIceberg "
            f"BooleanExpression, got {type(text).__name__} {text!r:.60}",
            subject=table,
        )
    check_filter_size(text, table=table)
    try:
        expression = _parsed(text)
    except Exception as exc:  # pyparsing raises its own exception types
        where = _lexical_error(text) or (
            f"syntax error at character {exc.loc + 1}" if hasattr(exc, "loc") else _first_line(exc)
        )
        raise InvalidFilterError(
            f"cannot parse row filter {text!r} for table {table}: {where}",
            subject=table,
        ) from exc
    return expression


# A quoted literal or name as PyIceberg's grammar reads it (pyparsing's quoted
# strings: a doubled quote or a backslash escape inside, no line break).
_QUOTED = {q: re.compile(rf"{q}(?:[^{q}\\\n\r]|{q}{q}|\\.)*{q}") for q in ("'", '"')}


def _lexical_error(text: str) -> str | None:
    """Where an unterminated quote or an unbalanced parenthesis is, if there is one.

    PyIceberg's parser backtracks to the start of the predicate it could not
    read, so its position for these mistakes is the predicate's first
    character, not the mistake's.
    """
    opened: list[int] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char in _QUOTED:
            match = _QUOTED[char].match(text, at)
            if match is None:
                return f"unterminated quote {char} at character {at + 1}"
            at = match.end()
            continue
        if char == "(":
            opened.append(at)
        elif char == ")":
            if not opened:
                return f"unmatched ')' at character {at + 1}"
            opened.pop()
        at += 1
    if opened:
        return f"unclosed '(' at character {opened[-1] + 1}"
    return None


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> BooleanExpression:
    # Parsing costs milliseconds and a read parses its filter more than once
    # (to check, to push down, to delete); expressions are immutable values.
    expression: BooleanExpression = parse(text)
    return expression


def bind_filter(text: object, schema: Schema, *, table: str) -> BooleanExpression:
    """Parse and bind a filter (text or expression) to a table schema.

    Raises:
        InvalidFilterError: Unparseable, names an unknown column, or compares
            a column with a value of the wrong type.
    """
    expression = parse_filter(text, table=table)
    try:
        bound: BooleanExpression = bind(schema, expression, case_sensitive=True)
    except Exception as exc:  # ValueError / TypeError from literal conversion
        raise InvalidFilterError(
            f"row filter {text!r:.300} does not fit table {table}: {_first_line(exc)}",
            subject=table,
        ) from exc
    # Negations pushed into the predicates, as PyIceberg's scans do: under
    # Iceberg's rules ``not (f >= 0)`` is ``f < 0``, false for NaN, whereas
    # Arrow would negate its false ``NaN >= 0`` into true.
    return rewrite_not(bound)


def scan_pushdown(text: object, schema: Schema, *, table: str) -> tuple[BooleanExpression, bool]:
    """The filter to hand to PyIceberg's scan, and whether it is exact.

    Arrow prunes Parquet row groups by their min/max statistics, which leave
    NaN out: a row group holding ``[1.0, NaN]`` has the bounds ``[1.0, 1.0]``
    and is skipped for ``f is nan`` or ``f != 1.0``, silently losing the NaN
    rows. So a predicate that NaN satisfies (``is nan``, ``!=``, ``not in``)
    on a floating-point column, in whatever form it was written, is pushed
    down as the weaker ``is not null`` of that column, and the caller must
    apply the exact filter to the rows read (``exact`` False).

    Raises:
        InvalidFilterError: The text is not a valid Iceberg expression.
    """
    expression = rewrite_not(parse_filter(text, table=table))
    weakened = _without_nan_predicates(expression, schema)
    return weakened, weakened == expression


_NAN_SATISFIES = (IsNaN, NotEqualTo, NotIn)


def _without_nan_predicates(expression: BooleanExpression, schema: Schema) -> BooleanExpression:
    def weaker(predicate: BooleanExpression) -> BooleanExpression:
        if isinstance(predicate, _NAN_SATISFIES) and is_floating(predicate.term, schema):
            # Arrow's ``not in`` keeps nulls (its is_in answers false for one),
            # so only "every row" is weaker; ``is nan`` and ``!=`` drop them.
            if isinstance(predicate, NotIn):
                return AlwaysTrue()
            return NotNull(term=predicate.term)
        return predicate

    return _with_predicates_replaced(expression, weaker)


def without_predicates_on(expression: BooleanExpression, columns: set[str]) -> BooleanExpression:
    """A weaker filter: the predicates on ``columns`` replaced by "every row".

    ``expression`` must be free of ``Not`` (as :func:`scan_pushdown` returns).
    """

    def weaker(predicate: BooleanExpression) -> BooleanExpression:
        on = getattr(getattr(predicate, "term", None), "name", None)
        return AlwaysTrue() if on in columns else predicate

    return _with_predicates_replaced(expression, weaker)


def _with_predicates_replaced(
    expression: BooleanExpression, replace: Callable[[BooleanExpression], BooleanExpression]
) -> BooleanExpression:
    # Only for expressions free of Not (after rewrite_not): every predicate
    # sits in a positive position, so replacing predicates by weaker ones
    # weakens the whole.
    if isinstance(expression, And | Or):
        return type(expression)(
            _with_predicates_replaced(expression.left, replace),
            _with_predicates_replaced(expression.right, replace),
        )
    return replace(expression)


def is_floating(term: Any, schema: Schema) -> bool:
    """Whether ``term`` names a float or double column of ``schema``."""
    name = getattr(term, "name", None)
    field = schema.find_field(name) if isinstance(name, str) else None
    return field is not None and isinstance(field.field_type, FloatType | DoubleType)


def to_arrow_expression(bound: BooleanExpression, schema: Schema) -> Any:
    """Translate a bound filter to a PyArrow compute expression."""
    return expression_to_pyarrow(bound, schema)


def filter_arrow(data: pa.Table, bound: BooleanExpression, schema: Schema) -> pa.Table:
    """Keep the rows of ``data`` the bound filter selects (SQL null semantics)."""
    if isinstance(bound, AlwaysTrue):
        return data
    return data.filter(to_arrow_expression(bound, schema))


def matching_mask(data: pa.Table, bound: BooleanExpression, schema: Schema) -> pa.ChunkedArray:
    """A boolean mask: True where the filter is true (null counts as False)."""
    if isinstance(bound, AlwaysTrue):
        return pa.chunked_array([pa.array([True] * data.num_rows, pa.bool_())])
    evaluated = (
        ds.dataset(data).to_table(columns={"m": to_arrow_expression(bound, schema)}).column("m")
    )
    return pc.fill_null(evaluated, False)


def iceberg_schema(arrow_schema: pa.Schema) -> Schema:
    """The Iceberg schema of a canonical Arrow schema, with fresh field ids."""
    from pyiceberg.catalog import Catalog
    from pyiceberg.schema import assign_fresh_schema_ids

    converted: Schema = Catalog._convert_schema_if_needed(arrow_schema)
    return assign_fresh_schema_ids(converted)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
