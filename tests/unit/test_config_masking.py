"""No secret a user can put in a catalog config shows in its repr, its mapping or an error."""

from __future__ import annotations

import pytest

import floe
from floe.domain.config import (
    SAFE_PROPERTY_KEYS,
    load_catalog_config,
    mask_uri,
    unstructure_config,
)

MARKER = "sekr1t-M4RKER-value"

# One key is one floe has never heard of: its warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::floe.UnknownPropertyWarning")

#: Keys that carry credentials in PyIceberg's FileIO and REST catalog, plus
#: headers and keys floe has never heard of.
SECRET_BEARING = [
    "header.Authorization",
    "header.X-Api-Key",
    "header.x-custom-auth",
    "adls.account-key",
    "adls.sas-token.myaccount",
    "adls.connection-string",
    "adls.client-secret",
    "adls.token",
    "gcs.oauth2.token",
    "s3.access-key-id",
    "s3.secret-access-key",
    "s3.session-token",
    "s3.sse.key",
    "client.access-key-id",
    "client.secret-access-key",
    "client.session-token",
    "hdfs.kerberos_ticket",
    "hf.token",
    "rest.signing-key",
    "some.future-setting",
]


def polaris(properties: dict[str, object], **fields: object) -> dict[str, object]:
    return {
        "type": "polaris",
        "uri": "https://polaris.example/api/catalog",
        "warehouse": "lake",
        "client_id": "etl",
        "client_secret": "not-the-marker",
        "properties": properties,
        **fields,
    }


@pytest.mark.parametrize("key", SECRET_BEARING)
def test_a_secret_in_any_property_is_masked_in_repr_and_mapping(key: str) -> None:
    config = load_catalog_config(polaris({key: MARKER, "s3.endpoint": "http://s3.local"}))

    assert MARKER not in repr(config)
    assert MARKER not in str(unstructure_config(config))
    # settings known to be safe stay readable
    assert "http://s3.local" in repr(config)
    assert unstructure_config(config)["properties"]["s3.endpoint"] == "http://s3.local"


@pytest.mark.parametrize("key", SECRET_BEARING)
def test_a_secret_given_in_the_wrong_form_is_not_echoed_by_the_error(key: str) -> None:
    with pytest.raises(floe.InvalidConfigError) as raised:
        load_catalog_config(polaris({key: MARKER.encode()}))

    assert MARKER not in str(raised.value)
    assert "bytes" in str(raised.value)


def test_every_safe_key_is_shown_whatever_its_case() -> None:
    properties = {key.upper(): f"v-{i}" for i, key in enumerate(sorted(SAFE_PROPERTY_KEYS))}
    properties.pop("URI")
    properties.pop("WAREHOUSE")

    config = load_catalog_config(polaris(properties))

    assert unstructure_config(config)["properties"] == properties


@pytest.mark.parametrize("field", ["uri", "oauth2_server_uri"])
def test_a_password_in_a_uri_is_masked(field: str) -> None:
    uri = f"https://etl:{MARKER}@polaris.example/api/catalog"

    config = load_catalog_config(polaris({}, **{field: uri}))

    assert MARKER not in repr(config)
    assert MARKER not in str(unstructure_config(config))
    assert "https://etl:**********@polaris.example/api/catalog" in repr(config)


def test_a_refused_uri_does_not_echo_its_password() -> None:
    with pytest.raises(floe.InvalidConfigError) as raised:
        load_catalog_config(polaris({}, uri=f"ftp://etl:{MARKER}@polaris.example/"))

    assert MARKER not in str(raised.value)


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://host/api", "https://host/api"),
        ("https://user@host/api", "https://user@host/api"),
        ("https://u:p@host", "https://u:**********@host"),
        ("https://u:p:q@host/a@b", "https://u:**********@host/a@b"),
        ("not a uri", "not a uri"),
    ],
)
def test_mask_uri(uri: str, shown: str) -> None:
    assert mask_uri(uri) == shown
