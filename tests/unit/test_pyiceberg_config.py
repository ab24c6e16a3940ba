"""A catalog configured for PyIceberg opens in floe as it is.

PyIceberg's configuration is read from a temporary ``PYICEBERG_HOME`` and
the environment; the home and working directories are temporary too, so no
real ``~/.pyiceberg.yaml`` takes part.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

import floe

MARKER = "s3cr3t-marker-value"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PYICEBERG_HOME, with no PYICEBERG_* variable and no other file in reach."""
    for key in list(os.environ):
        if key.upper().startswith("PYICEBERG_"):
            monkeypatch.delenv(key)
    (tmp_path / "home").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("PYICEBERG_HOME", str(tmp_path))
    return tmp_path


def write_yaml(home: Path, text: str) -> None:
    (home / ".pyiceberg.yaml").write_text(text)


REST_YAML = f"""
catalog:
  lake:
    type: rest
    uri: https://polaris.example/api/catalog
    warehouse: analytics
    credential: etl:{MARKER}
    scope: PRINCIPAL_ROLE:writer
    s3.endpoint: http://s3.local
    s3.secret-access-key: {MARKER}
"""


def test_a_rest_catalog_in_the_yaml_file_is_a_polaris_config(home: Path) -> None:
    write_yaml(home, REST_YAML)

    config = floe.catalog_config_from_pyiceberg("lake")

    assert isinstance(config, floe.PolarisCatalogConfig)
    assert config.uri == "https://polaris.example/api/catalog"
    assert config.warehouse == "analytics"
    assert config.client_id == "etl"
    assert isinstance(config.client_secret, floe.Secret)
    assert config.client_secret.reveal() == MARKER
    assert config.scope == "PRINCIPAL_ROLE:writer"
    assert dict(config.properties) == {
        "s3.endpoint": "http://s3.local",
        "s3.secret-access-key": MARKER,
    }
    assert MARKER not in repr(config)


def test_environment_variables_name_and_override_as_in_pyiceberg(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_yaml(home, REST_YAML)
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__WAREHOUSE", "other")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__S3__PATH_STYLE_ACCESS", "true")
    monkeypatch.setenv("PYICEBERG_CATALOG__ENVONLY__URI", "http://127.0.0.1:8181")
    monkeypatch.setenv("PYICEBERG_CATALOG__ENVONLY__WAREHOUSE", "w")
    monkeypatch.setenv("PYICEBERG_CATALOG__ENVONLY__TOKEN", MARKER)

    lake = floe.catalog_config_from_pyiceberg("lake")
    env_only = floe.catalog_config_from_pyiceberg("envonly")

    assert isinstance(lake, floe.PolarisCatalogConfig)
    assert lake.warehouse == "other"
    assert lake.properties["s3.path-style-access"] == "true"
    assert isinstance(env_only, floe.PolarisCatalogConfig)  # type guessed from the http uri
    assert env_only.token is not None
    assert env_only.token.reveal() == MARKER


def test_no_name_takes_pyiceberg_s_default_catalog(home: Path) -> None:
    write_yaml(home, "default-catalog: lake\n" + REST_YAML)

    config = floe.catalog_config_from_pyiceberg()

    assert isinstance(config, floe.PolarisCatalogConfig)
    assert config.warehouse == "analytics"


def test_floe_s_embedded_sql_layout_is_the_local_catalog(home: Path, tmp_path: Path) -> None:
    directory = tmp_path / "wh"
    write_yaml(
        home,
        f"""
catalog:
  embedded:
    type: sql
    uri: sqlite:///{directory}/catalog.db
    warehouse: {directory.as_uri()}
""",
    )

    config = floe.catalog_config_from_pyiceberg("embedded")

    assert config == floe.LocalCatalogConfig(warehouse_path=str(directory), catalog_name="embedded")
    lake = floe.Floe.from_pyiceberg("embedded")
    lake.namespaces.create("ns")
    assert (directory / "catalog.db").is_file()


@pytest.mark.parametrize(
    "catalog",
    [
        "type: sql\n    uri: postgresql+psycopg2://u:pw@db/iceberg\n    warehouse: s3://b/w",
        "type: sql\n    uri: sqlite:////tmp/a/catalog.db\n    warehouse: file:///tmp/b",
        "type: sql\n    uri: sqlite:////tmp/a/other.db\n    warehouse: file:///tmp/a",
    ],
    ids=["postgres", "other-directory", "other-file"],
)
def test_another_sql_catalog_is_refused_saying_what_floe_opens(home: Path, catalog: str) -> None:
    write_yaml(home, f"catalog:\n  c:\n    {catalog}\n")

    with pytest.raises(floe.InvalidConfigError) as raised:
        floe.catalog_config_from_pyiceberg("c")

    assert "sqlite:///<dir>/catalog.db" in str(raised.value)
    assert ":pw@" not in str(raised.value)


def test_another_catalog_type_is_refused_by_name(home: Path) -> None:
    write_yaml(home, "catalog:\n  g:\n    type: glue\n")

    with pytest.raises(floe.InvalidConfigError, match=r"'glue'.*'rest'"):
        floe.catalog_config_from_pyiceberg("g")


def test_a_missing_catalog_says_where_to_describe_it(home: Path) -> None:
    write_yaml(home, REST_YAML)

    with pytest.raises(floe.InvalidConfigError) as raised:
        floe.Floe.from_pyiceberg("nope")

    message = str(raised.value)
    assert "'nope'" in message
    assert "['lake']" in message
    assert "PYICEBERG_CATALOG__NOPE__URI" in message


@pytest.mark.parametrize(
    ("yaml", "words"),
    [
        (
            "type: rest\n    uri: http://h/api/catalog\n    token: t",
            "missing required field 'warehouse'",
        ),
        (
            "type: rest\n    uri: http://h\n    warehouse: w\n    credential: only",
            "client_id:client_secret",
        ),
        (
            "type: rest\n    uri: http://h\n    warehouse: w",
            "client_id and client_secret, or token",
        ),
    ],
    ids=["no-warehouse", "bad-credential", "no-credential"],
)
def test_a_bad_rest_catalog_names_what_is_wrong(home: Path, yaml: str, words: str) -> None:
    write_yaml(home, f"catalog:\n  c:\n    {yaml}\n")

    with pytest.raises(floe.InvalidConfigError) as raised:
        floe.catalog_config_from_pyiceberg("c")

    assert words in str(raised.value)
    assert "'c'" in str(raised.value)


def polaris(properties: dict[str, str]) -> floe.PolarisCatalogConfig:
    return floe.PolarisCatalogConfig(
        uri="http://h/api/catalog", warehouse="w", token="t", properties=properties
    )


def test_an_unknown_property_is_warned_about_by_key_never_by_value() -> None:
    with pytest.warns(floe.UnknownPropertyWarning) as caught:
        polaris({"s3.endpont": MARKER, "s3.endpoint": "http://s3"})

    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "'s3.endpont'" in messages[0]
    assert MARKER not in messages[0]
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    "key",
    [
        "s3.endpoint",
        "s3.access-key-id",
        "s3.secret-access-key",
        "adls.sas-token.myaccount",
        "header.X-Api-Key",
        "gcs.oauth2.token",
        "rest.sigv4-enabled",
        "snapshot-loading-mode",
    ],
)
def test_a_known_property_draws_no_warning(key: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", floe.UnknownPropertyWarning)
        polaris({key: "value"})


def test_an_unknown_property_from_the_yaml_file_is_warned_about(home: Path) -> None:
    write_yaml(home, REST_YAML + "    s3.regoin: eu-west-1\n")

    with pytest.warns(floe.UnknownPropertyWarning, match="'s3.regoin'"):
        floe.catalog_config_from_pyiceberg("lake")


def test_an_external_identity_provider_and_the_realm_in_the_yaml_file_become_fields(
    home: Path,
) -> None:
    write_yaml(
        home,
        f"""
catalog:
  lake:
    type: rest
    uri: https://polaris.example/api/catalog
    warehouse: analytics
    credential: etl:{MARKER}
    oauth2-server-uri: https://idp.example/realms/data/protocol/openid-connect/token
    audience: polaris
    resource: urn:polaris:catalog
    header.Polaris-Realm: realm-eu
""",
    )

    config = floe.catalog_config_from_pyiceberg("lake")

    assert isinstance(config, floe.PolarisCatalogConfig)
    assert config.oauth2_server_uri == (
        "https://idp.example/realms/data/protocol/openid-connect/token"
    )
    assert (config.audience, config.resource, config.realm) == (
        "polaris",
        "urn:polaris:catalog",
        "realm-eu",
    )
    assert dict(config.properties) == {}
