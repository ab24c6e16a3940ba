"""PyIceberg's own configuration, read by PyIceberg: ``.pyiceberg.yaml`` and the environment.

``pyiceberg.utils.config.Config`` finds ``.pyiceberg.yaml`` in
``$PYICEBERG_HOME``, the home directory or the working directory, and
overlays the ``PYICEBERG_CATALOG__<NAME>__<KEY>`` variables (``__`` is ``.``,
``_`` is ``-``). floe reads it with that very class, so a catalog PyIceberg's
``load_catalog(name)`` opens is the catalog floe opens.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.utils.config import Config

from floe.domain.errors import InvalidConfigError


def pyiceberg_catalog_properties(name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The name and properties of a catalog in PyIceberg's configuration.

    Args:
        name: The catalog; ``None`` takes PyIceberg's default
            (``default-catalog`` in the file, else ``default``).

    Raises:
        InvalidConfigError: The configuration cannot be read, or does not
            describe the catalog.
    """
    try:
        config = Config()
        chosen = name or config.get_default_catalog_name()
        properties = config.get_catalog_config(chosen)
        known = config.get_known_catalogs()
    except Exception as exc:  # strictyaml's and PyIceberg's own errors: a bad file
        raise InvalidConfigError(
            f"cannot read PyIceberg's configuration ({type(exc).__name__}: {str(exc)[:200]})",
            subject="pyiceberg",
        ) from exc
    if properties is None:
        variable = f"PYICEBERG_CATALOG__{chosen.upper()}__URI"
        raise InvalidConfigError(
            f"PyIceberg's configuration has no catalog {chosen!r} (it has "
            f"{sorted(known) or 'none'}); describe it under catalog: {chosen}: in "
            f".pyiceberg.yaml ($PYICEBERG_HOME, the home or the working directory) or "
            f"with variables such as {variable}",
            subject=chosen,
        )
    return chosen, dict(properties)
