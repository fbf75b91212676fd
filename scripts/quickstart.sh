#!/usr/bin/env bash
# Floe on the embedded default: generates a month of sample Bronze transactions,
# loads it with a backfill into Iceberg tables (local warehouse + SQLite catalog),
# and prints the accounting and an answer read back from the Silver table.
# The lakehouse stays in ./lakehouse; run it again to see the backfill replace, not append.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/floe/target}"
ROWS="${FLOE_QUICKSTART_ROWS:-1000000}"

echo "==> building floe (release; the first build takes a while)" >&2
cargo build --release --locked -p floe-coordinator >&2
FLOE="$CARGO_TARGET_DIR/release/floe-coordinator"

if [ ! -f lakehouse/bronze/transactions/_ground_truth.json ]; then
  echo "==> generating $ROWS rows of sample Bronze data" >&2
  "$FLOE" generate --out lakehouse/bronze --rows "$ROWS" --month 2025-01
fi

echo "==> backfill 2025-01" >&2
"$FLOE" run --pipeline examples/transactions.toml --bronze lakehouse/bronze \
  --lakehouse lakehouse --backfill 2025-01 --parallel 2

cat <<'TXT'

The tables are in ./lakehouse (warehouse/ + catalog.db). Query them with PyIceberg:
  python3 -c "from pyiceberg.catalog.sql import SqlCatalog; \
    t = SqlCatalog('floe', uri='sqlite:///lakehouse/catalog.db', warehouse='file://lakehouse/warehouse').load_table('silver.transactions'); \
    print(t.scan().to_arrow().num_rows)"
or with DuckDB (see README, "Reading the tables with other engines").
TXT
