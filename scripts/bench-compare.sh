#!/usr/bin/env bash
# Floe's backfill of a generated month against the same job in DuckDB and in
# Polars, and against the CSV parse floor (DuckDB reading every column of the
# same files as text, nothing validated or written).
#
#   bash scripts/bench-compare.sh [--rows 10000000] [--rounds 3] [--workers 2]
#
# The same job means the same rules, the same rejects and the same valid rows:
# scripts/compare/duckdb_job.py and polars_job.py implement Floe's Silver job
# for examples/transactions.toml (every rule and type of the contract, records
# with a wrong number of fields or invalid UTF-8 quarantined, duplicates of
# transaction_id condemned with the first by file and line kept) and write
# Silver, quarantine and condemned rows as plain Parquet. Before any time is
# printed, each of the three is held to the ground truth the generator wrote
# next to the month (_ground_truth.json): for every day, the rows, valid, bad
# (quarantined) and duplicate (condemned) counts and the sum of the valid
# amounts must be equal (scripts/compare/check.py; Floe's figures are read
# back from its Iceberg tables by scripts/compare/floe_figures.py). A first,
# untimed pass runs each once and checks it; then rounds alternate Floe,
# DuckDB job, Polars job, parse floor, so all see the machine in the same
# state, and each round is checked again before its times are printed. Any
# difference stops the script with the first differing day and field.
#
# Floe's figure is `floe-bench-run --files-per-day 1 --no-gold` (a coordinator
# and worker processes on loopback, Silver, quarantine and condemned Iceberg
# tables), its wall time from submit (the client's start) to the run's end as
# the coordinator records it, and the peak RSS of its largest worker. The jobs' and the floor's are their own wall time and peak
# RSS (one process each). The month is generated once under $FLOE_BENCH_DIR
# (default $TMPDIR/floe-bench-compare), by the untimed Floe run, and reused.
# DuckDB comes from the test venv (scripts/python-env.sh); Polars is installed
# into it from scripts/requirements-bench.txt when missing or of another version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe/target}"

ROWS=10000000
ROUNDS=3
WORKERS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    *) echo "unknown flag $1; flags: --rows N --rounds N --workers N" >&2; exit 2 ;;
  esac
done
DIR="${FLOE_BENCH_DIR:-${TMPDIR:-/tmp}/floe-bench-compare}"
BIN="$CARGO_TARGET_DIR/release"
OUT="$DIR/compare"
BRONZE="$DIR/bronze"
TRUTH="$BRONZE/transactions/_ground_truth.json"

echo "==> building floe (release)" >&2
cargo build --release --locked --workspace --bins >&2
PY="$(bash scripts/python-env.sh | tail -1)"
polars_want="$(sed -n 's/^polars==//p' scripts/requirements-bench.txt)"
if [ "$("$PY" -c 'import polars; print(polars.__version__)' 2>/dev/null || true)" != "$polars_want" ]; then
  echo "==> installing polars $polars_want into the test venv" >&2
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install -q -r scripts/requirements-bench.txt </dev/null >&2
fi
rm -rf "$OUT"
mkdir -p "$OUT"

# field FILE KEY: a top-level number of a JSON object.
field() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# floe_run NAME: a Floe backfill, checked by floe-bench-run against the ground
# truth's totals; its per-day figures are read back from its tables into
# $OUT/NAME.json, with its wall time and largest worker's peak RSS.
floe_run() {
  local log="$OUT/$1.log"
  if ! "$BIN/floe-bench-run" --rows "$ROWS" --workers "$WORKERS" --files-per-day 1 \
        --no-gold --dir "$DIR" >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "floe-bench-run failed (log: $log)" >&2
    exit 1
  fi
  "$PY" scripts/compare/floe_figures.py "$DIR/run" >"$OUT/$1.figures.json"
  "$PY" - "$log" "$OUT/$1.figures.json" "$OUT/$1.json" <<'PY'
import json, re, sys
log = open(sys.argv[1]).read()
wall = float(re.search(r"wall time\s+([0-9.]+) s", log)[1])
rss = max(float(x) for x in re.findall(r"peak RSS\s+([0-9.]+) MiB", log))
figures = json.load(open(sys.argv[2]))
json.dump({"engine": "floe", "wall": wall, "peak_rss_mib": rss, "days": figures["days"]}, open(sys.argv[3], "w"))
PY
}

# job_run JOB NAME: scripts/compare/JOB_job.py over the month into $OUT/NAME.json.
job_run() {
  "$PY" "scripts/compare/$1_job.py" "$BRONZE" "$OUT/$1-out" >"$OUT/$2.json"
}

floor_run() {
  "$PY" scripts/compare/parse_floor.py "$BRONZE" >"$OUT/$1.json"
}

# check NAME...: each $OUT/NAME.json against the ground truth, per day.
check() {
  local args=()
  for name in "$@"; do args+=("${name%%-*}" "$OUT/$name.json"); done
  if ! "$PY" scripts/compare/check.py "$TRUTH" "${args[@]}" >"$OUT/check.txt"; then
    cat "$OUT/check.txt"
    echo "no times printed: the jobs do not produce the ground truth's figures" >&2
    exit 1
  fi
}

echo "==> correctness pass (untimed): Floe, DuckDB job, Polars job against the ground truth" >&2
floe_run floe-check
job_run duckdb duckdb-check
job_run polars polars-check
check floe-check duckdb-check polars-check
sed 's/^/  /' "$OUT/check.txt"

for round in $(seq 1 "$ROUNDS"); do
  echo "==> round $round of $ROUNDS" >&2
  floe_run "floe-r$round"
  job_run duckdb "duckdb-r$round"
  job_run polars "polars-r$round"
  floor_run "floor-r$round"
  check "floe-r$round" "duckdb-r$round" "polars-r$round"
  printf 'round %s: floe %.2f s, duckdb job %.2f s, polars job %.2f s, parse floor %.2f s\n' "$round" \
    "$(field "$OUT/floe-r$round.json" wall)" "$(field "$OUT/duckdb-r$round.json" wall)" \
    "$(field "$OUT/polars-r$round.json" wall)" "$(field "$OUT/floor-r$round.json" wall)"
done

"$PY" - "$OUT" "$ROUNDS" "$ROWS" "$WORKERS" <<'PY'
import json, statistics, sys
out, rounds, rows, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def med(name, key):
    values = [json.load(open(f"{out}/{name}-r{r}.json")).get(key) for r in range(1, rounds + 1)]
    return statistics.median(values) if None not in values else None
jobs = [
    ("floe", "Floe backfill (coordinator + workers, Iceberg tables)", "largest worker"),
    ("duckdb", "DuckDB job (same rules, plain Parquet)", "process"),
    ("polars", "Polars job (same rules, plain Parquet)", "process"),
    ("floor", "DuckDB parse floor (every column as text)", "process"),
]
m = {name: (med(name, "wall"), med(name, "peak_rss_mib"), med(name, "cpu")) for name, _, _ in jobs}
print(f"rows {rows}, {workers} workers, {rounds} rounds (medians); every run's per-day figures equal the ground truth")
print(f"  {'':<54}{'wall':>9}{'CPU':>9}{'peak RSS':>11}")
for name, label, rss_of in jobs:
    wall, rss, cpu = m[name]
    cpu_text = f"{cpu:.1f} s" if cpu is not None else "-"
    print(f"  {label:<54}{wall:>7.2f} s{cpu_text:>9}{rss:>7.0f} MiB ({rss_of})")
ratios = [
    ("Floe / parse floor", m["floe"][0] / m["floor"][0]),
    ("DuckDB job / parse floor", m["duckdb"][0] / m["floor"][0]),
    ("Polars job / parse floor", m["polars"][0] / m["floor"][0]),
    ("DuckDB job / Floe", m["duckdb"][0] / m["floe"][0]),
    ("Polars job / Floe", m["polars"][0] / m["floe"][0]),
]
for label, ratio in ratios:
    print(f"  {label:<54}{ratio:>7.2f}x")
PY
