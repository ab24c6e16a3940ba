#!/usr/bin/env bash
# The whole test suite, from a fresh clone: creates .venv when it is missing,
# installs floe with its dev extra, runs every test with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FLOE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
if ! "$VENV/bin/python" -c "import floe, pytest, hypothesis, xdist, click, rich, duckdb, duckdb_extension_iceberg, duckdb_extension_avro, duckdb_extension_httpfs, ray.data" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
fi
exec "$VENV/bin/python" -m pytest -n 2 --cov=floe --cov-report=term --cov-fail-under=85 "$@"
