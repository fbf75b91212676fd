"""The CSV parse floor: DuckDB reading every column of every Bronze file as
text and reducing each, so each value is parsed and materialised; nothing is
validated or written, and records DuckDB cannot read are skipped, not counted.

    python parse_floor.py BRONZE [--contract PATH]

Prints one JSON object: {"engine", "files", "wall", "cpu", "peak_rss_mib"}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract as ct  # noqa: E402

import duckdb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bronze")
    ap.add_argument("--contract", default=ct.default_contract_path())
    args = ap.parse_args()
    files = ct.load(args.contract).files(args.bronze)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    cpu0 = time.process_time()
    con.execute(
        "SELECT count(*), max(COLUMNS(*)) FROM read_csv(?, header = true, all_varchar = true, "
        "ignore_errors = true, strict_mode = false)",
        [files],
    ).fetchall()
    print(json.dumps({
        "engine": f"duckdb {duckdb.__version__}",
        "files": len(files),
        "wall": round(time.perf_counter() - started, 3),
        "cpu": round(time.process_time() - cpu0, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }))


if __name__ == "__main__":
    main()
