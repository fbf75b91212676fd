#!/usr/bin/env bash
# Floe's backfill of a generated month against the CSV parse floor: DuckDB
# reading every column of the same files as text, nothing validated or written.
# Rounds alternate the two (Floe, floor, Floe, floor, ...) so that both see the
# machine in the same state; it prints each round, the medians and the ratio.
#
#   bash scripts/bench-compare.sh [--rows 10000000] [--rounds 3] [--workers 2]
#
# Floe's figure is `floe-bench-run --files-per-day 1 --no-gold` (a coordinator
# and worker processes, Silver, quarantine and condemned, checked against the
# generated ground truth), its wall time from submit to the run's end. The
# month is generated once under $FLOE_BENCH_DIR (default $TMPDIR/floe-bench-compare)
# and reused. DuckDB comes from the test venv (scripts/python-env.sh).
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

echo "==> building floe (release)" >&2
cargo build --release --locked --workspace --bins >&2
PY="$(bash scripts/python-env.sh | tail -1)"

floe_round() {
  local out
  out="$("$BIN/floe-bench-run" --rows "$ROWS" --workers "$WORKERS" --files-per-day 1 \
          --no-gold --dir "$DIR")"
  echo "$out" >&2
  echo "$out" | awk '/wall time/ { print $3 }'
}

# Every column of every file read as text and reduced, so each value is parsed
# and materialised; rows DuckDB cannot read are skipped, not counted.
floor_round() {
  "$PY" - "$DIR/bronze" <<'PY'
import glob, resource, sys, time
import duckdb
files = sorted(glob.glob(f"{sys.argv[1]}/transactions/date=*/*.csv"))
if not files:
    sys.exit(f"no CSV files under {sys.argv[1]}")
con = duckdb.connect()
started = time.perf_counter()
con.execute(
    "SELECT count(*), max(COLUMNS(*)) FROM read_csv(?, header = true, all_varchar = true, "
    "ignore_errors = true, strict_mode = false)",
    [files],
).fetchall()
wall = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"duckdb parse floor: {len(files)} files, {wall:.2f} s, peak RSS {rss:.0f} MiB", file=sys.stderr)
print(f"{wall:.3f}")
PY
}

median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.2f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

floe_times=()
floor_times=()
for round in $(seq 1 "$ROUNDS"); do
  echo "==> round $round of $ROUNDS" >&2
  floe_times+=("$(floe_round)")
  floor_times+=("$(floor_round)")
  echo "round $round: floe ${floe_times[-1]} s, parse floor ${floor_times[-1]} s"
done
floe_median="$(printf '%s\n' "${floe_times[@]}" | median)"
floor_median="$(printf '%s\n' "${floor_times[@]}" | median)"
echo "rows $ROWS, $WORKERS workers, $ROUNDS rounds (medians)"
echo "  floe backfill (Silver, quarantine, condemned)  $floe_median s"
echo "  duckdb parse floor                             $floor_median s"
awk -v a="$floe_median" -v b="$floor_median" 'BEGIN { printf "  floe / floor                                   %.2fx\n", a / b }'
