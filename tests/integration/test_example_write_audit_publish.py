"""The write-audit-publish example runs as written, in memory and against the REST catalog."""

from __future__ import annotations

import os
import subprocess  # nosec B404 - runs this interpreter on the project's example
import sys
import uuid
from pathlib import Path

from tests.integration.seaweed import SeaweedServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "write_audit_publish.py"

EXPECTED = [
    "batch-1: main has 2 rows, the branch 4",
    "batch-1: published (fast-forward), main has 4 rows",
    "batch-2: main has 4 rows, the branch 6",
    "batch-2: refused (1 order(s) without an amount; negative amounts), main unchanged",
    "main: orders [1, 2, 3, 4]",
    "rolled back to tag before-batches: orders [1, 2]",
]


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        [sys.executable, "-W", "error::UserWarning", str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOE_CATALOG_")}


def test_the_example_publishes_the_good_batch_and_refuses_the_bad_one_in_memory() -> None:
    done = _run(_clean_env())

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED
    assert done.stderr == ""


def test_the_example_runs_against_the_rest_catalog(seaweed: SeaweedServer) -> None:
    env = _clean_env()
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
            "FLOE_EXAMPLE_NAMESPACE": f"wap_{uuid.uuid4().hex[:8]}",
        }
    )

    done = _run(env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED
    assert done.stderr == ""
