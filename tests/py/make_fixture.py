#!/usr/bin/env python3
"""Build a small Iceberg v2 table with PyIceberg itself, to self-test read_iceberg.py.

    make_fixture.py --dir DIR [--catalog-name floe] [--table ns.events]

Creates DIR/catalog.db (PyIceberg SqlCatalog on SQLite: the same `iceberg_tables`
schema iceberg-catalog-sql uses) and DIR/warehouse/, with a table

    id long (required), ts timestamptz, amount decimal(12,2)   partitioned by day(ts)

written by two appends (so two snapshots). Prints one JSON object on stdout with what a
correct reader must see: paths, snapshot ids and the expected rows/sum/per_day for the
current snapshot and for the first snapshot.

This is a fixture for checking the reader only; Floe's own tables are written by Rust.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path


def _utc(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(timezone.utc)


# Rows chosen to exercise: several days, a row at 23:59:59.999999 UTC (a local-time reader
# would put it on the next day), a row at exactly midnight, a negative amount, the
# largest decimal(12,2) value, and a NULL amount (counted in rows, ignored by sums).
BATCH_1 = [
    (1, _utc("2024-03-01T00:00:00+00:00"), Decimal("10.25")),
    (2, _utc("2024-03-01T12:34:56.123456+00:00"), Decimal("-3.10")),
    (3, _utc("2024-03-01T23:59:59.999999+00:00"), Decimal("9999999999.99")),
    (4, _utc("2024-03-02T01:00:00+02:00"), Decimal("0.01")),  # = 2024-03-01T23:00Z
    (5, _utc("2024-03-02T08:00:00+00:00"), Decimal("100.00")),
]
BATCH_2 = [
    (6, _utc("2024-03-02T09:00:00+00:00"), Decimal("1.11")),
    (7, _utc("2024-03-03T00:00:00.000001+00:00"), None),
    (8, _utc("2024-03-03T18:00:00-05:00"), Decimal("12345.67")),  # = 2024-03-03T23:00Z
    (9, _utc("2024-03-04T00:00:00+00:00"), Decimal("-0.99")),
]


def expected(rows):
    total = None
    per_day: dict[str, dict] = defaultdict(lambda: {"rows": 0, "sum": None})
    for _id, ts, amount in rows:
        day = ts.astimezone(timezone.utc).date().isoformat()
        per_day[day]["rows"] += 1
        if amount is not None:
            total = amount if total is None else total + amount
            s = per_day[day]["sum"]
            per_day[day]["sum"] = amount if s is None else s + amount
    fmt = lambda d: None if d is None else format(d, "f")  # noqa: E731
    return {
        "rows": len(rows),
        "sum": fmt(total),
        "per_day": {k: {"rows": v["rows"], "sum": fmt(v["sum"])} for k, v in sorted(per_day.items())},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="output folder (created; must not already hold a catalog.db)")
    ap.add_argument("--catalog-name", default="floe")
    ap.add_argument("--table", default="ns.events")
    args = ap.parse_args()

    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform
    from pyiceberg.types import DecimalType, LongType, NestedField, TimestamptzType

    out = Path(args.dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = out / "catalog.db"
    if db.exists():
        print(f"make_fixture: {db} already exists", file=sys.stderr)
        return 1
    warehouse = out / "warehouse"
    warehouse.mkdir(exist_ok=True)

    catalog = SqlCatalog(args.catalog_name, uri=f"sqlite:///{db}", warehouse=warehouse.as_uri())
    namespace, _, _name = args.table.rpartition(".")
    catalog.create_namespace(namespace)

    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "ts", TimestamptzType(), required=False),
        NestedField(3, "amount", DecimalType(12, 2), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"))
    table = catalog.create_table(args.table, schema=schema, partition_spec=spec,
                                 properties={"format-version": "2"})

    arrow_schema = pa.schema([
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("amount", pa.decimal128(12, 2)),
    ])

    def to_arrow(rows):
        return pa.Table.from_pylist([{"id": i, "ts": t, "amount": a} for i, t, a in rows], schema=arrow_schema)

    table.append(to_arrow(BATCH_1))
    table.append(to_arrow(BATCH_2))
    table = catalog.load_table(args.table)
    snaps = sorted(table.metadata.snapshots, key=lambda s: (s.sequence_number or 0, s.timestamp_ms))

    result = {
        "catalog_db": str(db),
        "catalog_name": args.catalog_name,
        "warehouse": str(warehouse),
        "table": args.table,
        "metadata_location": table.metadata_location,
        "format_version": table.metadata.format_version,
        "snapshot_ids": [s.snapshot_id for s in snaps],
        "current_snapshot_id": table.metadata.current_snapshot_id,
        "expected_current": expected(BATCH_1 + BATCH_2),
        "expected_first": expected(BATCH_1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
