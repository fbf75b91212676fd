"""Per-day figures of a Floe run, read back from its Iceberg tables with DuckDB,
in the shape the comparison jobs print, so check.py can hold all three to the
same ground truth.

    python floe_figures.py RUN_DIR [--contract PATH]

RUN_DIR is a lakehouse as floe-bench-run leaves it (catalog.db, warehouse/).
The day is the Bronze file's: Silver rows by their _floe_source_file,
quarantined and condemned rows by their source_partition (the task's day).
Prints one JSON object: {"engine": "floe", "days": {"YYYY-MM-DD": {"rows",
"valid", "bad", "duplicates", "sum_amount_valid_cents"}}}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "py"))
import contract as ct  # noqa: E402
import read_iceberg as ri  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--contract", default=ct.default_contract_path())
    args = ap.parse_args()
    import tomllib

    with open(args.contract, "rb") as f:
        target = tomllib.load(f)["target"]
    contract = ct.load(args.contract)
    con = ri.duckdb_connect(None)
    con.execute("SET enable_progress_bar = false")

    def scan(table: str) -> str:
        location = ri.uri_to_path(ri.catalog_metadata_location(args.run_dir / "catalog.db", "floe", table))
        return f"iceberg_scan({ri.qstr(location)})"

    days: dict[str, dict] = {}

    def day(d) -> dict:
        return days.setdefault(
            str(d), {"rows": 0, "valid": 0, "bad": 0, "duplicates": 0, "sum_amount_valid_cents": 0}
        )

    silver = con.execute(
        f"""SELECT regexp_extract(_floe_source_file, {ri.qstr(contract.day_pattern)}, 1), count(*),
                   CAST(coalesce(sum(amount), 0) * 100 AS HUGEINT)
            FROM {scan(target['table'])} GROUP BY 1"""
    ).fetchall()
    for d, n, cents in silver:
        f = day(d)
        f["valid"] += n
        f["rows"] += n
        f["sum_amount_valid_cents"] += int(cents)
    for table, field in ((target["quarantine_table"], "bad"), (target["condemned_table"], "duplicates")):
        for d, n in con.execute(f"SELECT source_partition, count(*) FROM {scan(table)} GROUP BY 1").fetchall():
            f = day(d)
            f[field] += n
            f["rows"] += n
    print(json.dumps({"engine": "floe", "days": dict(sorted(days.items()))}))


if __name__ == "__main__":
    main()
