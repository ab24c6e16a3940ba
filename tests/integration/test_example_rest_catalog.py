"""The README's recipe for a REST catalog without credential vending runs as written."""

from __future__ import annotations

import os
import subprocess  # nosec B404 - runs this interpreter on the project's example
import sys
import uuid
from pathlib import Path

from tests.integration.seaweed import SeaweedServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rest_catalog.py"


def test_the_rest_catalog_example_writes_and_reads_through_the_environment_alone(
    seaweed: SeaweedServer,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOE_CATALOG_")}
    namespace = f"example_{uuid.uuid4().hex[:8]}"
    env.update(
        {
            "FLOE_CATALOG_TYPE": "rest",
            "FLOE_CATALOG_URI": seaweed.rest_uri,
            "FLOE_CATALOG_WAREHOUSE": seaweed.warehouse,
            "FLOE_CATALOG_CLIENT_ID": seaweed.access_key,
            "FLOE_CATALOG_CLIENT_SECRET": seaweed.secret_key,
            "FLOE_CATALOG_SCOPE": "PRINCIPAL_ROLE:ALL",
            "FLOE_CATALOG_PROP_S3__ENDPOINT": seaweed.s3_endpoint,
            "FLOE_CATALOG_PROP_S3__ACCESS_KEY_ID": seaweed.access_key,
            "FLOE_CATALOG_PROP_S3__SECRET_ACCESS_KEY": seaweed.secret_key,
            "FLOE_CATALOG_PROP_S3__REGION": seaweed.region,
            "FLOE_EXAMPLE_NAMESPACE": namespace,
        }
    )

    done = subprocess.run(  # nosec B603
        [sys.executable, "-W", "error::UserWarning", str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"wrote 3 rows to {namespace}.orders at s3://")
    assert sum(1 for line in lines if line.startswith("  s3://")) == 2  # one file per day
    assert lines[-1] == "2024-05-02: [30.0]"
    assert done.stderr == ""
