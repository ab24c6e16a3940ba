"""``import floe`` loads neither PyIceberg nor Dagster nor the CLI's click and rich."""

from __future__ import annotations

import json
import subprocess  # nosec B404 - runs this interpreter on a fixed script
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, sys

    def loaded():
        return {name: name in sys.modules for name in ("pyiceberg", "dagster", "click", "rich")}

    import floe
    seen = {"import": loaded()}
    lake = floe.Floe.from_config({"type": "memory"})
    lake.namespaces.create("shop")
    seen["memory"] = loaded()
    lake = floe.Floe.from_config({"type": "local", "warehouse_path": sys.argv[1]})
    lake.namespaces.create("shop")
    seen["local"] = loaded()
    floe.IcebergIOManager
    seen["dagster"] = loaded()
    import floe.adapters.cli
    seen["cli"] = loaded()
    print(json.dumps(seen))
    """
)


def test_pyiceberg_and_dagster_are_imported_on_first_use(tmp_path: Path) -> None:
    done = subprocess.run(  # nosec B603
        [sys.executable, "-c", SCRIPT, str(tmp_path / "warehouse")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    seen = json.loads(done.stdout)
    none = {"pyiceberg": False, "dagster": False, "click": False, "rich": False}
    assert seen["import"] == none
    # Once floe works, structlog's console renderer (and PyIceberg) may import
    # rich; the library itself never imports the CLI's click.
    assert seen["memory"]["pyiceberg"] is False
    assert seen["memory"]["dagster"] is False
    assert seen["memory"]["click"] is False
    assert seen["local"]["pyiceberg"] is True
    assert seen["local"]["dagster"] is False
    assert seen["local"]["click"] is False
    assert seen["dagster"]["dagster"] is True
    assert seen["cli"]["click"] is True
