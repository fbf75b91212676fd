#!/usr/bin/env bash
# Runs Floe's whole test suite on a fresh machine: installs the Python tools the
# tests use as other engines (PyIceberg, DuckDB + its iceberg extension, moto)
# into ./.venv, then builds and runs every Rust test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The target dir lives outside the clone so repeated runs (and fresh clones) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe/target}"

echo "==> Python test tools (.venv)" >&2
FLOE_PYTHON="$(bash scripts/python-env.sh | tail -n1)"
export FLOE_PYTHON

echo "==> Iceberg reader self-check (PyIceberg and DuckDB agree on a PyIceberg-written table, in SQLite and in Glue + S3 on moto)" >&2
"$FLOE_PYTHON" tests/py/test_read_iceberg.py
"$FLOE_PYTHON" tests/py/test_read_iceberg_glue.py

echo "==> deploy/ static checks (checkov, terraform fmt, test_deploy.py)" >&2
bash scripts/deploy-check.sh

echo "==> cargo build (the end-to-end tests start these binaries)" >&2
cargo build --workspace --bins --locked

echo "==> cargo test" >&2
cargo test --workspace --locked
