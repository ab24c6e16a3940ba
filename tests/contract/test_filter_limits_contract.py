"""Filters up to the documented size limits work on every adapter; larger ones are refused.

The limits bound the cost of user input: PyIceberg's parser and the
expression visitors take time in proportion to the number of predicates and
recurse once per nesting level.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe
from floe.adapters.filters import MAX_FILTER_NESTING, MAX_FILTER_PREDICATES

ROWS = pa.table({"id": list(range(10)), "qty": [i * 10 for i in range(10)]})


@pytest.fixture
def numbers(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    table = floe.TableIdentifier(ns, "numbers")
    lake.writes.append(table, ROWS, create_if_missing=floe.NewTable())
    return table


def test_a_filter_of_the_most_predicates_allowed_is_evaluated(
    lake: floe.Floe, numbers: floe.TableIdentifier
) -> None:
    # ids 0..999 with 3, 5 and 7 among them, the rest absent from the table
    ids = [3, 5, 7, *range(100, 100 + MAX_FILTER_PREDICATES - 3)]
    text = " or ".join(f"id = {i}" for i in ids)

    scanned = lake.reads.scan(numbers, row_filter=text)

    assert sorted(scanned.column("id").to_pylist()) == [3, 5, 7]


def test_one_predicate_more_is_refused_naming_the_limit(
    lake: floe.Floe, numbers: floe.TableIdentifier
) -> None:
    text = " and ".join(f"qty >= {-i}" for i in range(MAX_FILTER_PREDICATES + 1))

    with pytest.raises(floe.InvalidFilterError, match=f"at most {MAX_FILTER_PREDICATES}"):
        lake.reads.scan(numbers, row_filter=text)
    with pytest.raises(floe.InvalidFilterError, match="predicates"):
        lake.writes.overwrite(numbers, ROWS.slice(0, 1), row_filter=text)
    assert lake.reads.scan(numbers).num_rows == 10


def test_nesting_up_to_the_limit_works_and_deeper_is_refused(
    lake: floe.Floe, numbers: floe.TableIdentifier
) -> None:
    deepest = "(" * MAX_FILTER_NESTING + "id < 2" + ")" * MAX_FILTER_NESTING
    too_deep = "(" * (MAX_FILTER_NESTING + 1) + "id < 2" + ")" * (MAX_FILTER_NESTING + 1)
    negated = "not " * (MAX_FILTER_NESTING + 1) + "id < 2"

    assert sorted(lake.reads.scan(numbers, row_filter=deepest).column("id").to_pylist()) == [0, 1]
    for text in (too_deep, negated):
        with pytest.raises(floe.InvalidFilterError, match=f"at most {MAX_FILTER_NESTING}"):
            lake.reads.scan(numbers, row_filter=text)


def test_quoted_words_and_parentheses_are_not_counted(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    table = floe.TableIdentifier(ns, "notes")
    text_value = " and ".join(["x"] * (MAX_FILTER_PREDICATES + 5)) + "(" * 80
    lake.writes.append(
        table, pa.table({"note": [text_value, "other"]}), create_if_missing=floe.NewTable()
    )

    scanned = lake.reads.scan(table, row_filter=f"note = '{text_value}'")

    assert scanned.column("note").to_pylist() == [text_value]
