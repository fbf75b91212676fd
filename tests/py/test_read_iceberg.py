#!/usr/bin/env python3
"""Self-check for tests/py/read_iceberg.py (no pytest needed).

    PY="$(bash scripts/python-env.sh | tail -n1)"
    "$PY" tests/py/test_read_iceberg.py

Builds a PyIceberg-written fixture (make_fixture.py: two appends, day(ts)-partitioned,
timestamptz + decimal(12,2)) in a temp dir, reads it with both engines and checks that
each matches the expected values and that the engines agree. Ends with the line
"N passed, M failed"; exit code 0 only when nothing failed.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
READER = HERE / "read_iceberg.py"
FIXTURE = HERE / "make_fixture.py"
ENGINES = ("pyiceberg", "duckdb")

passed = 0
failed = 0


def check(name: str, fn) -> None:
    global passed, failed
    try:
        fn()
    except Exception:  # noqa: BLE001 - report and go on
        failed += 1
        print(f"FAIL {name}")
        traceback.print_exc(limit=3)
    else:
        passed += 1
        print(f"ok   {name}")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=300)


def read(fx: dict, engine: str, *extra: str) -> dict:
    p = run(str(READER), "--engine", engine, "--catalog-db", fx["catalog_db"],
            "--catalog-name", fx["catalog_name"], "--warehouse", fx["warehouse"], "--table", fx["table"], *extra)
    assert p.returncode == 0, f"{engine} exit {p.returncode}: {p.stderr}"
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one JSON line, got {p.stdout!r}"
    return json.loads(lines[0])


def sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="floe-read-iceberg-") as tmp:
        p = run(str(FIXTURE), "--dir", str(Path(tmp) / "fx"))
        if p.returncode != 0:
            print(p.stdout, p.stderr, sep="\n")
            print("0 passed, 1 failed")
            return 1
        fx = json.loads(p.stdout)
        first, current = fx["snapshot_ids"]
        db_hash = sha(fx["catalog_db"])

        full = {}     # engine -> current snapshot, sum + per_day
        at_first = {}  # engine -> --snapshot-id first
        plain = {}    # engine -> no options

        for engine in ENGINES:
            def t_full(engine=engine):
                full[engine] = r = read(fx, engine, "--group-by-day-of", "ts", "--sum", "amount")
                exp = fx["expected_current"]
                assert r["engine"] == engine
                assert r["rows"] == exp["rows"], (r["rows"], exp["rows"])
                assert r["sum"] == exp["sum"], (r["sum"], exp["sum"])
                assert r["per_day"] == exp["per_day"], (r["per_day"], exp["per_day"])
                assert r["current_snapshot_id"] == current == fx["current_snapshot_id"]
                assert r["snapshot_id"] == current
                assert r["format_version"] == 2
                assert r["metadata_location"] == fx["metadata_location"]
            check(f"{engine}: current snapshot rows/sum/per_day", t_full)

            def t_snaps(engine=engine):
                r = full[engine]
                ids = [s["snapshot_id"] for s in r["snapshots"]]
                assert ids == [first, current], ids
                s1, s2 = r["snapshots"]
                assert s1["parent_id"] is None and s2["parent_id"] == first, (s1["parent_id"], s2["parent_id"])
                assert s1["operation"] == s2["operation"] == "append"
                assert s1["summary"]["operation"] == "append"
                assert s1["summary"]["added-records"] == "5" and s2["summary"]["total-records"] == "9", r["snapshots"]
                assert s1["sequence_number"] == 1 and s2["sequence_number"] == 2
                assert s1["timestamp_ms"] <= s2["timestamp_ms"]
            check(f"{engine}: snapshot history oldest first with summaries", t_snaps)

            def t_first(engine=engine):
                at_first[engine] = r = read(fx, engine, "--snapshot-id", str(first),
                                            "--group-by-day-of", "ts", "--sum", "amount")
                exp = fx["expected_first"]
                assert r["snapshot_id"] == first
                assert (r["rows"], r["sum"], r["per_day"]) == (exp["rows"], exp["sum"], exp["per_day"]), r
                assert r["current_snapshot_id"] == current  # time travel does not change "current"
            check(f"{engine}: --snapshot-id reads the first snapshot", t_first)

            def t_plain(engine=engine):
                plain[engine] = r = read(fx, engine)
                assert r["rows"] == fx["expected_current"]["rows"]
                assert "sum" not in r and "per_day" not in r, r
                r2 = read(fx, engine, "--group-by-day-of", "ts")
                assert {k: v["rows"] for k, v in r2["per_day"].items()} == \
                    {k: v["rows"] for k, v in fx["expected_current"]["per_day"].items()}
                assert all(set(v) == {"rows"} for v in r2["per_day"].values()), r2["per_day"]
            check(f"{engine}: without --sum / --group-by-day-of", t_plain)

            def t_errors(engine=engine):
                bad = dict(fx, table=fx["table"].split(".")[0] + ".no_such_table")
                for f, extra in ((bad, ()), (fx, ("--snapshot-id", "12345")), (fx, ("--sum", "no_such_col"))):
                    p = run(str(READER), "--engine", engine, "--catalog-db", f["catalog_db"],
                            "--catalog-name", f["catalog_name"], "--warehouse", f["warehouse"],
                            "--table", f["table"], *extra)
                    assert p.returncode != 0, (extra, p.stdout)
                    assert p.stdout.strip() == "", p.stdout
                    assert f"read_iceberg.py ({engine})" in p.stderr, p.stderr
            check(f"{engine}: failures exit non-zero with a message on stderr", t_errors)

        def t_agree():
            a, b = (full[e] for e in ENGINES)
            for k in ("rows", "sum", "per_day", "current_snapshot_id", "snapshot_id", "metadata_location"):
                assert a[k] == b[k], (k, a[k], b[k])
            assert len(a["snapshots"]) == len(b["snapshots"]) == 2
            assert a["snapshots"] == b["snapshots"], (a["snapshots"], b["snapshots"])
            fa, fb = (at_first[e] for e in ENGINES)
            assert (fa["rows"], fa["sum"], fa["per_day"]) == (fb["rows"], fb["sum"], fb["per_day"])
            assert plain[ENGINES[0]]["rows"] == plain[ENGINES[1]]["rows"]
        check("pyiceberg and duckdb agree (rows, sums, per_day, snapshots)", t_agree)

        def t_readonly():
            assert sha(fx["catalog_db"]) == db_hash, "catalog.db was modified by a reader"
        check("readers leave catalog.db untouched", t_readonly)

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
