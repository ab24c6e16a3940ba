"""Error messages name the real cause once, in the words of what the caller did.

Every adapter must agree: the filter is parsed by the shared filter module,
the missing-table message comes from the write service or from the catalog
error translation.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe

ROWS = pa.table({"id": [1, 2], "s": ["a", "b"]})


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "t")
    lake.tables.create(ident, ROWS.schema)
    lake.writes.append(ident, ROWS)
    return ident


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("s = 'abc", "unterminated quote ' at character 5"),
        ("id = 1 and s = 'x", "unterminated quote ' at character 16"),
        ("s = 'it''s' or s = 'x", "unterminated quote ' at character 20"),
        ('"s = 1', 'unterminated quote " at character 1'),
        ("id = 1 and (s = 'a'", "unclosed '(' at character 12"),
        ("id = 1)", "unmatched ')' at character 7"),
    ],
)
def test_a_filter_syntax_error_points_at_the_mistake(
    lake: floe.Floe, table: floe.TableIdentifier, text: str, where: str
) -> None:
    with pytest.raises(floe.InvalidFilterError) as raised:
        lake.reads.scan(table, row_filter=text)

    assert where in str(raised.value)
    assert str(table) in str(raised.value)


def test_a_quote_inside_a_closed_literal_is_no_error(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, pa.table({"id": [3], "s": ["it's"]}))

    rows = lake.reads.scan(table, row_filter="s = 'it''s'").to_pylist()

    assert rows == [{"id": 3, "s": "it's"}]


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("append", "append to table"),
        ("overwrite", "overwrite table"),
        ("upsert", "upsert into table"),
    ],
)
def test_a_write_to_a_missing_table_names_the_write(
    lake: floe.Floe, ns: tuple[str, ...], mode: str, words: str
) -> None:
    missing = floe.TableIdentifier(ns, "missing")

    with pytest.raises(floe.TableNotFoundError) as raised:
        lake.writes.write(missing, ROWS, mode=mode, join_columns=["id"])

    message = str(raised.value)
    assert message.startswith(f"{words} {missing}: table does not exist")
    assert "load table" not in message
    assert raised.value.subject == str(missing)


def test_a_streamed_append_to_a_missing_table_names_the_append(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    missing = floe.TableIdentifier(ns, "missing")

    with pytest.raises(floe.TableNotFoundError) as raised:
        lake.writes.append(missing, iter(ROWS.to_batches()))

    assert str(raised.value).startswith(f"append to table {missing}: table does not exist")


def test_a_missing_table_is_said_to_be_missing_once(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    missing = floe.TableIdentifier(ns, "missing")

    for call in (lambda: lake.tables.load(missing), lambda: lake.reads.scan(missing)):
        with pytest.raises(floe.TableNotFoundError) as raised:
            call()
        assert str(raised.value).lower().count("does not exist") == 1, str(raised.value)
