#!/usr/bin/env bash
# Floe on the embedded default, end to end: generates a month of sample Bronze
# transactions, starts a coordinator and two workers on loopback, registers the
# example contract (`pipeline apply`), runs `submit --backfill 2025-01` with a
# progress bar, prints the run's summary and revenue
# per day read back from the Silver table and answers from the Gold tables
# (SQL models rebuilt per day by the same run), then stops the processes.
# The lakehouse stays in ./lakehouse; run it again to see the backfill replace, not append.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe/target}"
ROWS="${FLOE_QUICKSTART_ROWS:-1000000}"
LAKE=lakehouse

echo "==> building floe (release; the first build takes a while)" >&2
cargo build --release --locked -p floe-coordinator -p floe-worker >&2
BIN="$CARGO_TARGET_DIR/release"

if [ ! -f "$LAKE/bronze/transactions/_ground_truth.json" ]; then
  echo "==> generating $ROWS rows of sample Bronze data" >&2
  "$BIN/floe-coordinator" generate --out "$LAKE/bronze" --rows "$ROWS" --month 2025-01
fi

mkdir -p "$LAKE/logs"
# Every gRPC call carries a token of its role: the operator's (the CLI) or the
# workers' (lease, report); the coordinator accepts both, each worker gets only its own.
random_hex() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
OPERATOR_TOKEN="${FLOE_AUTH_TOKEN:-$(random_hex)}"
WORKER_TOKEN="${FLOE_WORKER_TOKEN:-$(random_hex)}"
unset FLOE_AUTH_TOKEN FLOE_WORKER_TOKEN
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

echo "==> starting the coordinator and two workers (logs in $LAKE/logs)" >&2
FLOE_AUTH_TOKEN="$OPERATOR_TOKEN" FLOE_WORKER_TOKEN="$WORKER_TOKEN" \
  "$BIN/floe-coordinator" serve --listen 127.0.0.1:0 --state-dir "$LAKE/coordinator" \
  --bronze "$LAKE/bronze" >"$LAKE/logs/coordinator.out" 2>"$LAKE/logs/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do
  grep -q '^listening on ' "$LAKE/logs/coordinator.out" 2>/dev/null && break
  sleep 0.1
done
ADDR="http://$(sed -n 's/^listening on //p' "$LAKE/logs/coordinator.out")"
for i in 1 2; do
  FLOE_WORKER_TOKEN="$WORKER_TOKEN" "$BIN/floe-worker" --coordinator "$ADDR" --lakehouse "$LAKE" --worker-id "worker-$i" \
    2>"$LAKE/logs/worker-$i.log" &
  pids+=($!)
done

export FLOE_COORDINATOR="$ADDR"
echo "==> pipeline apply examples/transactions.toml" >&2
FLOE_AUTH_TOKEN="$OPERATOR_TOKEN" "$BIN/floe-coordinator" pipeline apply examples/transactions.toml

echo "==> floe-coordinator submit --backfill 2025-01 --wait" >&2
FLOE_AUTH_TOKEN="$OPERATOR_TOKEN" "$BIN/floe-coordinator" submit --backfill 2025-01 --wait

echo
echo "==> revenue per day, read back from the Silver table" >&2
"$BIN/floe-coordinator" summarize --lakehouse "$LAKE" --table silver.transactions --day-of ts --sum amount

echo
echo "==> Gold: settled revenue per currency over the month, from gold.daily_currency_totals" >&2
"$BIN/floe-coordinator" sql --lakehouse "$LAKE" \
  "SELECT currency, SUM(transactions) AS transactions, SUM(revenue) AS revenue, MAX(merchants) AS max_merchants_per_day
   FROM gold.daily_currency_totals GROUP BY currency ORDER BY revenue DESC"
echo
echo "==> Gold: the five biggest merchant days, from gold.daily_revenue" >&2
"$BIN/floe-coordinator" sql --lakehouse "$LAKE" \
  "SELECT day, merchant_id, SUM(revenue) AS revenue FROM gold.daily_revenue
   GROUP BY day, merchant_id ORDER BY revenue DESC, day, merchant_id LIMIT 5"

cat <<'TXT'

The tables are in ./lakehouse (warehouse/ + catalog.db). Query them with PyIceberg:
  python3 -c "from pyiceberg.catalog.sql import SqlCatalog; \
    t = SqlCatalog('floe', uri='sqlite:///lakehouse/catalog.db', warehouse='file://lakehouse/warehouse').load_table('silver.transactions'); \
    print(t.scan().to_arrow().num_rows)"
or with DuckDB (see README, "Reading the tables with other engines"), or with Floe itself:
  floe-coordinator sql --lakehouse lakehouse "SELECT * FROM gold.daily_revenue LIMIT 10"
TXT
