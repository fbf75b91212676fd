#!/usr/bin/env python3
"""Read an Iceberg table from a SQLite Iceberg SQL catalog, or from an AWS Glue catalog with
its data on S3, with another engine, print JSON.

Usage:
  read_iceberg.py --engine pyiceberg|duckdb --catalog-db PATH/catalog.db
                  [--catalog-name floe] --warehouse PATH --table ns.name
                  [--snapshot-id N] [--group-by-day-of COL] [--sum COL]
  read_iceberg.py --engine pyiceberg|duckdb --glue-endpoint http://127.0.0.1:PORT
                  [--catalog-name floe] --table ns.name
                  [--snapshot-id N] [--group-by-day-of COL] [--sum COL]

Glue mode (--glue-endpoint URL, instead of --catalog-db/--warehouse): URL serves both Glue
and S3 (one moto server, say); the table is the Glue table `name` of the Glue database `ns`,
and its metadata_location is an s3:// URI. Credentials are fixed to test/test, region
us-east-1, and S3 is addressed path-style (http://HOST:PORT/BUCKET/KEY).

Prints ONE JSON object on stdout (one line):
  {"engine": "pyiceberg"|"duckdb",
   "table": "ns.name",
   "metadata_location": "<as stored in iceberg_tables / the Glue table's Parameters>",
   "snapshot_id": <snapshot that was scanned, null for an empty table>,
   "rows": N,
   "sum": "12345.67",                        # only with --sum; exact; null if no non-null value
   "per_day": {"YYYY-MM-DD": {"rows": n, "sum": "..."}},   # only with --group-by-day-of;
                                             # day in UTC, sorted; "sum" only with --sum;
                                             # rows whose COL is NULL go under the key "null"
   "snapshots": [{"snapshot_id", "parent_id", "sequence_number", "timestamp_ms",
                  "operation", "summary": {...}}, ...],      # oldest first
   "current_snapshot_id": N | null,
   "notes": [...]}                           # engine caveats, if any

Sums: decimals are summed exactly (Arrow decimal128(38,s) / DuckDB DECIMAL(38,s)) and
printed as a plain string ("12345.67", never exponent notation); integer sums are
printed as integer strings.

Engines:
  pyiceberg  SqlCatalog(uri=sqlite:///CATALOG_DB, warehouse=file://WAREHOUSE) ->
             load_table -> scan(snapshot_id=...).to_arrow(), computed with pyarrow.compute.
             The catalog is opened with init_catalog_tables=false, so it never writes to it.
             Glue mode: GlueCatalog(glue.endpoint=URL, s3.endpoint=URL, PyArrowFileIO with
             s3.force-virtual-addressing=false, i.e. path-style) -> the same load/scan.
  duckdb     metadata_location is read from the catalog's iceberg_tables row (sqlite3), then
             iceberg_scan('<metadata.json path>'[, snapshot_from_id => N]) with the avro and
             iceberg extensions LOADed by file path from the duckdb-extension-* wheels
             (no network: autoinstall/autoload are off). The snapshot list comes from
             iceberg_snapshots(), which has no parent id or summary: those two fields are
             filled from the metadata JSON file itself (see "notes" in the output).
             Glue mode: metadata_location is Parameters["metadata_location"] of Glue
             GetTable (boto3); the httpfs extension is LOADed from its wheel too, with an
             S3 secret for the endpoint (URL_STYLE 'path'); the metadata JSON is fetched
             with boto3 S3 GetObject.

Exit code 0 on success; non-zero with a message on stderr on any failure.
"""
from __future__ import annotations

import argparse
import gzip
import importlib
import json
import sqlite3
import sys
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import Any


class ReadError(Exception):
    pass


# --------------------------------------------------------------------------- helpers

def fmt_number(v: Any) -> str | None:
    """Plain-string form of a sum: exact for Decimal/int, never exponent notation."""
    if v is None:
        return None
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def split_identifier(table: str) -> tuple[str, str]:
    namespace, _, name = table.rpartition(".")
    if not namespace or not name:
        raise ReadError(f"--table must be 'namespace.name' (got {table!r})")
    return namespace, name


def uri_to_path(location: str) -> str:
    """file:///a/b, file:/a/b or a plain path -> /a/b. Other schemes are returned unchanged."""
    if location.startswith("file:"):
        parsed = urllib.parse.urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            raise ReadError(f"unsupported file URI with a host: {location}")
        return urllib.parse.unquote(parsed.path)
    return location


def catalog_metadata_location(catalog_db: Path, catalog_name: str, table: str) -> str:
    """Read iceberg_tables.metadata_location directly (same schema as iceberg-catalog-sql)."""
    namespace, name = split_identifier(table)
    # Read-only: never create or modify the catalog file.
    con = sqlite3.connect(f"{catalog_db.as_uri()}?mode=ro", uri=True)
    try:
        cols = {r[1] for r in con.execute("PRAGMA table_info(iceberg_tables)")}
        if not cols:
            raise ReadError(f"{catalog_db}: no iceberg_tables table (not an Iceberg SQL catalog?)")
        type_filter = " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)" if "iceberg_type" in cols else ""
        row = con.execute(
            "SELECT metadata_location FROM iceberg_tables "
            "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?" + type_filter,
            (catalog_name, namespace, name),
        ).fetchone()
        if row is None:
            have = con.execute(
                "SELECT catalog_name || ':' || table_namespace || '.' || table_name FROM iceberg_tables"
            ).fetchall()
            raise ReadError(
                f"table {table!r} not found in catalog {catalog_name!r} of {catalog_db}; "
                f"catalog has: {[h[0] for h in have] or 'no tables'}"
            )
        if not row[0]:
            raise ReadError(f"table {table!r} has an empty metadata_location")
        return row[0]
    finally:
        con.close()


# --------------------------------------------------------------------------- Glue / S3

# Glue mode talks to a local test endpoint (moto) only: fixed credentials and region.
GLUE_ACCESS_KEY_ID = "test"
GLUE_SECRET_ACCESS_KEY = "test"
GLUE_REGION = "us-east-1"


def check_endpoint(url: str) -> str:
    """http(s)://HOST[:PORT] with nothing after it; returned without a trailing slash."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path.strip("/") \
            or parsed.query or parsed.fragment:
        raise ReadError(f"--glue-endpoint must look like http://HOST:PORT (got {url!r})")
    return f"{parsed.scheme}://{parsed.netloc}"


def aws_client(service: str, endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=GLUE_REGION,
        aws_access_key_id=GLUE_ACCESS_KEY_ID,
        aws_secret_access_key=GLUE_SECRET_ACCESS_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                      connect_timeout=10, read_timeout=60),
    )


def glue_metadata_location(endpoint: str, table: str) -> str:
    """Parameters["metadata_location"] of the Glue table (database = namespace)."""
    namespace, name = split_identifier(table)
    glue = aws_client("glue", endpoint)
    try:
        got = glue.get_table(DatabaseName=namespace, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException as e:
        raise ReadError(f"table {table!r} not found in the Glue catalog at {endpoint}: "
                        f"{e.response.get('Error', {}).get('Message', e)}") from e
    params = got.get("Parameters") or {}
    if (params.get("table_type") or "").upper() != "ICEBERG":
        raise ReadError(f"Glue table {table!r} is not an Iceberg table "
                        f"(Parameters.table_type = {params.get('table_type')!r})")
    location = params.get("metadata_location")
    if not location:
        raise ReadError(f"Glue table {table!r} has no metadata_location parameter")
    return location


def split_s3_uri(location: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc or not parsed.path.lstrip("/"):
        raise ReadError(f"not an s3://BUCKET/KEY location: {location}")
    return parsed.netloc, parsed.path.lstrip("/")


def read_location_bytes(location: str, s3_endpoint: str | None = None) -> bytes:
    """Bytes of a local path/file: URI, or of an s3:// object through s3_endpoint."""
    if "://" in location:
        if s3_endpoint is None:
            raise ReadError(f"cannot read {location}: no S3 endpoint (only Glue mode reads s3://)")
        bucket, key = split_s3_uri(location)
        s3 = aws_client("s3", s3_endpoint)
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as e:
            raise ReadError(f"metadata file {location} does not exist") from e
    return Path(location).read_bytes()


def load_metadata_json(path: str, s3_endpoint: str | None = None) -> dict:
    raw = read_location_bytes(path, s3_endpoint)
    if raw[:2] == b"\x1f\x8b":  # *.gz.metadata.json
        raw = gzip.decompress(raw)
    return json.loads(raw)


def sort_snapshots(snaps: list[dict]) -> list[dict]:
    return sorted(snaps, key=lambda s: (s.get("sequence_number") or 0, s.get("timestamp_ms") or 0))


# --------------------------------------------------------------------------- pyiceberg

def open_pyiceberg_catalog(args: argparse.Namespace):
    if args.glue_endpoint:
        from pyiceberg.catalog.glue import GlueCatalog

        # Property names as in pyiceberg 0.12 (pyiceberg/catalog/glue.py, pyiceberg/io/__init__.py).
        # There is no "path-style" property: PyArrowFileIO's S3FileSystem is path-style when
        # s3.force-virtual-addressing is false. s3.region is given, so the bucket's region is
        # never resolved against real AWS.
        return GlueCatalog(args.catalog_name, **{
            "glue.endpoint": args.glue_endpoint,
            "glue.region": GLUE_REGION,
            "glue.access-key-id": GLUE_ACCESS_KEY_ID,
            "glue.secret-access-key": GLUE_SECRET_ACCESS_KEY,
            "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO",
            "s3.endpoint": args.glue_endpoint,
            "s3.region": GLUE_REGION,
            "s3.access-key-id": GLUE_ACCESS_KEY_ID,
            "s3.secret-access-key": GLUE_SECRET_ACCESS_KEY,
            "s3.force-virtual-addressing": "false",
        })
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(
        args.catalog_name,
        uri=f"sqlite:///{args.catalog_db}",
        warehouse=args.warehouse.as_uri(),
        init_catalog_tables="false",
    )


def read_pyiceberg(args: argparse.Namespace) -> dict:
    import pyarrow as pa
    import pyarrow.compute as pc

    catalog = open_pyiceberg_catalog(args)
    table = catalog.load_table(args.table)
    md = table.metadata

    if args.snapshot_id is not None:
        if md.snapshot_by_id(args.snapshot_id) is None:
            raise ReadError(f"snapshot {args.snapshot_id} not found in {table.metadata_location}")
        scanned = args.snapshot_id
    else:
        scanned = md.current_snapshot_id
    # The requested columns only (and all of them when none is requested: row count).
    wanted = [c for c in (args.group_by_day_of, args.sum) if c]
    scan = table.scan(snapshot_id=args.snapshot_id,
                      selected_fields=tuple(dict.fromkeys(wanted)) if wanted else ("*",))
    data = scan.to_arrow()

    def widen(col):
        # Exact decimal sums that cannot overflow decimal(p<=38).
        t = col.type
        if pa.types.is_decimal128(t):
            return col.cast(pa.decimal128(38, t.scale))
        if pa.types.is_decimal256(t):
            return col.cast(pa.decimal256(76, t.scale))
        if pa.types.is_integer(t):
            return col.cast(pa.int64())
        return col

    out: dict[str, Any] = {"rows": data.num_rows}
    if args.sum:
        out["sum"] = fmt_number(pc.sum(widen(data.column(args.sum))).as_py())

    if args.group_by_day_of:
        col = data.column(args.group_by_day_of)
        t = col.type
        if pa.types.is_timestamp(t):
            # Dropping the zone keeps the stored UTC instant (casting a zoned timestamp
            # straight to date32 would use the zone's local date).
            days = pc.cast(pc.cast(col, pa.timestamp(t.unit)), pa.date32())
        elif pa.types.is_date(t):
            days = pc.cast(col, pa.date32())
        else:
            raise ReadError(f"--group-by-day-of {args.group_by_day_of}: not a timestamp/date column ({t})")
        cols = {"day": days}
        aggs = [("day", "count", pc.CountOptions(mode="all"))]
        if args.sum:
            cols["v"] = widen(data.column(args.sum))
            aggs.append(("v", "sum"))
        grouped = pa.table(cols).group_by("day").aggregate(aggs).to_pylist()
        per_day = {}
        for g in grouped:
            key = g["day"].isoformat() if g["day"] is not None else "null"
            entry = {"rows": g["day_count"]}
            if args.sum:
                entry["sum"] = fmt_number(g["v_sum"])
            per_day[key] = entry
        out["per_day"] = dict(sorted(per_day.items()))

    snaps = []
    for s in md.snapshots:
        summary = s.summary.model_dump() if s.summary is not None else {}
        snaps.append({
            "snapshot_id": s.snapshot_id,
            "parent_id": s.parent_snapshot_id,
            "sequence_number": s.sequence_number,
            "timestamp_ms": s.timestamp_ms,
            "operation": summary.get("operation"),
            "summary": summary,
        })
    return {
        "metadata_location": table.metadata_location,
        "format_version": md.format_version,
        "snapshot_id": scanned,
        **out,
        "snapshots": sort_snapshots(snaps),
        "current_snapshot_id": md.current_snapshot_id,
        "notes": [],
    }


# --------------------------------------------------------------------------- duckdb

def duckdb_extension_path(name: str) -> Path:
    """Path of <name>.duckdb_extension shipped by the `duckdb-extension-<name>` wheel.

    The wheel installs the package `duckdb_extension_<name>` (empty __init__.py) with
    package data `extensions/v<duckdb version>/<name>.duckdb_extension`; there is no
    module attribute for it, so it is located relative to the package's __file__.
    """
    import duckdb

    pkg = f"duckdb_extension_{name}"
    try:
        mod = importlib.import_module(pkg)
    except ImportError as e:
        raise ReadError(f"python package {pkg} missing (pip install duckdb-extension-{name}); "
                        f"run scripts/python-env.sh") from e
    base = Path(mod.__file__).resolve().parent / "extensions"
    exact = base / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if exact.is_file():
        return exact
    found = sorted(base.glob(f"*/{name}.duckdb_extension"))
    raise ReadError(
        f"{exact} not found: duckdb {duckdb.__version__} does not match the {pkg} wheel "
        f"(it ships {[str(f.relative_to(base)) for f in found] or 'nothing'})"
    )


def duckdb_connect(s3_endpoint: str | None = None):
    """DuckDB with avro + iceberg loaded; with s3_endpoint also httpfs and an S3 secret for it."""
    import duckdb

    con = duckdb.connect(config={
        # Never reach the network for extensions; everything is loaded by path below.
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
    })
    # avro first: iceberg reads manifest lists/manifests through it.
    exts = ("avro", "httpfs", "iceberg") if s3_endpoint else ("avro", "iceberg")
    for ext in exts:
        path = duckdb_extension_path(ext)
        con.execute(f"LOAD '{str(path).replace(chr(39), chr(39) * 2)}'")
    con.execute("SET TimeZone = 'UTC'")
    if s3_endpoint:
        parsed = urllib.parse.urlparse(s3_endpoint)
        # ENDPOINT is host:port without a scheme; USE_SSL says which scheme to use.
        con.execute(
            "CREATE SECRET floe_glue_s3 (TYPE s3, PROVIDER config, "
            f"KEY_ID {qstr(GLUE_ACCESS_KEY_ID)}, SECRET {qstr(GLUE_SECRET_ACCESS_KEY)}, "
            f"REGION {qstr(GLUE_REGION)}, ENDPOINT {qstr(parsed.netloc)}, URL_STYLE 'path', "
            f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'})"
        )
    return con


def qident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qstr(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def read_duckdb(args: argparse.Namespace) -> dict:
    if args.glue_endpoint:
        metadata_location = glue_metadata_location(args.glue_endpoint, args.table)
        md_path = metadata_location
        split_s3_uri(md_path)  # Glue mode reads s3:// only
    else:
        metadata_location = catalog_metadata_location(args.catalog_db, args.catalog_name, args.table)
        md_path = uri_to_path(metadata_location)
    if "://" not in md_path and not Path(md_path).is_file():
        raise ReadError(f"metadata file {md_path} (from the catalog) does not exist")

    con = duckdb_connect(args.glue_endpoint)
    # iceberg_scan is given the metadata.json path itself (no version-hint.text needed).
    scan_args = qstr(md_path)
    if args.snapshot_id is not None:
        if args.snapshot_id < 0:
            raise ReadError("duckdb's snapshot_from_id is UBIGINT: negative snapshot ids are unsupported")
        scan_args += f", snapshot_from_id => {int(args.snapshot_id)}::UBIGINT"
    src = f"iceberg_scan({scan_args})"

    out: dict[str, Any] = {}
    sum_expr = f", sum({qident(args.sum)})" if args.sum else ""
    row = con.execute(f"SELECT count(*){sum_expr} FROM {src}").fetchone()
    out["rows"] = int(row[0])
    if args.sum:
        out["sum"] = fmt_number(row[1])

    if args.group_by_day_of:
        col = qident(args.group_by_day_of)
        # TimeZone is UTC, so TIMESTAMPTZ -> DATE is the UTC day.
        rows = con.execute(
            f"SELECT CAST({col} AS DATE) AS d, count(*){sum_expr} FROM {src} GROUP BY 1 ORDER BY 1 NULLS LAST"
        ).fetchall()
        per_day = {}
        for r in rows:
            key = r[0].isoformat() if r[0] is not None else "null"
            entry = {"rows": int(r[1])}
            if args.sum:
                entry["sum"] = fmt_number(r[2])
            per_day[key] = entry
        out["per_day"] = dict(sorted(per_day.items()))

    # iceberg_snapshots() gives sequence_number, snapshot_id, timestamp_ms, manifest_list,
    # operation -- no parent id and no summary. Those two are taken from the metadata JSON
    # (read with Python's json, the same file DuckDB scanned) and the snapshot ids of both
    # views are cross-checked.
    snap_rows = con.execute(
        f"SELECT snapshot_id, sequence_number, epoch_ms(timestamp_ms), operation "
        f"FROM iceberg_snapshots({qstr(md_path)})"
    ).fetchall()
    if "://" not in md_path:
        meta = load_metadata_json(md_path)
    elif args.glue_endpoint:  # s3://: the same object, fetched with boto3
        meta = load_metadata_json(md_path, args.glue_endpoint)
    else:
        meta = {}
    by_id = {s["snapshot-id"]: s for s in meta.get("snapshots", [])}
    if meta and set(by_id) != {int(r[0]) for r in snap_rows}:
        raise ReadError(f"iceberg_snapshots() ids {sorted(int(r[0]) for r in snap_rows)} differ "
                        f"from the metadata file's {sorted(by_id)}")
    snaps = []
    for sid, seq, ts_ms, op in snap_rows:
        m = by_id.get(int(sid), {})
        snaps.append({
            "snapshot_id": int(sid),
            "parent_id": m.get("parent-snapshot-id"),
            "sequence_number": int(seq) if seq is not None else None,
            "timestamp_ms": int(ts_ms) if ts_ms is not None else None,
            "operation": op,
            "summary": m.get("summary", {"operation": op} if op else {}),
        })
    current = meta.get("current-snapshot-id")
    if current is not None and current < 0:  # v1 writers use -1 for "no snapshot"
        current = None
    return {
        "metadata_location": metadata_location,
        "format_version": meta.get("format-version"),
        "snapshot_id": args.snapshot_id if args.snapshot_id is not None else current,
        **out,
        "snapshots": sort_snapshots(snaps),
        "current_snapshot_id": current,
        "notes": [
            "duckdb: iceberg_snapshots() has no parent id or summary; parent_id, summary and "
            "current_snapshot_id come from the metadata JSON file",
        ],
    }


# --------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, choices=["pyiceberg", "duckdb"])
    ap.add_argument("--catalog-db", type=Path, help="SQLite file of the Iceberg SQL catalog")
    ap.add_argument("--catalog-name", default="floe",
                    help="iceberg_tables.catalog_name (default: floe); in Glue mode only a label")
    ap.add_argument("--warehouse", type=Path, help="warehouse folder (local path)")
    ap.add_argument("--glue-endpoint", metavar="URL",
                    help="Glue mode: http://HOST:PORT serving Glue and S3 (moto); replaces "
                         "--catalog-db/--warehouse (credentials test/test, us-east-1, path-style S3)")
    ap.add_argument("--table", required=True, help="namespace.name")
    ap.add_argument("--snapshot-id", type=int, help="read this snapshot instead of the current one")
    ap.add_argument("--group-by-day-of", metavar="COL", help="timestamp/timestamptz/date column: per-UTC-day counts")
    ap.add_argument("--sum", metavar="COL", help="column to sum (exact for decimals)")
    args = ap.parse_args(argv)

    if args.glue_endpoint is not None:
        if args.catalog_db is not None or args.warehouse is not None:
            ap.error("--glue-endpoint replaces --catalog-db/--warehouse: give one or the other")
    else:
        missing = [o for o, v in (("--catalog-db", args.catalog_db), ("--warehouse", args.warehouse)) if v is None]
        if missing:
            ap.error(f"the following arguments are required: {', '.join(missing)} (or --glue-endpoint)")
        args.catalog_db = args.catalog_db.resolve()
        args.warehouse = args.warehouse.resolve()
    try:
        if args.glue_endpoint is not None:
            args.glue_endpoint = check_endpoint(args.glue_endpoint)
        elif not args.catalog_db.is_file():
            raise ReadError(f"catalog db {args.catalog_db} does not exist")
        result = read_pyiceberg(args) if args.engine == "pyiceberg" else read_duckdb(args)
    except ReadError as e:
        print(f"read_iceberg.py ({args.engine}): {e}", file=sys.stderr)
        return 2
    except Exception as e:  # any engine error: clear one-line message + traceback for debugging
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"read_iceberg.py ({args.engine}): failed reading {args.table}: {type(e).__name__}: {e}",
              file=sys.stderr)
        return 1

    out = {"engine": args.engine, "table": args.table, **result}
    print(json.dumps(out, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
