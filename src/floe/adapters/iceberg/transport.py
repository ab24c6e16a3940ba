"""Transport checks of a REST catalog config: credentials over plain HTTP are said out loud.

floe does not refuse ``http://``: a catalog on a private network or behind
a TLS-terminating sidecar is served that way. But a client secret or bearer
token sent in clear to another machine can be read by anyone on the path,
so opening such a catalog logs one warning (logger ``floe.transport``),
naming the endpoints. Loopback addresses (``127.0.0.0/8``, ``::1``,
``localhost``) never leave the machine and are not warned about.
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.parse

from floe.domain.config import PolarisCatalogConfig, mask_uri

_logger = logging.getLogger("floe.transport")


def plaintext_endpoints(config: PolarisCatalogConfig, token_url: str) -> list[str]:
    """The endpoints ``config`` sends a secret or token to over plain HTTP off this machine.

    Args:
        config: The REST catalog config.
        token_url: Its token endpoint (which receives the client secret).

    Returns:
        The catalog URI (it receives the bearer token) and, for client
        credentials, the token endpoint, when they are ``http://`` to a host
        that is not loopback; masked, in that order, without repeats.
    """
    candidates = [config.uri]
    if config.token is None:
        candidates.append(token_url)
    found: list[str] = []
    for uri in candidates:
        parts = urllib.parse.urlsplit(uri)
        masked = mask_uri(uri)
        if parts.scheme.lower() == "http" and not _loopback(parts.hostname) and masked not in found:
            found.append(masked)
    return found


def warn_if_plaintext(config: PolarisCatalogConfig, token_url: str) -> None:
    """Log one warning when ``config`` sends credentials in clear to another machine.

    Args:
        config: The REST catalog config.
        token_url: Its token endpoint.
    """
    endpoints = plaintext_endpoints(config, token_url)
    if not endpoints:
        return
    what = "a bearer token" if config.token is not None else "the client secret and tokens"
    _logger.warning(
        "floe sends %s over plain HTTP to %s: anyone on the network path can read them; "
        "use https:// (loopback addresses are exempt)",
        what,
        ", ".join(endpoints),
    )


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: where it resolves is not known here, so not assumed safe
