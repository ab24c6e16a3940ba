"""The cap on a catalog answer: a sane default, a checked range, settable from the environment."""

from __future__ import annotations

import pytest

from floe import InvalidConfigError, PolarisCatalogConfig, catalog_config_from_env


def test_answers_are_capped_at_256_mib_by_default() -> None:
    config = PolarisCatalogConfig(uri="http://x", warehouse="w", token="t")
    assert config.max_response_bytes == 256 * 1024 * 1024


@pytest.mark.parametrize("value", [0, 1024, 2**40 + 1, 1e6, "5", True])
def test_a_cap_out_of_range_or_not_an_integer_is_rejected(value: object) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        PolarisCatalogConfig(
            uri="http://x",
            warehouse="w",
            token="t",
            max_response_bytes=value,  # type: ignore[arg-type]
        )
    assert caught.value.subject == "max_response_bytes"


def test_the_cap_is_read_from_the_environment() -> None:
    config = catalog_config_from_env(
        {
            "FLOE_CATALOG_TYPE": "polaris",
            "FLOE_CATALOG_URI": "http://x",
            "FLOE_CATALOG_WAREHOUSE": "w",
            "FLOE_CATALOG_TOKEN": "t",
            "FLOE_CATALOG_MAX_RESPONSE_BYTES": "1073741824",
        }
    )
    assert isinstance(config, PolarisCatalogConfig)
    assert config.max_response_bytes == 1 << 30
