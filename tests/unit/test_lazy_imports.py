"""``import floe`` loads neither PyIceberg nor Dagster: each comes with its first use."""

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
        return {name: name in sys.modules for name in ("pyiceberg", "dagster")}

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
    assert seen["import"] == {"pyiceberg": False, "dagster": False}
    assert seen["memory"] == {"pyiceberg": False, "dagster": False}
    assert seen["local"] == {"pyiceberg": True, "dagster": False}
    assert seen["dagster"] == {"pyiceberg": True, "dagster": True}
