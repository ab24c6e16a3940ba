"""A config that lacks a field says which one, in floe's words."""

from __future__ import annotations

import pytest

import floe


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({"type": "polaris", "uri": "http://h/api/catalog", "token": "t"}, ["warehouse"]),
        ({"type": "rest", "warehouse": "w", "token": "t"}, ["uri"]),
        ({"type": "polaris", "token": "t"}, ["uri", "warehouse"]),
    ],
)
def test_a_missing_field_is_named(data: dict[str, str], missing: list[str]) -> None:
    with pytest.raises(floe.InvalidConfigError) as raised:
        floe.load_catalog_config(data)

    message = str(raised.value)
    for field in missing:
        assert f"missing required field {field!r}" in message
    assert "KeyError" not in message
    assert "Structuring" not in message


def test_a_missing_field_from_the_environment_is_named() -> None:
    env = {"FLOE_CATALOG_TYPE": "polaris", "FLOE_CATALOG_URI": "http://h/api/catalog"}

    with pytest.raises(floe.InvalidConfigError, match="missing required field 'warehouse'"):
        floe.catalog_config_from_env(env)
