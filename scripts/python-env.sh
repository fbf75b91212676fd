#!/usr/bin/env bash
# Creates/updates the Python virtualenv used by Floe's cross-engine tests.
#
#   bash scripts/python-env.sh        # last line of stdout = path of the venv's python
#
# - venv at <repo>/.venv (git-ignored), made with `python3 -m venv`
#   (override the base interpreter with FLOE_PYTHON=/path/to/python3).
# - installs the pinned scripts/requirements-test.txt only when that file (or the
#   venv's Python version) changed since the last successful install; a stamp file
#   inside .venv records the hash.
# - idempotent, safe under `set -euo pipefail`, CI=true, no stdin; concurrent runs
#   are serialised with flock when available. All progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/scripts/requirements-test.txt"
STAMP="$VENV/.floe-requirements.sha256"
BASE_PY="${FLOE_PYTHON:-python3}"

log() { echo "[python-env] $*" >&2; }

[ -f "$REQ" ] || { log "missing $REQ"; exit 1; }
command -v "$BASE_PY" >/dev/null 2>&1 || { log "no '$BASE_PY' on PATH"; exit 1; }

mkdir -p "$VENV"
# Serialise concurrent callers (e.g. parallel cargo tests).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV/.floe-lock"
  flock 9
fi

VPY="$VENV/bin/python"
if [ ! -x "$VPY" ] || ! "$VPY" -c 'import sys' >/dev/null 2>&1; then
  log "creating venv at $VENV"
  # Keep the lock file, drop anything else that is left of a broken venv.
  find "$VENV" -mindepth 1 -maxdepth 1 ! -name .floe-lock -exec rm -rf {} +
  "$BASE_PY" -m venv "$VENV" >&2
fi

want="$( { cat "$REQ"; "$VPY" -c 'import sys, platform; print(sys.version, platform.machine())'; } \
         | sha256sum | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"

if [ "$want" != "$have" ]; then
  log "installing $(basename "$REQ") into $VENV"
  rm -f "$STAMP"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
  "$VPY" -m pip install --quiet -r "$REQ" </dev/null >&2
  # Sanity check: every package imports and the DuckDB extension files exist.
  "$VPY" - <<'PY' >&2
import importlib, pathlib
import duckdb, pyarrow, pyiceberg, sqlalchemy, moto  # noqa: F401
from pyiceberg.catalog.sql import SqlCatalog  # noqa: F401
for name in ("avro", "iceberg", "httpfs"):
    mod = importlib.import_module(f"duckdb_extension_{name}")
    f = pathlib.Path(mod.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    assert f.is_file(), f"missing {f} (duckdb {duckdb.__version__} vs extension wheel mismatch?)"
print(f"duckdb {duckdb.__version__}, pyiceberg {pyiceberg.__version__}, pyarrow {pyarrow.__version__}")
PY
  echo "$want" >"$STAMP"
else
  log "up to date: $VENV"
fi

echo "$VPY"
