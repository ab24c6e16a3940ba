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


@pytest.mark.parametrize("retry", [5, "x", ["max_attempts", 3]])
def test_settings_that_are_not_a_mapping_say_what_is_expected(retry: object) -> None:
    data = {"type": "polaris", "uri": "http://h/api/catalog", "warehouse": "w", "retry": retry}

    with pytest.raises(floe.InvalidConfigError) as raised:
        floe.load_catalog_config(data)

    message = str(raised.value)
    assert "field 'retry': expected a mapping of RetryConfig settings (max_attempts," in message
    assert "AttributeError" not in message
    assert "TypeError" not in message
