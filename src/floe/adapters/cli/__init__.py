"""The ``floe`` command line: inspect, query and maintain tables without writing Python.

An edge adapter, as the Dagster IO manager is: every command turns its
arguments into calls of the public API (:class:`floe.Floe` and its services)
and renders what comes back, as text for people (``rich`` tables, sizes in
binary units, times in the local zone) or, with ``--json``, as the stable
shapes documented in ``docs/cli.md``. Install it with the ``cli`` extra
(``pip install 'floe[cli]'``); ``import floe`` never imports it.

The catalog comes from ``--config FILE`` (a YAML or JSON mapping, as
:func:`floe.load_catalog_config` takes), ``--catalog NAME`` (a catalog of
PyIceberg's ``.pyiceberg.yaml``), or else the ``FLOE_CATALOG_*`` variables,
whose default is the embedded local catalog under ``.floe/warehouse``.

Exit codes: 0 success, 1 any other error or a declined confirmation, 2 a
usage error or input floe rejected, 3 not found, 4 a conflict (exists, not
empty, concurrent commits, a branch to publish that main moved away from), 5
the catalog unreachable or refusing the credentials, 6 a commit whose outcome
is unknown.
"""

from floe.adapters.cli import _maintenance, _namespaces, _read, _refs, _snapshots, _tables
from floe.adapters.cli._app import cli, main

# The command modules attach their commands to ``cli`` when imported.
del _maintenance, _namespaces, _read, _refs, _snapshots, _tables

__all__ = ["cli", "main"]
