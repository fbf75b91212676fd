"""Compares a job's per-day figures with the generated ground truth.

    python check.py GROUND_TRUTH.json NAME FIGURES.json [NAME FIGURES.json ...]

Each FIGURES.json holds one JSON object with "days": {"YYYY-MM-DD": {...}} (what
duckdb_job.py, polars_job.py and floe_figures.py print). For every day of the
ground truth, and every day a job reports, the fields rows, valid, bad,
duplicates and sum_amount_valid_cents must be equal. Prints one line per job;
on the first difference prints the job, day and field with both values and
exits 1.
"""

from __future__ import annotations

import json
import sys

FIELDS = ("rows", "valid", "bad", "duplicates", "sum_amount_valid_cents")


def first_difference(truth: dict, days: dict) -> str | None:
    for day in sorted(set(truth) | set(days)):
        want = truth.get(day)
        got = days.get(day)
        if want is None:
            return f"day {day}: not in the ground truth, but the job reports {got}"
        if got is None:
            return f"day {day}: missing (ground truth {[(f, want[f]) for f in FIELDS]})"
        for f in FIELDS:
            if int(got.get(f, -1)) != int(want[f]):
                return f"day {day}, {f}: ground truth {want[f]}, job {got.get(f)}"
    return None


def main() -> int:
    if len(sys.argv) < 4 or len(sys.argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        truth = json.load(f)["days"]
    failed = False
    for name, path in zip(sys.argv[2::2], sys.argv[3::2]):
        with open(path) as f:
            days = json.load(f)["days"]
        diff = first_difference(truth, days)
        if diff:
            print(f"MISMATCH {name}: {diff}")
            failed = True
            break
        rows = sum(d["rows"] for d in days.values())
        print(f"{name}: {len(days)} days, {rows} rows, per-day rows, valid, bad, duplicates and "
              "valid amount sum equal to the ground truth")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
