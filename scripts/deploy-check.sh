#!/usr/bin/env bash
# Static checks of deploy/ (Dockerfile, Terraform module), no cloud account needed:
#
#   bash scripts/deploy-check.sh
#
# - venvs under <repo>/.venv-deploy (git-ignored), apart from the test venv .venv
#   because checkov pins many packages: .venv-deploy/checkov (checkov) and
#   .venv-deploy/hcl2 (python-hcl2, for tests/py/test_deploy.py); the two cannot be
#   one venv since checkov's bc-python-hcl2 and python-hcl2 both install `hcl2`.
#   Pins: deploy/requirements-deploy.txt, one section per venv. Each venv is
#   (re)installed only when its section (or the Python version) changed: a stamp
#   file inside it records the sha256, as in scripts/python-env.sh.
# - checkov on deploy/ (terraform + dockerfile); any failed check fails the script.
#   Deliberate skips are inline `#checkov:skip=CKV_...:reason` comments next to the
#   resource; no --skip-check.
# - `terraform fmt -check` when a terraform binary is on PATH (offline; no init,
#   no providers).
# - tests/py/test_deploy.py: Floe-specific assertions on the parsed HCL.
# Idempotent, safe under `set -euo pipefail`, CI=true, no stdin; concurrent runs are
# serialised with flock when available. Progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/.venv-deploy"
REQ="$ROOT/deploy/requirements-deploy.txt"
# Base interpreter of the venvs (not FLOE_PYTHON: scripts/test.sh sets that to .venv's python).
BASE_PY="${FLOE_DEPLOY_PYTHON:-python3}"

log() { echo "[deploy-check] $*" >&2; }

[ -f "$REQ" ] || { log "missing $REQ"; exit 1; }
command -v "$BASE_PY" >/dev/null 2>&1 || { log "no '$BASE_PY' on PATH"; exit 1; }

mkdir -p "$BASE"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$BASE/.floe-lock"
  flock 9
fi

# section NAME: the requirement lines of `# [NAME]` in $REQ.
section() {
  awk -v want="# [$1]" '
    /^# \[[a-z0-9-]+\]$/ { on = ($0 == want); next }
    on && NF && $1 !~ /^#/ { print }
  ' "$REQ"
}

# ensure_venv NAME: .venv-deploy/NAME with section NAME installed; prints its python.
ensure_venv() {
  local name="$1" venv="$BASE/$1" reqs want have
  reqs="$(section "$name")"
  [ -n "$reqs" ] || { log "no [$name] section in $REQ"; exit 1; }
  local vpy="$venv/bin/python" stamp="$venv/.floe-requirements.sha256"
  if [ ! -x "$vpy" ] || ! "$vpy" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv at $venv"
    rm -rf "$venv"
    "$BASE_PY" -m venv "$venv" >&2
  fi
  want="$( { echo "$reqs"; "$vpy" -c 'import sys, platform; print(sys.version, platform.machine())'; } \
           | sha256sum | cut -d' ' -f1)"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [ "$want" != "$have" ]; then
    log "installing [$name] into $venv"
    rm -f "$stamp"
    local tmp
    tmp="$(mktemp)"
    echo "$reqs" >"$tmp"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off \
      "$vpy" -m pip install --quiet -r "$tmp" </dev/null >&2
    rm -f "$tmp"
    echo "$want" >"$stamp"
  else
    log "up to date: $venv"
  fi
  echo "$vpy"
}

CHECKOV_PY="$(ensure_venv checkov)"
HCL2_PY="$(ensure_venv hcl2)"
"$CHECKOV_PY" -c 'import checkov.version as v; print("checkov", v.version)' >&2
"$HCL2_PY" -c 'import hcl2; assert hcl2.__version__.startswith("8."), hcl2.__version__; print("python-hcl2", hcl2.__version__)' >&2

cd "$ROOT"

# No update check and no Prisma Cloud download: the run stays offline.
log "checkov -d deploy --framework terraform,dockerfile"
CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE \
  "$(dirname "$CHECKOV_PY")/checkov" -d deploy --framework terraform,dockerfile \
  --quiet --compact --skip-download </dev/null
log "checkov: no failed check"

if command -v terraform >/dev/null 2>&1; then
  log "terraform fmt -check -recursive deploy/terraform"
  if ! terraform fmt -check -diff -recursive deploy/terraform </dev/null 2>/dev/null; then
    log "deploy/terraform is not formatted: run terraform fmt -recursive deploy/terraform"
    exit 1
  fi
else
  log "terraform not on PATH: skipping terraform fmt -check"
fi

"$HCL2_PY" "$ROOT/tests/py/test_deploy.py"
