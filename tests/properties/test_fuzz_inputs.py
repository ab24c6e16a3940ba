"""Bad input, fuzzed: only floe's typed errors come out, and a rejected write changes nothing.

Random identifiers, namespace names, configs, partition specs, filters,
schemas and data (nulls, unicode, extreme values, integers no Arrow type
holds in pandas object columns, filters that are not text, names at and past
the storage limits in multibyte text, asset keys of any shape) go through the public API
over the embedded local catalog (real PyIceberg on SQLite) and the in-memory
catalog; identifiers also over the real REST server. Whatever the input, the
call either succeeds or raises a :class:`floe.FloeStorageError` subclass with
a message — never a PyIceberg, Arrow, HTTP, ``KeyError``, ``TypeError``… —
and after a rejected write the table holds exactly what it held before.
Where the API documents the error class, the exact class is asserted.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import floe
from floe.adapters.dagster import table_for_asset_key
from floe.adapters.dagster._frames import to_arrow as dagster_to_arrow
from floe.domain.config import catalog_config_from_env, load_catalog_config
from floe.domain.identifiers import MAX_NAMESPACE_BYTES, MAX_PART_BYTES

FUZZ = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(FUZZ, max_examples=25)
#: Examples that commit to the local catalog (~0.1 s each).
WRITES = settings(FUZZ, max_examples=30)

#: Text without lone surrogates (Arrow strings are UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NASTY = st.sampled_from(
    [
        "",
        " ",
        ".",
        "..",
        "a.b",
        "a..b",
        "/",
        "a/b",
        "%2F",
        "\x00",
        "\x1f",
        "é",
        "名前",
        "🙂",
        "a" * 256,
        "-a",
        "_",
        "a b",
        "a\nb",
        "null",
        "None",
        "'; drop table x; --",
        "${jndi:x}",
        "a" * 255,
    ]
)
#: Names of letters 1 to 4 UTF-8 bytes wide, around the storage limit (255 bytes).
LONG = st.builds(
    lambda letter, count: letter * count,
    st.sampled_from(["x", "é", "名", "𠀀"]),
    st.integers(40, 300),
)
NAME = NASTY | TEXT | LONG
_counter = itertools.count()


def fresh(prefix: str = "f") -> str:
    return f"{prefix}{next(_counter)}"


def only_floe_errors(action: Callable[[], Any]) -> BaseException | None:
    """Run ``action``; return the floe error it raised (None on success)."""
    try:
        action()
    except floe.FloeStorageError as exc:
        assert str(exc).strip()  # noqa: PT017 - the property is about every error, f"{type(exc).__name__} without a message"
        event(f"raised {type(exc).__name__}")
        return exc
    except Exception as exc:  # the property: nothing else escapes
        pytest.fail(
            f"foreign exception escaped: {type(exc).__module__}.{type(exc).__name__}: {exc}"
        )
    event("succeeded")
    return None


@pytest.fixture(scope="module", params=["memory", "local"])
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> floe.Floe:
    if request.param == "memory":
        return floe.Floe.from_config(floe.MemoryCatalogConfig())
    path = tmp_path_factory.mktemp("fuzz") / "warehouse"
    return floe.Floe.from_config(floe.LocalCatalogConfig(str(path)))


def state(lake: floe.Floe, table: str) -> tuple[int | None, list[dict[str, Any]], pa.Schema]:
    """Current snapshot, rows (comparable form) and schema of a table."""
    info = lake.tables.load(table)
    data = lake.reads.scan(table)
    return info.current_snapshot_id, _comparable(data.to_pylist()), info.schema


def as_rows(data: pa.Table, schema: pa.Schema) -> list[dict[str, Any]]:
    """The rows of ``data`` as the table of ``schema`` holds them (missing columns null)."""
    return _comparable(pa.Table.from_pylist(data.to_pylist(), schema=schema).to_pylist())


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [
        {k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in rows
    ]
    return sorted(out, key=repr)


# -- identifiers and namespaces -------------------------------------------------------------


def as_namespace(namespace: list[str] | str) -> tuple[str, ...]:
    return tuple(namespace.split(".")) if isinstance(namespace, str) else tuple(namespace)


@FUZZ
@given(namespace=st.lists(NAME, min_size=0, max_size=3) | NAME, name=NAME)
def test_any_identifier_is_created_or_refused_with_a_floe_error(
    lake: floe.Floe, namespace: list[str] | str, name: str
) -> None:
    schema = pa.schema([("id", pa.int64())])
    created = only_floe_errors(lambda: lake.namespaces.create(namespace, create_parents=True))
    if created is None or isinstance(created, floe.NamespaceExistsError):
        table = None

        def create() -> None:
            nonlocal table
            table = floe.TableIdentifier(as_namespace(namespace), name)
            lake.tables.create(table, schema)

        error = only_floe_errors(create)
        if error is None:
            assert table is not None
            assert table in lake.tables.list(table.namespace)
            assert lake.reads.scan(table).num_rows == 0
            lake.tables.drop(table)
            assert not lake.tables.exists(table)
        else:  # a name that passes the rules is stored: only the rules refuse
            assert type(error) is floe.InvalidIdentifierError
            assert not _is_word(name) or _utf8(name) > MAX_PART_BYTES
            if table:
                found: list[bool] = []
                only_floe_errors(lambda: found.append(lake.tables.exists(table)))
                assert found in ([], [False])
    else:
        assert type(created) is floe.InvalidIdentifierError
        if isinstance(namespace, list) and all(_is_word(p) for p in namespace) and namespace:
            assert (
                _utf8(".".join(namespace)) > MAX_NAMESPACE_BYTES
                or max(map(_utf8, namespace)) > MAX_PART_BYTES
            )
        found: list[bool] = []
        only_floe_errors(lambda: found.append(lake.namespaces.exists(namespace)))
        assert True not in found  # refused: nothing was created
    only_floe_errors(lambda: lake.reads.scan(f"{namespace}.{name}"))
    only_floe_errors(lambda: lake.tables.exists(f"{namespace}.{name}"))
    only_floe_errors(lambda: floe.TableIdentifier.from_string(f"{namespace}.{name}"))
    only_floe_errors(lambda: lake.namespaces.drop(namespace))


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _is_word(part: str) -> bool:
    """The identifier rule's characters: a word of letters, digits, ``_`` and ``-``."""
    return (
        bool(part)
        and (part[0].isalnum() or part[0] == "_")
        and all(c.isalnum() or c in "_-" for c in part)
    )


#: Valid floe names; SeaweedFS (not Polaris) only takes names starting with [a-z0-9].
VALID_PART = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,15}\Z", fullmatch=True) | st.from_regex(
    r"\A\w[\w-]{0,15}\Z", fullmatch=True
)


@settings(FUZZ, max_examples=12)
@given(parts=st.lists(VALID_PART, min_size=1, max_size=3))
def test_valid_identifiers_round_trip_over_rest_or_are_refused_whole(
    rest_lake: floe.Floe, parts: list[str]
) -> None:
    namespace = (fresh("fz"), *parts[:-1])
    table = floe.TableIdentifier(namespace, parts[-1])
    refused = only_floe_errors(lambda: rest_lake.namespaces.create(namespace, create_parents=True))
    if refused is None:
        refused = only_floe_errors(
            lambda: rest_lake.tables.create(table, pa.table({"id": [1], "s": ["x"]}).schema)
        )
    if refused is not None:  # the server's own naming rule (HTTP 400), typed
        assert type(refused) is floe.CatalogError
        assert "BadRequest" in str(refused)
        top = rest_lake.namespaces.list()
        assert namespace[:1] in top  # parents that were valid stay, nothing half-made:
        if namespace in [namespace[:1], *rest_lake.namespaces.list(namespace[:1])]:
            assert rest_lake.tables.list(namespace) == []
        return
    rest_lake.writes.append(table, pa.table({"id": [1], "s": [parts[-1]]}))
    assert rest_lake.reads.scan(table).to_pylist() == [{"id": 1, "s": parts[-1]}]
    assert rest_lake.tables.list(namespace) == [table]
    rest_lake.tables.drop(table, purge=True)
    assert isinstance(
        only_floe_errors(lambda: rest_lake.reads.scan(table)), floe.TableNotFoundError
    )


@settings(FUZZ, max_examples=15)
@given(name=NAME)
def test_nasty_names_over_rest_only_raise_floe_errors(rest_lake: floe.Floe, name: str) -> None:
    only_floe_errors(lambda: rest_lake.namespaces.exists(name))
    only_floe_errors(lambda: rest_lake.tables.exists(("fuzz_none", name)))
    only_floe_errors(lambda: rest_lake.namespaces.load(name))
    only_floe_errors(lambda: rest_lake.tables.list(name))


class _Key:
    """An asset key shaped as Dagster's: the parts in ``path``."""

    def __init__(self, path: object) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"_Key({self.path!r})"


def _dagster_key(parts: list[str]) -> object:
    import dagster as dg

    return dg.AssetKey(parts)


ASSET_KEYS = st.one_of(
    st.lists(NAME, max_size=4),
    st.lists(NAME, max_size=4).map(tuple),
    st.lists(NAME, max_size=4).map(_Key),
    st.lists(VALID_PART | LONG, max_size=4).map(_dagster_key),
    st.lists(st.integers() | st.none() | NAME, max_size=3).map(_Key),
    NAME,
    st.integers(),
    st.none(),
    st.binary(max_size=4),
    st.dictionaries(TEXT, TEXT, max_size=2),
)


@FUZZ
@given(key=ASSET_KEYS, default=st.lists(NAME, min_size=1, max_size=2) | NAME)
def test_any_asset_key_maps_to_a_table_or_is_an_invalid_identifier_error(
    key: object, default: list[str] | str
) -> None:
    error = only_floe_errors(lambda: table_for_asset_key(key, default))  # type: ignore[arg-type]
    path = getattr(key, "path", key)
    if error is not None:
        assert type(error) is floe.InvalidIdentifierError
        if not isinstance(path, list | tuple):
            assert type(key).__name__ in str(error)
        return
    identifier = table_for_asset_key(key, default)  # type: ignore[arg-type]
    assert isinstance(path, list | tuple)
    assert identifier.name == path[-1]
    if len(path) > 1:
        assert identifier.namespace == tuple(path[:-1])


# -- configs ------------------------------------------------------------------------------

ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT | NASTY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
CONFIG_KEYS = st.sampled_from(
    [
        "type",
        "uri",
        "warehouse",
        "client_id",
        "client_secret",
        "token",
        "scope",
        "token_refresh_enabled",
        "retry",
        "oauth2_server_uri",
        "properties",
        "warehouse_path",
        "catalog_name",
        "name",
        "unknown",
    ]
)


BASE_CONFIG = {
    "type": "polaris",
    "uri": "https://polaris.example/api/catalog",
    "warehouse": "w",
    "client_id": "c",
    "client_secret": "s3cr3t-fuzz",
}
CONFIGS = st.dictionaries(CONFIG_KEYS, ANY_VALUE, max_size=8) | st.builds(
    lambda changes, dropped: {
        **{k: v for k, v in BASE_CONFIG.items() if k not in dropped},
        **changes,
    },
    st.dictionaries(CONFIG_KEYS, ANY_VALUE, max_size=2),
    st.sets(st.sampled_from(sorted(BASE_CONFIG)), max_size=2),
)


@pytest.mark.filterwarnings("ignore::floe.UnknownPropertyWarning")  # random keys, on purpose
@FUZZ
@given(data=CONFIGS)
def test_any_config_mapping_is_loaded_or_an_invalid_config_error(data: dict[str, Any]) -> None:
    data.setdefault("type", "polaris")
    error = only_floe_errors(lambda: load_catalog_config(data))
    if error is not None:
        assert isinstance(error, floe.InvalidConfigError)
        for secret_key in ("client_secret", "token"):
            value = data.get(secret_key)
            if isinstance(value, str) and len(value) >= 6:
                assert value not in str(error)


@FUZZ
@given(
    retry=st.dictionaries(
        st.sampled_from(
            [
                "max_attempts",
                "initial_wait_s",
                "max_wait_s",
                "jitter_s",
                "circuit_breaker_threshold",
                "circuit_breaker_reset_s",
            ]
        ),
        st.integers(-5, 5000) | st.floats(allow_nan=True) | TEXT | st.none() | st.booleans(),
        max_size=6,
    )
)
def test_any_retry_config_is_valid_or_an_invalid_config_error(retry: dict[str, Any]) -> None:
    direct = only_floe_errors(lambda: floe.RetryConfig(**retry))
    if direct is not None:
        assert isinstance(direct, floe.InvalidConfigError)
    env = {f"FLOE_CATALOG_RETRY_{k.upper()}": str(v) for k, v in retry.items()}
    env |= {"FLOE_CATALOG_TYPE": "polaris", "FLOE_CATALOG_URI": "https://x"}
    env |= {"FLOE_CATALOG_WAREHOUSE": "w", "FLOE_CATALOG_TOKEN": "tok-fuzz-123"}
    error = only_floe_errors(lambda: catalog_config_from_env(env))
    if error is not None:
        assert isinstance(error, floe.InvalidConfigError)
        assert "tok-fuzz-123" not in str(error)


@FEW
@given(data=st.dictionaries(CONFIG_KEYS, ANY_VALUE, max_size=6))
def test_any_mapping_given_to_floe_builds_or_raises_a_floe_error(data: dict[str, Any]) -> None:
    data["type"] = "memory" if data.get("type") is None else data["type"]
    only_floe_errors(lambda: floe.Floe.from_config(data))


# -- partition specs and schemas --------------------------------------------------------------

SPEC_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("tz", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("s", pa.string()),
        ("d", pa.decimal128(10, 2)),
        ("f", pa.float64()),
        ("b", pa.bool_()),
        ("l", pa.list_(pa.int64())),
    ]
)
TRANSFORMS = ["identity", "year", "month", "day", "hour", "bucket", "truncate", "void", "x"]
COLUMNS = [*SPEC_SCHEMA.names, "missing", "", "ID"]


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(TRANSFORMS))
    column = draw(st.sampled_from(COLUMNS) | TEXT)
    param = draw(st.integers(-3, 2**40).map(str) | TEXT)
    form = draw(st.sampled_from(["{k}({c})", "{k}[{p}]({c})", "{c}", "{k}[{p}]", "{k}({c}"]))
    return form.format(k=kind, c=column, p=param)


FITTING = [
    *(f"{c}" for c in ("id", "s", "day", "b", "d", "ts")),
    *(f"{k}({c})" for k in ("year", "month", "day") for c in ("ts", "tz", "day")),
    "hour(ts)",
    "hour(tz)",
    *(f"bucket[{n}]({c})" for n in (1, 16, 2**31 - 1) for c in ("id", "s", "d", "day", "ts")),
    *(f"truncate[{w}]({c})" for w in (1, 3) for c in ("id", "s", "d")),
]


@FUZZ
@given(
    spec=st.lists(
        st.sampled_from(FITTING) | spec_texts() | NAME | st.none() | st.integers(), max_size=4
    )
    | st.lists(st.sampled_from(FITTING), min_size=1, max_size=3)
)
def test_any_partition_spec_creates_a_table_or_raises_a_floe_error(
    lake: floe.Floe, spec: list[Any]
) -> None:
    namespace = fresh("spec")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    error = only_floe_errors(lambda: lake.tables.create(table, SPEC_SCHEMA, spec))
    if error is None:
        lake.writes.append(
            table,
            pa.table(
                {
                    "id": [1, None],
                    "ts": [dt.datetime(2024, 5, 1, 13), None],
                    "tz": [dt.datetime(1970, 1, 1, tzinfo=dt.UTC), None],
                    "day": [dt.date(1, 1, 1), None],
                    "s": ["é✓", None],
                    "d": [decimal.Decimal("-99999999.99"), None],
                    "f": [math.inf, None],
                    "b": [True, None],
                    "l": [[1, None], None],
                },
                schema=SPEC_SCHEMA,
            ),
        )
        assert lake.reads.scan(table).num_rows == 2
    else:
        assert isinstance(error, floe.InvalidPartitionSpecError | floe.InvalidSchemaError)
        assert not lake.tables.exists(table)


ARROW_TYPES = st.sampled_from(
    [
        pa.null(),
        pa.bool_(),
        pa.int8(),
        pa.uint64(),
        pa.int64(),
        pa.float16(),
        pa.float64(),
        pa.decimal128(38, 10),
        pa.string(),
        pa.large_string(),
        pa.binary(),
        pa.binary(16),
        pa.date64(),
        pa.time32("s"),
        pa.timestamp("ns"),
        pa.timestamp("s", tz="Europe/Paris"),
        pa.duration("s"),
        pa.month_day_nano_interval(),
        pa.dictionary(pa.int8(), pa.string()),
        pa.list_(pa.string()),
        pa.large_list(pa.int32()),
        pa.map_(pa.string(), pa.int64()),
        pa.struct([]),
        pa.dense_union([pa.field("x", pa.int64())]),
    ]
)


@FUZZ
@given(
    fields=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "", "é", "a.b", "x y"]), ARROW_TYPES), max_size=4
    ),
    nullable=st.booleans(),
)
def test_any_schema_creates_a_table_or_raises_a_floe_error(
    lake: floe.Floe, fields: list[tuple[str, pa.DataType]], nullable: bool
) -> None:
    schema = pa.schema([pa.field(n, t, nullable=nullable or t == pa.null()) for n, t in fields])
    namespace = fresh("schema")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    error = only_floe_errors(lambda: lake.tables.create(table, schema))
    if error is None:
        assert lake.reads.scan(table).num_rows == 0
    else:
        assert not lake.tables.exists(table)


# -- filters ------------------------------------------------------------------------------

FILTER_PARTS = st.sampled_from(
    [
        "id",
        "s",
        "ts",
        "f",
        "missing",
        "=",
        "!=",
        "<",
        ">=",
        "and",
        "or",
        "not",
        "in",
        "is null",
        "is not null",
        "(",
        ")",
        "1",
        "-9223372036854775809",
        "1e400",
        "'a'",
        "'2024-13-45T99:00:00'",
        "'2024-05-01T00:00:00'",
        "''",
        "'é✓'",
        "NaN",
        "true",
        ",",
        "like",
        "'%'",
        "starts_with",
    ]
)
PLAIN = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="'\\"), max_size=8)
COMPARISONS = st.one_of(
    st.tuples(
        st.just("id"),
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        st.integers(-(2**63), 2**63 - 1).map(str),
    ),
    st.tuples(st.just("s"), st.sampled_from(["=", "!=", "<", ">="]), PLAIN.map("'{}'".format)),
    st.tuples(
        st.just("ts"),
        st.sampled_from(["=", "<", ">="]),
        st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)).map(
            lambda d: f"'{d.isoformat()}'"
        ),
    ),
    st.tuples(
        st.just("f"),
        st.sampled_from(["=", "!=", "<", ">="]),
        st.sampled_from(["1.0", "0", "-1e308", "2.5"]),
    ),
    st.tuples(
        st.sampled_from(["id", "s", "ts", "f"]),
        st.sampled_from(["is null", "is not null", "is nan", "is not nan"]),
        st.just(""),
    ),
    st.tuples(st.just("s"), st.just("like"), PLAIN.map("'{}%'".format)),
    st.tuples(
        st.just("id"),
        st.sampled_from(["in", "not in"]),
        st.lists(st.integers(-5, 5).map(str), min_size=1, max_size=3).map(
            lambda v: "(" + ", ".join(v) + ")"
        ),
    ),
).map(" ".join)
VALID_FILTERS = st.recursive(
    COMPARISONS,
    lambda inner: (
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"
        )
        | inner.map("not ({})".format)
    ),
    max_leaves=3,
)
FILTERS = VALID_FILTERS | st.lists(FILTER_PARTS, min_size=1, max_size=7).map(" ".join) | TEXT


@pytest.fixture(scope="module")
def filtered(lake: floe.Floe) -> str:
    namespace = fresh("filters")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    schema = pa.schema(
        [("id", pa.int64()), ("s", pa.string()), ("ts", pa.timestamp("us")), ("f", pa.float64())]
    )
    lake.tables.create(table, schema, ["day(ts)"])
    lake.writes.append(
        table,
        pa.table(
            {
                "id": [1, 2, None, -(2**63), 5],
                "s": ["a", "é✓", None, "", "a"],
                "ts": [
                    dt.datetime(2024, 5, 1),
                    None,
                    dt.datetime(1, 1, 1),
                    dt.datetime(9999, 12, 31),
                    dt.datetime(2024, 5, 1, 23, 59),
                ],
                "f": [1.0, math.nan, None, -math.inf, math.nan],
            },
            schema=schema,
        ),
    )
    return table


@WRITES
@given(row_filter=FILTERS)
def test_any_filter_reads_or_raises_and_a_bad_overwrite_changes_nothing(
    lake: floe.Floe, filtered: str, row_filter: str
) -> None:
    before = state(lake, filtered)
    original = lake.reads.scan(filtered)
    matching: list[pa.Table] = []
    read = only_floe_errors(
        lambda: matching.append(lake.reads.scan(filtered, row_filter=row_filter))
    )
    if read is not None:
        assert isinstance(read, floe.InvalidFilterError | floe.ScanError)
    replacement = pa.table(
        {"id": [7], "s": ["new"], "ts": [dt.datetime(2024, 5, 1)], "f": [0.5]}, schema=before[2]
    )
    written = only_floe_errors(
        lambda: lake.writes.overwrite(filtered, replacement, row_filter=row_filter)
    )
    if written is not None:
        assert state(lake, filtered) == before
        return
    # A valid filter: exactly the rows it selects were replaced.
    assert matching, "the overwrite took a filter the scan refused"
    selected = _comparable(matching[0].to_pylist())  # NaN != NaN: compare the comparable form
    kept = [r for r in _comparable(original.to_pylist()) if r not in selected]
    assert state(lake, filtered)[1] == _comparable(kept + replacement.to_pylist())
    lake.writes.overwrite(filtered, original)  # the next example starts from the same rows


NOT_TEXT = st.one_of(
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=12),
    st.lists(FILTERS, min_size=1, max_size=2),
    st.dictionaries(TEXT, TEXT, min_size=1, max_size=2),
    st.builds(object),
)


@FUZZ
@given(row_filter=NOT_TEXT)
def test_a_filter_that_is_not_text_is_an_invalid_filter_error_and_changes_nothing(
    lake: floe.Floe, filtered: str, row_filter: object
) -> None:
    before = state(lake, filtered)
    replacement = pa.table(
        {"id": [7], "s": ["new"], "ts": [dt.datetime(2024, 5, 1)], "f": [0.5]}, schema=before[2]
    )
    attempts: list[Callable[[], Any]] = [
        lambda: lake.reads.scan(filtered, row_filter=row_filter),  # type: ignore[arg-type]
        lambda: lake.reads.batches(filtered, row_filter=row_filter),  # type: ignore[arg-type]
        lambda: lake.writes.overwrite(filtered, replacement, row_filter=row_filter),  # type: ignore[arg-type]
    ]
    for attempt in attempts:
        error = only_floe_errors(attempt)
        assert type(error) is floe.InvalidFilterError
        assert type(row_filter).__name__ in str(error)
    assert state(lake, filtered) == before


# -- data with nulls, unicode and extreme values --------------------------------------------

TARGET = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        ("i", pa.int32()),
        ("f", pa.float64()),
        ("s", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("d", pa.decimal128(9, 3)),
        ("bin", pa.binary()),
    ]
)
VALUES: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "int32": (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "double": (pa.float64(), st.floats()),
    "string": (pa.string(), TEXT),
    "large_string": (pa.large_string(), TEXT),
    "ts_utc": (
        pa.timestamp("us", tz="UTC"),
        st.datetimes(
            min_value=dt.datetime(1, 1, 2),
            max_value=dt.datetime(9999, 12, 30),
            timezones=st.just(dt.UTC),
        ),
    ),
    "ts_naive_ns": (
        pa.timestamp("ns"),
        st.datetimes(min_value=dt.datetime(1678, 1, 1), max_value=dt.datetime(2261, 12, 31)),
    ),
    "decimal": (
        pa.decimal128(9, 3),
        st.decimals(min_value=-999999, max_value=999999, places=3, allow_nan=False),
    ),
    "decimal_wide": (
        pa.decimal128(20, 5),
        st.decimals(min_value=-(10**14), max_value=10**14, places=5, allow_nan=False),
    ),
    "binary": (pa.binary(), st.binary(max_size=20)),
    "bool": (pa.bool_(), st.booleans()),
    "list": (pa.list_(pa.int64()), st.lists(st.integers(-5, 5), max_size=3)),
}


SEED = pa.table({"id": [-1, 0, 0], "s": ["seed", None, "dup"], "f": [math.nan, -0.0, None]}).cast(
    pa.schema([("id", pa.int64()), ("s", pa.string()), ("f", pa.float64())])
)
_AWARE = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(dt.UTC)
)
#: For each TARGET column, kinds of data that fit it (possibly after a safe cast).
FITS: dict[str, list[tuple[pa.DataType, st.SearchStrategy[Any]]]] = {
    "id": [VALUES["int64"], VALUES["int32"]],
    "i": [VALUES["int32"], (pa.int16(), st.integers(-(2**15), 2**15 - 1))],
    "f": [VALUES["double"], (pa.float32(), st.floats(width=32))],
    "s": [VALUES["string"], VALUES["large_string"]],
    "ts": [(pa.timestamp("us", tz="UTC"), _AWARE)],
    "d": [VALUES["decimal"]],
    "bin": [VALUES["binary"], (pa.large_binary(), st.binary(max_size=20))],
}


@st.composite
def fitting_batches(draw: st.DrawFn) -> pa.Table:
    """Data that fits TARGET (maybe plus one new column): nulls, unicode, extremes."""
    names = ["id", *draw(st.lists(st.sampled_from(TARGET.names[1:]), unique=True))]
    num_rows = draw(st.integers(0, 6))
    columns: dict[str, pa.Array] = {}
    for name in names:
        arrow_type, values = draw(st.sampled_from(FITS[name]))
        cells = values if name == "id" else st.none() | values
        if name == "id":  # unique keys, so that upserts are valid
            column = draw(st.lists(values, min_size=num_rows, max_size=num_rows, unique=True))
        else:
            column = draw(st.lists(cells, min_size=num_rows, max_size=num_rows))
        columns[name] = pa.array(column, type=arrow_type)
    if draw(st.booleans()):
        arrow_type, values = VALUES[draw(st.sampled_from(sorted(VALUES)))]
        extra = draw(st.lists(st.none() | values, min_size=num_rows, max_size=num_rows))
        columns["extra"] = pa.array(extra, type=arrow_type)
    return pa.table(columns)


@st.composite
def wild_batches(draw: st.DrawFn) -> pa.Table:
    """Data aimed at TARGET: right or wrong column names, types, nulls and extremes."""
    names = draw(
        st.lists(
            st.sampled_from([*TARGET.names, "extra", "ID", "é"]),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    num_rows = draw(st.integers(0, 6))
    columns: dict[str, pa.Array] = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(VALUES)))
        arrow_type, values = VALUES[kind]
        column = draw(st.lists(st.none() | values, min_size=num_rows, max_size=num_rows))
        columns[name] = pa.array(column, type=arrow_type)
    return pa.table(columns)


@pytest.fixture(scope="module")
def target(lake: floe.Floe) -> str:
    namespace = fresh("data")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, TARGET, ["bucket[4](id)"])
    lake.writes.append(table, SEED)
    return table


@WRITES
@given(
    data=fitting_batches() | wild_batches(),
    mode=st.sampled_from(["append", "overwrite", "upsert"]),
    evolve=st.booleans(),
)
def test_any_data_is_written_whole_or_rejected_leaving_the_table_unchanged(
    lake: floe.Floe, target: str, data: pa.Table, mode: str, evolve: bool
) -> None:
    before = state(lake, target)
    old_rows = lake.reads.scan(target)
    options: dict[str, Any] = {"mode": mode, "allow_schema_evolution": evolve}
    if mode == "upsert":
        options["join_columns"] = ["id"]
    error = only_floe_errors(lambda: lake.writes.write(target, data, **options))
    after = state(lake, target)
    if error is not None:
        assert after == before, f"{type(error).__name__} left the table changed"
        return
    written = as_rows(data, after[2])
    kept = as_rows(old_rows, after[2])
    if mode == "append":
        assert after[1] == _comparable(kept + written)
    elif mode == "overwrite":
        assert after[1] == written
    else:
        replaced = {w["id"] for w in written}
        assert after[1] == _comparable([r for r in kept if r["id"] not in replaced] + written)
    if after[2] != TARGET:  # the next example starts from the original schema
        lake.tables.drop(target, purge=True)
        lake.tables.create(target, TARGET, ["bucket[4](id)"])
        lake.writes.append(target, SEED)
    elif len(after[1]) > 20:
        lake.writes.overwrite(target, SEED)


def test_decimal256_is_an_invalid_schema_error(lake: floe.Floe) -> None:
    namespace = fresh("dec")
    lake.namespaces.create(namespace)
    schema = pa.schema([("a", pa.decimal256(76, 2))])
    with pytest.raises(floe.InvalidSchemaError, match="'a'"):
        lake.tables.create(f"{namespace}.t", schema)
    assert not lake.tables.exists(f"{namespace}.t")


def test_duplicate_names_inside_a_struct_are_an_invalid_schema_error(lake: floe.Floe) -> None:
    namespace = fresh("dup")
    lake.namespaces.create(namespace)
    schema = pa.schema([("a", pa.struct([("x", pa.int64()), ("x", pa.string())]))])
    with pytest.raises(floe.InvalidSchemaError, match="'a'"):
        lake.tables.create(f"{namespace}.t", schema)
    assert not lake.tables.exists(f"{namespace}.t")


@pytest.mark.parametrize(
    "row_filter",
    [
        "ts != '0810-09-05T22:23:37'",
        "not (ts = '2024-05-01T00:00:00')",
        "not (ts < '2000-01-01T00:00:00' or id = 9)",
        "id not in (5, 6)",
        "not (id in (1, 2))",
        "id is not null and ts > '1000-01-01T00:00:00'",
        "id is not nan",
    ],
)
def test_an_overwrite_never_deletes_rows_its_filter_does_not_select(
    lake: floe.Floe, row_filter: str
) -> None:
    """Found by the fuzzing above: PyIceberg dropped a whole file of null-``ts`` rows."""
    namespace = fresh("nulls")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    schema = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us"))])
    lake.tables.create(table, schema, ["day(ts)"])
    rows = {"id": [1, 2, None], "ts": [dt.datetime(2024, 5, 1), None, dt.datetime(1, 1, 1)]}
    lake.writes.append(table, pa.table(rows, schema=schema))
    selected = lake.reads.scan(table, row_filter=row_filter).to_pylist()
    new = pa.table({"id": [7], "ts": [dt.datetime(2024, 5, 2)]}, schema=schema)
    lake.writes.overwrite(table, new, row_filter=row_filter)
    kept = [r for r in pa.table(rows, schema=schema).to_pylist() if r not in selected]
    assert _comparable(lake.reads.scan(table).to_pylist()) == _comparable(kept + new.to_pylist())


#: Python integers in a pandas object column: in int64, just past it and far beyond.
OBJECT_INTS = st.lists(
    st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.integers(2**63, 2**64)
    | st.integers(-(2**200), 2**200),
    min_size=1,
    max_size=5,
)
INTS = pa.schema([pa.field("id", pa.int64(), nullable=False), ("i", pa.int64())])
INT_SEED = pa.table({"id": [1], "i": [-1]}, schema=INTS)


@pytest.fixture(scope="module")
def ints(lake: floe.Floe) -> str:
    namespace = fresh("ints")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, INTS)
    lake.writes.append(table, INT_SEED)
    return table


@WRITES
@given(cells=OBJECT_INTS, mode=st.sampled_from(["append", "overwrite", "upsert"]))
def test_integers_in_an_object_column_are_written_or_a_write_error(
    lake: floe.Floe, ints: str, cells: list[int | None], mode: str
) -> None:
    frame = pd.DataFrame({"id": range(100, 100 + len(cells)), "i": pd.Series(cells, dtype=object)})
    before = state(lake, ints)
    options: dict[str, Any] = {"mode": mode, "join_columns": ["id"] if mode == "upsert" else ()}
    error = only_floe_errors(lambda: lake.writes.write(ints, frame, **options))
    converted = only_floe_errors(lambda: dagster_to_arrow(frame, table=ints))
    if all(c is None or -(2**63) <= c < 2**63 for c in cells):
        assert error is None
        assert converted is None
        lake.writes.overwrite(ints, INT_SEED)  # the next example starts from the seed row
        return
    # No Arrow integer type holds them: the conversion is refused, typed, nothing written.
    for refused in (error, converted):
        assert type(refused) is floe.WriteError
        assert "OverflowError" in str(refused)
    assert state(lake, ints) == before
