#!/usr/bin/env python3
"""Self-check for the Glue mode of tests/py/read_iceberg.py (no pytest, no network).

    PY="$(bash scripts/python-env.sh | tail -n1)"
    "$PY" tests/py/test_read_iceberg_glue.py

Starts a moto server in this process (moto_server.py's patched moto: Glue UpdateTable
honours VersionId, as PyIceberg's commits expect of AWS), creates an S3 bucket and a Glue
database, and writes with PyIceberg's GlueCatalog a table

    id long (required), ts timestamptz, amount decimal(18,2)   partitioned by day(ts)

at s3://BUCKET/warehouse/ns/events with two appends (two snapshots). Then runs
read_iceberg.py --glue-endpoint with both engines and checks each against the known
data and that the engines agree. Ends with the line "N passed, M failed"; exit code 0
only when nothing failed.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
READER = HERE / "read_iceberg.py"
ENGINES = ("pyiceberg", "duckdb")

BUCKET = "floe-glue-test"
TABLE = "ns.events"
LOCATION = f"s3://{BUCKET}/warehouse/ns/events"
CREDS = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}

sys.path.insert(0, str(HERE))
import make_fixture  # noqa: E402  (rows and the expected() helper of the SQL-mode fixture)
import moto_server  # noqa: E402,F401  (importing it patches moto like the server Floe's tests use)

# The SQL-mode rows, plus one amount that needs decimal(18,2) (16 integer digits).
BATCH_1 = list(make_fixture.BATCH_1)
BATCH_2 = list(make_fixture.BATCH_2) + [
    (10, make_fixture._utc("2024-03-04T12:00:00+00:00"), Decimal("9999999999999999.99")),
]

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
    return subprocess.run([sys.executable, str(READER), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def read(endpoint: str, engine: str, *extra: str) -> dict:
    p = run("--engine", engine, "--glue-endpoint", endpoint, "--table", TABLE, *extra)
    assert p.returncode == 0, f"{engine} exit {p.returncode}: {p.stderr}"
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one JSON line, got {p.stdout!r}"
    return json.loads(lines[0])


def write_table(endpoint: str) -> dict:
    """Bucket + Glue database with boto3, then the table with PyIceberg's GlueCatalog."""
    import boto3
    import pyarrow as pa
    from pyiceberg.catalog.glue import GlueCatalog
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform
    from pyiceberg.types import DecimalType, LongType, NestedField, TimestamptzType

    boto3.client("s3", endpoint_url=endpoint, **CREDS).create_bucket(Bucket=BUCKET)
    glue = boto3.client("glue", endpoint_url=endpoint, **CREDS)
    glue.create_database(DatabaseInput={"Name": TABLE.split(".")[0]})

    catalog = GlueCatalog("floe", **{
        "glue.endpoint": endpoint, "glue.region": "us-east-1",
        "glue.access-key-id": "test", "glue.secret-access-key": "test",
        "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
        "s3.endpoint": endpoint, "s3.region": "us-east-1",
        "s3.access-key-id": "test", "s3.secret-access-key": "test",
        "s3.force-virtual-addressing": "false",
    })
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "ts", TimestamptzType(), required=False),
        NestedField(3, "amount", DecimalType(18, 2), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"))
    table = catalog.create_table(TABLE, schema=schema, partition_spec=spec, location=LOCATION,
                                 properties={"format-version": "2"})
    arrow_schema = pa.schema([
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("amount", pa.decimal128(18, 2)),
    ])

    def to_arrow(rows):
        return pa.Table.from_pylist([{"id": i, "ts": t, "amount": a} for i, t, a in rows], schema=arrow_schema)

    table.append(to_arrow(BATCH_1))
    table.append(to_arrow(BATCH_2))
    table = catalog.load_table(TABLE)
    snaps = sorted(table.metadata.snapshots, key=lambda s: (s.sequence_number or 0, s.timestamp_ms))
    glue_params = glue.get_table(DatabaseName="ns", Name="events")["Table"].get("Parameters", {})
    return {
        "metadata_location": table.metadata_location,
        "glue_metadata_location": glue_params.get("metadata_location"),
        "snapshot_ids": [s.snapshot_id for s in snaps],
        "current_snapshot_id": table.metadata.current_snapshot_id,
        "expected_current": make_fixture.expected(BATCH_1 + BATCH_2),
        "expected_first": make_fixture.expected(BATCH_1),
    }


def main() -> int:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            fx = write_table(endpoint)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            print("0 passed, 1 failed (could not write the Glue/S3 fixture)")
            return 1
        first, current = fx["snapshot_ids"]

        def t_fixture():
            assert fx["metadata_location"].startswith(f"{LOCATION}/metadata/"), fx["metadata_location"]
            assert fx["glue_metadata_location"] == fx["metadata_location"], fx
            assert fx["expected_current"]["rows"] == 10 and fx["expected_first"]["rows"] == 5
        check("fixture: Glue table points at s3://BUCKET/warehouse/...", t_fixture)

        full = {}
        at_first = {}
        for engine in ENGINES:
            def t_full(engine=engine):
                full[engine] = r = read(endpoint, engine, "--group-by-day-of", "ts", "--sum", "amount")
                exp = fx["expected_current"]
                assert r["engine"] == engine and r["table"] == TABLE
                assert (r["rows"], r["sum"]) == (exp["rows"], exp["sum"]), (r["rows"], r["sum"], exp)
                assert r["per_day"] == exp["per_day"], (r["per_day"], exp["per_day"])
                assert r["current_snapshot_id"] == r["snapshot_id"] == current == fx["current_snapshot_id"]
                assert r["format_version"] == 2
                assert r["metadata_location"] == fx["metadata_location"]
                ids = [s["snapshot_id"] for s in r["snapshots"]]
                assert ids == [first, current], ids
                s1, s2 = r["snapshots"]
                assert s1["parent_id"] is None and s2["parent_id"] == first, r["snapshots"]
                assert s1["operation"] == s2["operation"] == "append"
                assert s1["summary"]["added-records"] == "5" and s2["summary"]["total-records"] == "10", r["snapshots"]
                assert (s1["sequence_number"], s2["sequence_number"]) == (1, 2)
            check(f"{engine}: current snapshot rows/sum/per_day/snapshots via Glue + S3", t_full)

            def t_first(engine=engine):
                at_first[engine] = r = read(endpoint, engine, "--snapshot-id", str(first),
                                            "--group-by-day-of", "ts", "--sum", "amount")
                exp = fx["expected_first"]
                assert r["snapshot_id"] == first and r["current_snapshot_id"] == current
                assert (r["rows"], r["sum"], r["per_day"]) == (exp["rows"], exp["sum"], exp["per_day"]), r
            check(f"{engine}: --snapshot-id reads the first snapshot", t_first)

            def t_errors(engine=engine):
                p = run("--engine", engine, "--glue-endpoint", endpoint, "--table", "ns.no_such_table")
                assert p.returncode != 0 and p.stdout.strip() == "", (p.returncode, p.stdout)
                assert f"read_iceberg.py ({engine})" in p.stderr, p.stderr
                p = run("--engine", engine, "--glue-endpoint", endpoint, "--catalog-db", "x.db", "--table", TABLE)
                assert p.returncode == 2 and "--glue-endpoint" in p.stderr, (p.returncode, p.stderr)
            check(f"{engine}: failures exit non-zero with a message on stderr", t_errors)

        def t_agree():
            a, b = (full[e] for e in ENGINES)
            for k in ("rows", "sum", "per_day", "current_snapshot_id", "snapshot_id", "metadata_location",
                      "format_version", "snapshots"):
                assert a[k] == b[k], (k, a[k], b[k])
            fa, fb = (at_first[e] for e in ENGINES)
            assert (fa["rows"], fa["sum"], fa["per_day"]) == (fb["rows"], fb["sum"], fb["per_day"])
        check("pyiceberg and duckdb agree (rows, sums, per_day, snapshots)", t_agree)
    finally:
        server.stop()

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
