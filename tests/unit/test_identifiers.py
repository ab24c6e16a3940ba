"""TableIdentifier: where a table lives in the catalog, and which names are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from floe import FloeValidationError, InvalidIdentifierError, TableIdentifier
from floe.domain.identifiers import MAX_NAMESPACE_BYTES, MAX_NAMESPACE_DEPTH, MAX_PART_BYTES


def _rejected(build: Callable[[], object]) -> InvalidIdentifierError:
    """Run ``build`` and return the InvalidIdentifierError it must raise (exact class)."""
    with pytest.raises(InvalidIdentifierError) as caught:
        build()
    assert type(caught.value) is InvalidIdentifierError
    return caught.value


# -- building identifiers ---------------------------------------------------------------


def test_from_string_splits_namespace_and_table_name() -> None:
    orders = TableIdentifier.from_string("sales.orders")

    assert orders.namespace == ("sales",)
    assert orders.name == "orders"
    assert orders.parts == ("sales", "orders")


def test_from_string_keeps_nested_namespaces_as_a_tuple() -> None:
    orders = TableIdentifier.from_string("sales.eu.orders")

    assert orders.namespace == ("sales", "eu")
    assert orders.name == "orders"


@pytest.mark.parametrize(
    "text", ["sales.orders", "sales.eu.orders", "a.b.c.d", "_tmp.t-1", "2024.q1", "ventes.été"]
)
def test_str_is_the_dotted_form_from_string_reads(text: str) -> None:
    identifier = TableIdentifier.from_string(text)

    assert str(identifier) == text
    assert TableIdentifier.from_string(str(identifier)) == identifier


def test_from_parts_equals_from_string() -> None:
    assert TableIdentifier.from_parts(["sales", "eu", "orders"]) == TableIdentifier(
        ("sales", "eu"), "orders"
    )
    assert TableIdentifier.from_parts(("sales", "orders")) == TableIdentifier.from_string(
        "sales.orders"
    )


def test_constructor_accepts_a_dotted_namespace_string() -> None:
    assert TableIdentifier("sales.eu", "orders").namespace == ("sales", "eu")


def test_identifiers_are_values() -> None:
    first = TableIdentifier(("sales",), "orders")
    second = TableIdentifier.from_string("sales.orders")

    assert first == second
    assert hash(first) == hash(second)
    assert {first: 1}[second] == 1
    assert first != TableIdentifier(("sales",), "returns")
    assert first != TableIdentifier(("sales", "eu"), "orders")


def test_limits_are_inclusive() -> None:
    longest = "x" * MAX_PART_BYTES
    deepest = tuple(f"n{i}" for i in range(MAX_NAMESPACE_DEPTH))

    assert TableIdentifier((longest,), longest).name == longest
    assert TableIdentifier(deepest, "t").namespace == deepest


# -- rejected text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("a..b", "'a..b'"),
        (".sales.orders", "'.sales.orders'"),
        ("sales.orders.", "'sales.orders.'"),
        ("sales.or ders", "'or ders'"),
        ("sales.orders!", "'orders!'"),
        ("sales.-orders", "'-orders'"),
        ("sa/les.orders", "'sa/les'"),
        ("sales.ord\ners", "'ord\\ners'"),
    ],
)
def test_from_string_rejects_malformed_parts(text: str, named: str) -> None:
    error = _rejected(lambda: TableIdentifier.from_string(text))

    assert named in str(error)
    assert repr(text) in str(error)
    assert error.subject == text


@pytest.mark.parametrize("text", ["orders", ""])
def test_from_string_needs_a_namespace_and_a_name(text: str) -> None:
    error = _rejected(lambda: TableIdentifier.from_string(text))

    assert f"table identifier {text!r} needs a namespace and a name" in str(error)


def test_from_string_rejects_a_part_that_is_too_long() -> None:
    long_name = "orders" + "x" * MAX_PART_BYTES

    error = _rejected(lambda: TableIdentifier.from_string(f"sales.{long_name}"))

    assert repr(long_name[:20]) in str(error)
    assert str(MAX_PART_BYTES + 6) in str(error)


def test_from_string_rejects_a_namespace_that_is_too_deep() -> None:
    text = ".".join(["n"] * (MAX_NAMESPACE_DEPTH + 1)) + ".t"

    error = _rejected(lambda: TableIdentifier.from_string(text))

    assert repr(text) in str(error)
    assert f"{MAX_NAMESPACE_DEPTH + 1} levels" in str(error)


@pytest.mark.parametrize("value", [42, None, b"sales.orders", ("sales", "orders")])
def test_from_string_rejects_non_strings(value: object) -> None:
    error = _rejected(lambda: TableIdentifier.from_string(value))  # type: ignore[arg-type]

    assert type(value).__name__ in str(error)
    assert error.subject == repr(value)


# -- rejected parts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "name", "named"),
    [
        (("sales",), "or.ders", "'or.ders'"),
        (("sa.les",), "orders", "'sa.les'"),
        (("sales",), "or ders", "'or ders'"),
        (("sales", "e u"), "orders", "'e u'"),
        (("sales",), "-orders", "'-orders'"),
        (("sales",), "orders$", "'orders$'"),
    ],
)
def test_constructor_rejects_malformed_parts(
    namespace: tuple[str, ...], name: str, named: str
) -> None:
    error = _rejected(lambda: TableIdentifier(namespace, name))

    assert named in str(error)


def test_a_dot_inside_a_part_is_explained() -> None:
    error = _rejected(lambda: TableIdentifier(("sales",), "or.ders"))

    assert "contains a dot" in str(error)
    assert error.subject == "or.ders"


@pytest.mark.parametrize(
    ("namespace", "name", "what"),
    [
        (("sales",), "", "table name"),
        (("sales", ""), "orders", "namespace part"),
        (("",), "orders", "namespace part"),
    ],
)
def test_constructor_rejects_empty_parts(namespace: tuple[str, ...], name: str, what: str) -> None:
    error = _rejected(lambda: TableIdentifier(namespace, name))

    assert f"{what} must not be empty" in str(error)


def test_constructor_rejects_an_empty_namespace() -> None:
    error = _rejected(lambda: TableIdentifier((), "orders"))

    assert "at least one part" in str(error)


def test_constructor_rejects_a_part_that_is_too_long() -> None:
    too_long = "q" * (MAX_PART_BYTES + 1)

    error = _rejected(lambda: TableIdentifier(("sales",), too_long))

    assert repr(too_long[:20]) in str(error)
    assert str(MAX_PART_BYTES + 1) in str(error)
    assert error.subject == too_long


def test_constructor_rejects_a_namespace_that_is_too_deep() -> None:
    deep = tuple(f"n{i}" for i in range(MAX_NAMESPACE_DEPTH + 1))

    error = _rejected(lambda: TableIdentifier(deep, "t"))

    assert f"{MAX_NAMESPACE_DEPTH + 1} levels" in str(error)
    assert error.subject == ".".join(deep)


@pytest.mark.parametrize(
    ("namespace", "name", "what", "offender"),
    [
        (("sales",), 42, "table name", 42),
        (("sales",), None, "table name", None),
        (("sales", 7), "orders", "namespace part", 7),
        ((b"sales",), "orders", "namespace part", b"sales"),
    ],
)
def test_constructor_rejects_non_string_parts(
    namespace: tuple[object, ...], name: object, what: str, offender: object
) -> None:
    error = _rejected(lambda: TableIdentifier(namespace, name))  # type: ignore[arg-type]

    assert f"{what} must be a string, got {type(offender).__name__}" in str(error)
    assert error.subject == repr(offender)


@pytest.mark.parametrize("parts", [["orders"], [], ()])
def test_from_parts_needs_a_namespace_and_a_name(parts: list[str]) -> None:
    error = _rejected(lambda: TableIdentifier.from_parts(parts))

    assert repr(tuple(parts)) in str(error)


def test_from_parts_validates_each_part() -> None:
    error = _rejected(lambda: TableIdentifier.from_parts(["sales", "bad name"]))

    assert "'bad name'" in str(error)


def test_identifier_errors_are_validation_errors() -> None:
    error = _rejected(lambda: TableIdentifier.from_string("a..b"))

    assert isinstance(error, FloeValidationError)
    assert isinstance(error, ValueError)


# -- storable names: UTF-8 bytes, as a warehouse stores them -----------------------------


@pytest.mark.parametrize(
    ("char", "fits"), [("x", 255), ("é", 127), ("名", 85), ("𠀀", 63)], ids=["1B", "2B", "3B", "4B"]
)
def test_a_part_is_limited_in_utf8_bytes_not_characters(char: str, fits: int) -> None:
    longest = char * fits
    too_long = char * (fits + 1)

    assert TableIdentifier(("ns",), longest).name == longest
    assert TableIdentifier((longest,), "t").namespace == (longest,)
    error = _rejected(lambda: TableIdentifier(("ns",), too_long))
    assert f"{len(too_long.encode())} bytes long in UTF-8 ({fits + 1} characters)" in str(error)
    assert f"the limit is {MAX_PART_BYTES} bytes" in str(error)
    assert error.subject == too_long
    _rejected(lambda: TableIdentifier((too_long,), "t"))


def test_255_cjk_characters_are_refused() -> None:
    error = _rejected(lambda: TableIdentifier.from_string("ns." + "名" * 255))

    assert "765 bytes" in str(error)


def test_the_dotted_namespace_is_limited_as_one_directory_name() -> None:
    at_limit = ("a" * 127, "b" * 127)  # 127 + 1 + 127 bytes
    over = ("a" * 127, "b" * 128)

    assert TableIdentifier(at_limit, "t").namespace == at_limit
    error = _rejected(lambda: TableIdentifier(over, "t"))
    assert f"256 bytes long in UTF-8 with its dots; the limit is {MAX_NAMESPACE_BYTES}" in str(
        error
    )
    assert error.subject == "a" * 127 + "." + "b" * 128


def test_sixteen_nested_parts_of_201_characters_are_refused() -> None:
    deep = tuple("n" * 201 for _ in range(MAX_NAMESPACE_DEPTH))

    error = _rejected(lambda: TableIdentifier.from_parts([*deep, "t"]))

    assert f"{16 * 201 + 15} bytes" in str(error)


def test_a_full_depth_namespace_fits_when_its_dotted_form_does() -> None:
    parts = tuple(f"{i:x}" * 15 for i in range(MAX_NAMESPACE_DEPTH))  # 16 * 15 + 15 bytes

    assert TableIdentifier(parts, "t" * MAX_PART_BYTES).namespace == parts


def test_the_limits_bound_a_tables_location_below_its_warehouse() -> None:
    # <namespace>/<table>/metadata/00000-<uuid>.metadata.json, everything at its limit.
    metadata_file = len("/metadata/00000-" + "0" * 36 + ".metadata.json")
    longest = MAX_NAMESPACE_BYTES + 1 + MAX_PART_BYTES + metadata_file

    assert longest < 1024  # an object store's key, PATH_MAX (4096) on disk, with room to spare
