"""Asset key → table: the Dagster adapter's mapping, with the domain's identifier rules."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import pytest
from hypothesis import given

from floe import InvalidIdentifierError, TableIdentifier
from floe.adapters.dagster import table_for_asset_key
from tests.properties.test_domain_properties import PROPERTY, namespaces, parts


def _rejected(build: Callable[[], object]) -> InvalidIdentifierError:
    """Run ``build`` and return the InvalidIdentifierError it must raise (exact class)."""
    with pytest.raises(InvalidIdentifierError) as caught:
        build()
    assert type(caught.value) is InvalidIdentifierError
    return caught.value


def test_asset_key_of_several_parts_names_namespace_and_table() -> None:
    identifier = table_for_asset_key(["sales", "eu", "orders"], "ignored")

    assert identifier == TableIdentifier(("sales", "eu"), "orders")


@pytest.mark.parametrize(
    ("default_namespace", "expected"),
    [
        ("analytics", ("analytics",)),
        ("analytics.eu", ("analytics", "eu")),
        (("analytics", "eu"), ("analytics", "eu")),
    ],
)
def test_single_part_asset_key_lands_in_the_default_namespace(
    default_namespace: str | tuple[str, ...], expected: tuple[str, ...]
) -> None:
    identifier = table_for_asset_key(["orders"], default_namespace)

    assert identifier.namespace == expected
    assert identifier.name == "orders"


def test_empty_asset_key_is_rejected() -> None:
    error = _rejected(lambda: table_for_asset_key([], "analytics"))

    assert "asset key has no parts" in str(error)


@pytest.mark.parametrize(
    ("key", "default_namespace", "named"),
    [
        (["sales", "or ders"], "analytics", "'or ders'"),
        (["orders"], "ana lytics", "'ana lytics'"),
        (["orders"], "analytics..eu", "must not be empty"),
    ],
)
def test_asset_key_parts_and_default_namespace_are_validated(
    key: list[str], default_namespace: str, named: str
) -> None:
    error = _rejected(lambda: table_for_asset_key(key, default_namespace))

    assert named in str(error)


class _Key:
    """An asset key shaped as Dagster's: the parts in ``path``."""

    def __init__(self, *path: str) -> None:
        self.path = list(path)


def test_an_asset_key_object_is_read_through_its_path() -> None:
    assert table_for_asset_key(_Key("sales", "eu", "orders"), "d") == TableIdentifier(
        ("sales", "eu"), "orders"
    )
    assert table_for_asset_key(_Key("orders"), "d") == TableIdentifier(("d",), "orders")


def test_a_dagster_asset_key_is_accepted() -> None:
    assert table_for_asset_key(dg.AssetKey(["sales", "orders"]), "d") == (
        TableIdentifier(("sales",), "orders")
    )
    _rejected(lambda: table_for_asset_key(dg.AssetKey([]), "d"))


class _BrokenKey:
    @property
    def path(self) -> list[str]:
        raise RuntimeError("no path")


@pytest.mark.parametrize(
    "key", ["sales.orders", 5, None, {"path": ["a", "b"]}, b"ab", _BrokenKey(), _Key("a", 5)]
)
def test_anything_else_as_an_asset_key_names_its_type(key: object) -> None:
    error = _rejected(lambda: table_for_asset_key(key, "d"))  # type: ignore[arg-type]

    assert type(key if not isinstance(key, _Key) else 5).__name__ in str(error)


@PROPERTY
@given(namespace=namespaces, name=parts)
def test_an_identifiers_parts_as_an_asset_key_map_back_to_it(
    namespace: tuple[str, ...], name: str
) -> None:
    identifier = TableIdentifier(namespace, name)

    assert table_for_asset_key(list(identifier.parts), "unused") == identifier
