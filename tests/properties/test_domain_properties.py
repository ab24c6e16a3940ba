"""Properties of the pure domain: identifiers, partition transforms, retention."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from floe import (
    InvalidIdentifierError,
    InvalidPartitionSpecError,
    PartitionTransform,
    SnapshotInfo,
    TableIdentifier,
)
from floe.domain.identifiers import MAX_NAMESPACE_BYTES, MAX_NAMESPACE_DEPTH, MAX_PART_BYTES
from floe.domain.models import RetentionPolicy
from floe.domain.partitioning import (
    ALLOWED_SOURCE_TYPES,
    PartitionTransformType,
    validate_partition_spec,
)
from floe.domain.retention import snapshots_to_expire
from floe.domain.schema import Column, ColumnType, SchemaDescription

PROPERTY = settings(max_examples=200, deadline=None, database=None)
MAX_PARAM = 2**31 - 1

# -- identifiers ------------------------------------------------------------------------

_VALID_PART = re.compile(r"\w[\w-]*")


def _is_valid_part(value: object) -> bool:
    """The rule for one namespace or table name part, stated independently."""
    return (
        isinstance(value, str)
        and 0 < len(value.encode("utf-8", "surrogatepass")) <= MAX_PART_BYTES
        and _VALID_PART.fullmatch(value) is not None
    )


parts = st.from_regex(r"\w[\w-]{0,30}", fullmatch=True)
namespaces = (
    st.lists(parts, min_size=1, max_size=MAX_NAMESPACE_DEPTH)
    .map(tuple)
    .filter(lambda ns: len(".".join(ns).encode()) <= MAX_NAMESPACE_BYTES)
)
texts_that_are_not_parts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="ab.-_ !", max_size=12),
    st.text(alphabet="x", min_size=MAX_PART_BYTES - 2, max_size=MAX_PART_BYTES + 3),
).filter(lambda s: not _is_valid_part(s))
non_strings = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.binary(max_size=8),
    st.booleans(),
    st.lists(parts, max_size=2),
    st.tuples(parts),
)
invalid_parts = st.one_of(texts_that_are_not_parts, non_strings)


@PROPERTY
@given(namespace=namespaces, name=parts)
def test_identifier_formats_and_parses_back(namespace: tuple[str, ...], name: str) -> None:
    identifier = TableIdentifier(namespace, name)
    text = str(identifier)

    assert text == ".".join((*namespace, name))
    assert TableIdentifier.from_string(text) == identifier
    assert TableIdentifier.from_parts(identifier.parts) == identifier
    assert identifier.namespace == namespace
    assert identifier.name == name


@PROPERTY
@given(namespace=namespaces, bad=invalid_parts, where=st.integers(min_value=0))
def test_an_invalid_part_always_raises_invalid_identifier_error(
    namespace: tuple[str, ...], bad: object, where: int
) -> None:
    position = where % (len(namespace) + 1)
    candidate: list[object] = [*namespace, "table"]
    candidate[position] = bad

    try:
        TableIdentifier(tuple(candidate[:-1]), candidate[-1])  # type: ignore[arg-type]
    except InvalidIdentifierError:
        pass
    else:
        raise AssertionError(f"{candidate!r} was accepted")


@PROPERTY
@given(text=st.one_of(st.text(max_size=60), st.text(alphabet="ab.-_ ", max_size=20)))
def test_from_string_of_any_text_round_trips_or_raises_invalid_identifier_error(
    text: str,
) -> None:
    try:
        identifier = TableIdentifier.from_string(text)
    except InvalidIdentifierError:
        pieces = text.split(".")
        assert (
            len(pieces) < 2
            or len(pieces) - 1 > MAX_NAMESPACE_DEPTH
            or len(".".join(pieces[:-1]).encode("utf-8", "surrogatepass")) > MAX_NAMESPACE_BYTES
            or not all(_is_valid_part(p) for p in pieces)
        )
    else:
        assert str(identifier) == text
        assert all(_is_valid_part(p) for p in identifier.parts)


# -- partition transforms ---------------------------------------------------------------

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
)
column_names = st.from_regex(r"[A-Za-z_]\w{0,8}", fullmatch=True)
kind_names = st.sampled_from([t.value for t in PartitionTransformType])
plausible_arguments = st.tuples(
    column_names,
    st.one_of(st.sampled_from(PartitionTransformType), kind_names),
    st.one_of(st.none(), st.integers(1, 64), st.integers(MAX_PARAM - 2, MAX_PARAM)),
)
arbitrary_arguments = st.tuples(
    st.one_of(column_names, anything),
    st.one_of(kind_names, anything),
    st.one_of(st.none(), st.integers(-3, 40), st.integers(MAX_PARAM - 2, MAX_PARAM + 2), anything),
)


@PROPERTY
@given(arguments=st.one_of(plausible_arguments, arbitrary_arguments))
def test_building_a_transform_raises_only_invalid_partition_spec_error(
    arguments: tuple[object, object, object],
) -> None:
    column, kind, param = arguments
    try:
        transform = PartitionTransform(column, kind, param)  # type: ignore[arg-type]
    except InvalidPartitionSpecError:
        return
    assert isinstance(column, str)
    assert column
    assert transform.transform_type == kind
    if transform.transform_type.takes_param:
        assert type(param) is int
        assert 1 <= param <= MAX_PARAM
    else:
        assert param is None


@st.composite
def transform_texts(draw: st.DrawFn) -> str:
    """Text near the accepted forms: ``kind[param](column)`` or ``column``, with noise."""
    space = st.sampled_from(["", " ", "  ", "\t"])
    words = st.from_regex(r"\w{1,6}", fullmatch=True)
    kind = draw(st.one_of(kind_names, kind_names.map(str.upper), words))
    param = draw(
        st.one_of(
            st.just(""),
            st.integers(-5, MAX_PARAM + 5).map(lambda n: f"[{n}]"),
            st.text(max_size=4).map(lambda t: f"[{t}]"),
        )
    )
    column = draw(st.one_of(column_names, st.text(min_size=1, max_size=6)))
    if draw(st.booleans()):
        return draw(space) + column + draw(space)
    gaps = [draw(space) for _ in range(5)]
    return f"{gaps[0]}{kind}{gaps[1]}{param}{gaps[2]}({gaps[3]}{column}{gaps[4]})"


@PROPERTY
@given(text=st.one_of(st.text(max_size=30), transform_texts()))
@example(text="IDENTITY(\r)")  # a blank source column once passed as one
def test_parsing_any_text_raises_only_invalid_partition_spec_error(text: str) -> None:
    try:
        transform = PartitionTransform.parse(text)
    except InvalidPartitionSpecError:
        return
    assert transform.source_column
    assert transform.source_column.strip() == transform.source_column
    assert transform.source_column in text


storable_types = st.sampled_from([t for t in ColumnType if t.value not in {"unsupported", "null"}])


@st.composite
def transforms(draw: st.DrawFn) -> PartitionTransform:
    kind = draw(st.sampled_from(PartitionTransformType))
    param = draw(st.integers(1, 64)) if kind.takes_param else None
    return PartitionTransform(draw(column_names), kind, param)


@PROPERTY
@given(transform=transforms())
def test_text_form_parses_back(transform: PartitionTransform) -> None:
    assert PartitionTransform.parse(str(transform)) == transform


@st.composite
def schemas_and_specs(draw: st.DrawFn) -> tuple[dict[str, ColumnType], list[PartitionTransform]]:
    """A schema and a spec mostly over its columns, often with fitting transforms."""
    columns = draw(st.dictionaries(column_names, storable_types, min_size=1, max_size=6))
    spec = []
    for _ in range(draw(st.integers(0, 4))):
        column = draw(st.one_of(st.sampled_from(sorted(columns)), column_names))
        column_type = columns.get(column)
        fitting = sorted(k for k, types in ALLOWED_SOURCE_TYPES.items() if column_type in types)
        kind = draw(st.sampled_from(fitting or list(PartitionTransformType)))
        if draw(st.integers(0, 4)) == 0:
            kind = draw(st.sampled_from(PartitionTransformType))
        param = draw(st.integers(1, 64)) if kind.takes_param else None
        name = draw(st.one_of(st.none(), column_names))
        spec.append(PartitionTransform(column, kind, param, name))
    return columns, spec


@PROPERTY
@given(schema_and_spec=schemas_and_specs())
def test_validating_a_spec_raises_only_invalid_partition_spec_error(
    schema_and_spec: tuple[dict[str, ColumnType], list[PartitionTransform]],
) -> None:
    columns, spec = schema_and_spec
    schema = SchemaDescription(tuple(Column(n, t) for n, t in columns.items()))
    try:
        validated = validate_partition_spec(spec, schema, table_name="sales.orders")
    except InvalidPartitionSpecError:
        return
    assert validated == tuple(spec)
    for transform in validated:
        assert columns[transform.source_column] in ALLOWED_SOURCE_TYPES[transform.transform_type]
    assert len({(t.source_column, t.transform_type, t.param) for t in validated}) == len(validated)
    assert len({t.field_name for t in validated}) == len(validated)
    clashing = [t for t in validated if t.field_name in columns and t.field_name != t.source_column]
    assert clashing == []


# -- retention --------------------------------------------------------------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[SnapshotInfo], int | None]:
    ids = draw(st.lists(st.integers(0, 2**63 - 1), unique=True, max_size=25))
    stamps = draw(st.lists(st.integers(0, 10**6), min_size=len(ids), max_size=len(ids)))
    snapshots = [SnapshotInfo(i, None, ts, "append") for i, ts in zip(ids, stamps, strict=True)]
    current = draw(st.one_of(st.none(), st.sampled_from(ids))) if ids else None
    return snapshots, current


policies = st.builds(
    RetentionPolicy,
    max_age_ms=st.one_of(st.none(), st.integers(0, 10**6)),
    retain_last=st.integers(1, 30),
)


@PROPERTY
@given(history=histories(), now_ms=st.integers(0, 2 * 10**6), policy=policies)
def test_retention_invariants(
    history: tuple[list[SnapshotInfo], int | None], now_ms: int, policy: RetentionPolicy
) -> None:
    snapshots, current = history
    by_id = {s.snapshot_id: s for s in snapshots}

    expired = snapshots_to_expire(snapshots, current, now_ms, policy)

    assert set(expired) <= set(by_id)
    assert len(expired) == len(set(expired))
    assert current not in expired
    kept = len(snapshots) - len(expired)
    assert kept >= min(policy.retain_last, len(snapshots))
    newest = sorted(snapshots, key=lambda s: (s.timestamp_ms, s.snapshot_id))
    for snapshot in newest[len(newest) - policy.retain_last :]:
        assert snapshot.snapshot_id not in expired
    if policy.max_age_ms is not None:
        cutoff = now_ms - policy.max_age_ms
        assert all(by_id[i].timestamp_ms < cutoff for i in expired)
    order = [(by_id[i].timestamp_ms, i) for i in expired]
    assert order == sorted(order)
