"""The policies an Iceberg REST catalog applies to a table (Apache Polaris' policy API).

PyIceberg has no policy API. Polaris serves ``GET
/polaris/v1/{prefix}/applicable-policies?namespace=<ns>&target-name=<table>``
(next to ``/v1/...`` under the catalog URI) and lists it among the
endpoints of its ``/v1/config`` answer. The request goes through the
catalog's own session (its token, deadline and answer cap) inside the call
guard (retries, token refresh, error translation). A catalog that does not
list the endpoint, or answers 404, applies no policy; the embedded catalog
has none.
"""

from __future__ import annotations

import json
from typing import Any

from pyiceberg.catalog.rest import Endpoint, RestCatalog
from pyiceberg.catalog.rest.response import _handle_non_200_response
from requests import HTTPError

from floe.adapters.iceberg.connect import IcebergBackend
from floe.domain.errors import CatalogError
from floe.domain.identifiers import TableIdentifier
from floe.domain.policies import AppliedPolicy
from floe.ports.policies import PolicyPort

#: How Polaris lists the endpoint in ``/v1/config``.
APPLICABLE_POLICIES = "GET /polaris/v1/{prefix}/applicable-policies"
#: Pages followed at most (Polaris pages its answer; a table has a few policies).
MAX_PAGES = 100


class NoPolicies(PolicyPort):
    """A catalog that applies no policy (the embedded catalog)."""

    def applicable_policies(self, identifier: TableIdentifier) -> tuple[AppliedPolicy, ...]:
        """No policy applies; see :class:`PolicyPort`."""
        return ()


class RestPolicies(PolicyPort):
    """Reads applicable policies from an Iceberg REST catalog that serves Polaris' policy API.

    Args:
        backend: The REST catalog backend.
    """

    def __init__(self, backend: IcebergBackend) -> None:
        self._backend = backend

    def applicable_policies(self, identifier: TableIdentifier) -> tuple[AppliedPolicy, ...]:
        """The policies the catalog applies to the table; see :class:`PolicyPort`."""

        def call() -> tuple[AppliedPolicy, ...]:
            catalog = self._backend.catalog
            if not isinstance(catalog, RestCatalog):
                return ()
            if Endpoint.from_string(APPLICABLE_POLICIES) not in catalog._supported_endpoints:
                return ()
            return _fetch(catalog, identifier)

        return self._backend.guard.run("list applicable policies of table", str(identifier), call)


def _fetch(catalog: RestCatalog, identifier: TableIdentifier) -> tuple[AppliedPolicy, ...]:
    prefix = str(catalog.properties.get("prefix", "")).strip("/")
    url = "/".join(p for p in (catalog.uri.rstrip("/"), "polaris/v1", prefix) if p)
    url += "/applicable-policies"
    params = {"namespace": "\x1f".join(identifier.namespace), "target-name": identifier.name}
    found: list[AppliedPolicy] = []
    for _ in range(MAX_PAGES):
        response = catalog._session.get(url, params=params)
        if response.status_code == 404:
            return ()  # no such endpoint here (a table missing is found by the load)
        try:
            response.raise_for_status()
        except HTTPError as exc:
            _handle_non_200_response(exc, {})
        page = _page(response.text, identifier)
        found.extend(_policy(item, identifier) for item in page["applicable-policies"])
        token = page.get("next-page-token")
        if not token:
            return tuple(found)
        params = {**params, "pageToken": str(token)}
    raise CatalogError(
        f"list applicable policies of table {identifier}: more than {MAX_PAGES} pages",
        subject=str(identifier),
    )


def _bad(identifier: TableIdentifier, problem: str) -> CatalogError:
    return CatalogError(
        f"list applicable policies of table {identifier}: the catalog's answer {problem}",
        subject=str(identifier),
    )


def _page(text: str, identifier: TableIdentifier) -> dict[str, Any]:
    try:
        page = json.loads(text)
    except ValueError:
        raise _bad(identifier, f"is not JSON: {text[:80]!r}") from None
    if not isinstance(page, dict) or not isinstance(page.get("applicable-policies"), list):
        raise _bad(identifier, f"has no 'applicable-policies' list: {text[:80]!r}")
    return page


def _policy(item: object, identifier: TableIdentifier) -> AppliedPolicy:
    if not isinstance(item, dict):
        raise _bad(identifier, f"lists a policy that is no object: {item!r:.80}")
    name, kind, content = item.get("name"), item.get("policy-type"), item.get("content")
    if not isinstance(name, str) or not isinstance(kind, str):
        raise _bad(identifier, f"lists a policy without name or policy-type: {item!r:.80}")
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)  # a server that inlines the JSON instead of text
    return AppliedPolicy(
        name=name, policy_type=kind, content=content, inherited=item.get("inherited") is True
    )
