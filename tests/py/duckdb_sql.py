#!/usr/bin/env python3
"""Run one SQL query with DuckDB over Iceberg tables of a SQLite Iceberg catalog, print JSON.

Usage:
  duckdb_sql.py --catalog-db PATH/catalog.db [--catalog-name floe] --table ns.name [--table ...]
                --sql "SELECT ... FROM ns.name ..."

Each --table is read at its current snapshot with iceberg_scan and exposed as the view
ns.name, so the SQL names tables the way Floe does. Prints one JSON array of row objects;
decimals and other non-JSON numbers are printed as plain strings, dates as YYYY-MM-DD.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import read_iceberg as ri  # noqa: E402


def plain(v):
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return v


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--catalog-db", type=Path, required=True)
    p.add_argument("--catalog-name", default="floe")
    p.add_argument("--table", action="append", required=True)
    p.add_argument("--sql", required=True)
    args = p.parse_args()
    con = ri.duckdb_connect(None)
    for table in args.table:
        namespace, name = ri.split_identifier(table)
        location = ri.uri_to_path(ri.catalog_metadata_location(args.catalog_db, args.catalog_name, table))
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ri.qident(namespace)}")
        con.execute(
            f"CREATE VIEW {ri.qident(namespace)}.{ri.qident(name)} AS "
            f"SELECT * FROM iceberg_scan({ri.qstr(location)})"
        )
    cur = con.execute(args.sql)
    columns = [d[0] for d in cur.description]
    rows = [{c: plain(v) for c, v in zip(columns, r)} for r in cur.fetchall()]
    json.dump(rows, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
