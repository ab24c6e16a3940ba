"""Which catalog a command works on: a config file, a PyIceberg catalog, or the environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

import floe


def read_mapping(path: Path, what: str) -> Mapping[str, Any]:
    """A YAML or JSON file holding one mapping (``.json`` is read as JSON, the rest as YAML).

    Raises:
        InvalidConfigError: The file cannot be read or parsed, or holds no mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        # The parser's message may quote the file, and a config file holds secrets:
        # name the file and the kind of fault only.
        raise floe.InvalidConfigError(
            f"cannot read the {what} {path}: {type(exc).__name__}", subject=str(path)
        ) from None
    if not isinstance(data, Mapping):
        raise floe.InvalidConfigError(
            f"the {what} {path} must hold a mapping, found {type(data).__name__}",
            subject=str(path),
        )
    return data


def open_lake(config_file: Path | None, catalog: str | None) -> floe.Floe:
    """The Floe over the chosen catalog.

    ``--config`` wins, then ``--catalog``; without either the ``FLOE_CATALOG_*``
    variables decide, and without those the embedded local catalog under
    ``.floe/warehouse`` (the quickstart's) is used.

    Raises:
        InvalidConfigError: The configuration is invalid (secrets never shown).
    """
    if config_file is not None:
        return floe.Floe.from_config(floe.load_catalog_config(read_mapping(config_file, "config")))
    if catalog is not None:
        return floe.Floe.from_pyiceberg(catalog)
    return floe.Floe.from_config(floe.catalog_config_from_env())
