"""Floe's Silver job for a contract (examples/transactions.toml by default),
written for DuckDB: every rule of the contract (see contract.py for the exact
semantics), records the CSV reader refuses (a wrong number of fields, invalid
UTF-8) counted as rejects, duplicates of the dedupe key condemned with the first
by file path and position kept, and the valid, quarantined and condemned rows
written as plain Parquet (zstd level 1, as Floe writes) under OUT.

    python duckdb_job.py BRONZE OUT [--contract PATH]

Prints one JSON object on stdout: {"engine", "wall", "cpu", "peak_rss_mib",
"days": {"YYYY-MM-DD": {"rows", "valid", "bad", "duplicates",
"sum_amount_valid_cents"}}}, the day being the Bronze file's (its `{date}`).
bench-compare.sh checks those figures against the generated ground truth
before it prints any time.

DuckDB does not say on which line a row it read stands, so a row's position is
its rowid in the table the scan is materialised into (`_scan_row`, `scan_row`,
and `duplicate_of` = file:scan_row): rows are inserted in the scan's order,
files in path order and records in file order, and the first of a key's rows
by that order is the one kept. Records the reader refuses keep DuckDB's line.
A file mixing \n and \r\n line ends is refused by DuckDB's strict reader.
"""

from __future__ import annotations

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract as ct  # noqa: E402

import duckdb  # noqa: E402

MICROS_PER_DAY = 86_400_000_000


class Steps:
    """Prints each step's wall time to stderr when FLOE_COMPARE_STEPS is set."""

    def __init__(self) -> None:
        self.on = bool(os.environ.get("FLOE_COMPARE_STEPS"))
        self.last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        if self.on:
            print(f"  {name:<28} {now - self.last:6.2f} s", file=sys.stderr)
        self.last = now


def q(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fast_or_exact(x: str, fast: str, exact: str, sql_type: str) -> str:
    """DuckDB's cast where the text has a spelling it reads as Floe does, else
    the cast of the exact pattern's group 1 (empty, so NULL, when it does not match)."""
    return (
        f"CASE WHEN regexp_full_match({x}, {q(fast)}) THEN TRY_CAST({x} AS {sql_type}) "
        f"ELSE TRY_CAST(regexp_extract({x}, {q(exact)}, 1) AS {sql_type}) END"
    )


def typed_expr(c: ct.Column) -> str:
    """The column's typed value from its text (NULL when empty or unparseable)."""
    x = ident(c.name)
    if c.type in ("string", "enum"):
        return x
    if c.type == "int":
        return fast_or_exact(x, ct.FAST_INT, ct.int_pattern(), "INTEGER")
    if c.type == "decimal":
        return fast_or_exact(
            x, ct.fast_decimal(c.precision, c.scale), ct.decimal_pattern(c.precision, c.scale),
            f"DECIMAL({c.precision}, {c.scale})",
        )
    if c.type == "boolean":
        words = lambda ws: ", ".join(q(w) for w in ws)  # noqa: E731
        return (
            f"CASE WHEN {x} IN ({words(ct.TRUE_WORDS)}) THEN true "
            f"WHEN {x} IN ({words(ct.FALSE_WORDS)}) THEN false "
            f"WHEN regexp_full_match({x}, {q(ct.bool_pattern(ct.TRUE_WORDS))}) THEN true "
            f"WHEN regexp_full_match({x}, {q(ct.bool_pattern(ct.FALSE_WORDS))}) THEN false END"
        )
    if c.type == "date":
        return fast_or_exact(x, ct.FAST_DATE, ct.date_pattern(), "DATE")
    if c.type == "timestamptz":
        # Microseconds since the epoch, UTC: DuckDB's cast for the common
        # spellings (__fast_<name>), else from the groups the layers below
        # extracted: RFC 3339 (__rfc_<name>), else the plain format (__plain_<name>).
        r = f"__rfc_{c.name}"
        rfc = (
            f"CAST(TRY_CAST({r}.d AS DATE) - DATE '1970-01-01' AS BIGINT) * {MICROS_PER_DAY}"
            f" + ((TRY_CAST({r}.h AS BIGINT) * 60 + TRY_CAST({r}.mi AS BIGINT)) * 60 + TRY_CAST({r}.s AS BIGINT)) * 1000000"
            f" + TRY_CAST(rpad(left({r}.f, 6), 6, '0') AS BIGINT)"
            f" - CASE {r}.sg WHEN '-' THEN -1 WHEN '+' THEN 1 ELSE 0 END"
            f" * coalesce(TRY_CAST({r}.oh AS BIGINT) * 60 + TRY_CAST({r}.om AS BIGINT), 0) * 60000000"
        )
        p = f"__plain_{c.name}"
        plain = (
            f"CASE WHEN {p}.h <> '' AND TRY_CAST({p}.h AS INTEGER) <= 23 AND TRY_CAST({p}.mi AS INTEGER) <= 59"
            f" AND TRY_CAST({p}.s AS INTEGER) <= 60 THEN"
            f" CAST(TRY_CAST(lpad({p}.y, 4, '0') || '-' || lpad({p}.mo, 2, '0') || '-' || lpad({p}.d, 2, '0')"
            f" AS DATE) - DATE '1970-01-01' AS BIGINT) * {MICROS_PER_DAY}"
            f" + ((TRY_CAST({p}.h AS BIGINT) * 60 + TRY_CAST({p}.mi AS BIGINT)) * 60 + TRY_CAST({p}.s AS BIGINT)) * 1000000 END"
        )
        return (
            f"CASE WHEN __fast_{c.name} THEN epoch_us(TRY_CAST({x} AS TIMESTAMPTZ)) "
            f"WHEN {r}.d <> '' THEN {rfc} WHEN {p}.h <> '' THEN {plain} END"
        )
    raise AssertionError(c.type)


def violations(c: ct.Column, part_col: str) -> list[tuple[str, str]]:
    """(condition, reason) pairs over the text column `raw_<name>`/the column
    itself for strings, and the typed column `<name>`; each condition is never NULL."""
    text = ident(c.name) if c.type in ("string", "enum") else ident(f"raw_{c.name}")
    typed = ident(c.name)
    out = []
    if c.required:
        out.append((f"{text} IS NULL", f"{c.name}: required, but empty"))
    if c.type not in ("string", "enum"):
        out.append((f"({text} IS NOT NULL AND {typed} IS NULL)", f"{c.name}: not a valid {c.type}"))
    if c.min is not None:
        out.append((f"coalesce({typed} < {c.min}, false)", f"{c.name}: below the minimum {c.min}"))
    if c.max is not None:
        out.append((f"coalesce({typed} > {c.max}, false)", f"{c.name}: above the maximum {c.max}"))
    if c.regex is not None:
        out.append(
            (f"coalesce(NOT regexp_matches({text}, {q(c.regex)}), false)",
             f"{c.name}: does not match the pattern {c.regex}")
        )
    if c.allowed is not None:
        values = ", ".join(q(v) for v in c.allowed)
        out.append((f"coalesce({text} NOT IN ({values}), false)", f"{c.name}: not one of {', '.join(c.allowed)}"))
    if c.max_length is not None:
        out.append(
            (f"coalesce(length({text}) > {c.max_length}, false)",
             f"{c.name}: longer than max_length {c.max_length}")
        )
    if c.name == part_col:
        out.append(
            (f"coalesce({typed} < __day_start OR {typed} >= __day_start + {MICROS_PER_DAY}, false)",
             f"{c.name}: outside the file's partition")
        )
    return out


def main() -> None:
    contract, files, out = ct.job_setup(__doc__)

    cols = contract.columns
    key = ident(contract.dedupe_key[0])
    part = contract.partition_column
    amount = next((c for c in cols if c.name == "amount" and c.type == "decimal"), None)
    if amount is None:
        raise SystemExit("the per-day sums need a decimal column `amount`")

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    cpu0 = time.process_time()

    columns = "{" + ", ".join(f"{q(c.name)}: 'VARCHAR'" for c in cols) + "}"
    scan = (
        f"read_csv(?, header = true, columns = {columns}, auto_detect = false, "
        "delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false, "
        "store_rejects = true, filename = true, hive_partitioning = false)"
    )
    ts_cols = [c for c in cols if c.type == "timestamptz"]
    fast = "".join(
        f", coalesce(regexp_full_match({ident(c.name)}, {q(ct.FAST_TIMESTAMP)}), false) AS __fast_{c.name}"
        for c in ts_cols
    )
    rfc = "".join(
        f", CASE WHEN NOT __fast_{c.name} THEN regexp_extract({ident(c.name)}, {q(ct.rfc3339_pattern())}, "
        f"['d', 'h', 'mi', 's', 'f', 'sg', 'oh', 'om']) END AS __rfc_{c.name}"
        for c in ts_cols
    )
    plain = "".join(
        f", CASE WHEN __rfc_{c.name}.d = '' THEN regexp_extract({ident(c.name)}, {q(ct.plain_pattern())}, "
        f"['y', 'mo', 'd', 'h', 'mi', 's']) END AS __plain_{c.name}"
        for c in ts_cols
    )
    layer1 = (
        f"SELECT *{plain} FROM (SELECT *{rfc} FROM (SELECT *{fast}, "
        f"TRY_CAST(regexp_extract(filename, {q(contract.day_pattern)}, 1) AS DATE) AS __day FROM {scan}))"
    )
    typed_cols = [c for c in cols if c.type not in ("string", "enum")]
    layer2 = (
        "SELECT filename AS __file, __day, "
        f"CAST(__day - DATE '1970-01-01' AS BIGINT) * {MICROS_PER_DAY} AS __day_start, "
        + ", ".join(
            f"{typed_expr(c)} AS {ident(c.name)}" if c.type not in ("string", "enum") else ident(c.name)
            for c in cols
        )
        + "".join(f", {ident(c.name)} AS {ident('raw_' + c.name)}" for c in typed_cols)
        + f" FROM ({layer1})"
    )
    conds = [v for c in cols for v in violations(c, part)]
    ok = "NOT (" + " OR ".join(cond for cond, _ in conds) + ")"
    layer3 = (
        "SELECT __file, __day, "
        + ", ".join(ident(c.name) for c in cols)
        + "".join(f", CASE WHEN NOT __ok THEN {ident('raw_' + c.name)} END AS {ident('raw_' + c.name)}"
                  for c in typed_cols)
        + f", __ok FROM (SELECT *, {ok} AS __ok FROM ({layer2}))"
    )
    steps = Steps()
    con.execute(f"CREATE TEMP TABLE checked AS {layer3}", [files])
    # The rowids now hold the scan's order; nothing after needs it kept.
    con.execute("SET preserve_insertion_order = false")
    steps("read, type, check")

    # Keys seen more than once among the rows that break no rule, per partition,
    # with the first row by scan order; the later ones are duplicates.
    con.execute(
        f"""CREATE TEMP TABLE firsts AS
            SELECT __day, {key}, min(rowid) AS __first FROM checked WHERE __ok
            GROUP BY ALL HAVING count(*) > 1"""
    )
    con.execute(
        f"""CREATE TEMP TABLE dups AS
            SELECT c.rowid AS __row, f.__first, c.__day, c.{ident(amount.name)} AS __amount
            FROM checked c JOIN firsts f ON c.__day = f.__day AND c.{key} = f.{key}
            WHERE c.__ok AND c.rowid > f.__first"""
    )
    steps("dedupe")

    def ts_out(c):
        return f"make_timestamp({ident(c.name)})::TIMESTAMPTZ AS {ident(c.name)}" if c.type == "timestamptz" else ident(c.name)

    silver_cols = ", ".join(ts_out(c) for c in cols)
    con.execute(
        f"""COPY (SELECT {silver_cols}, __file AS _source_file, rowid AS _scan_row, __day AS day
                  FROM checked c WHERE __ok AND NOT EXISTS (SELECT 1 FROM dups d WHERE d.__row = c.rowid))
            TO {q(out + '/silver')} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PARTITION_BY (day))"""
    )
    steps("write silver")
    reasons = "list_filter([" + ", ".join(
        f"CASE WHEN {cond} THEN {q(reason)} END" for cond, reason in conds
    ) + "], r -> r IS NOT NULL)"
    text_cols = ", ".join(
        ident(c.name) if c.type in ("string", "enum") else f"{ident('raw_' + c.name)} AS {ident(c.name)}"
        for c in cols
    )
    con.execute(
        f"""COPY (SELECT __day AS source_partition, __file AS source_file, rowid AS scan_row,
                         {text_cols}, {reasons} AS reasons
                  FROM (SELECT *, rowid, CAST(__day - DATE '1970-01-01' AS BIGINT) * {MICROS_PER_DAY} AS __day_start
                        FROM checked WHERE NOT __ok))
            TO {q(out + '/quarantine/rules.parquet')} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"""
    )
    # Records the reader refused: one per (file, line), with every error DuckDB gave.
    con.execute(
        f"""CREATE TEMP TABLE unreadable AS
            SELECT TRY_CAST(regexp_extract(s.file_path, {q(contract.day_pattern)}, 1) AS DATE) AS __day,
                   s.file_path AS source_file, e.line AS line_number, any_value(e.csv_line) AS raw_line,
                   list(e.error_type || ': ' || e.error_message) AS reasons
            FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id)
            GROUP BY ALL"""
    )
    con.execute(
        f"""COPY (SELECT __day AS source_partition, * EXCLUDE (__day) FROM unreadable)
            TO {q(out + '/quarantine/unreadable.parquet')} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"""
    )
    con.execute(
        f"""COPY (SELECT c.__day AS source_partition, c.__file AS source_file, c.rowid AS scan_row,
                         {', '.join('c.' + ident(c.name) if c.type != 'timestamptz' else 'make_timestamp(c.' + ident(c.name) + ')::TIMESTAMPTZ AS ' + ident(c.name) for c in cols)},
                         f.__file || ':' || d.__first AS duplicate_of
                  FROM dups d JOIN checked c ON c.rowid = d.__row JOIN checked f ON f.rowid = d.__first)
            TO {q(out + '/condemned.parquet')} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"""
    )
    steps("write quarantine, condemned")

    days: dict[str, dict] = {}

    def day(d) -> dict:
        return days.setdefault(
            str(d), {"rows": 0, "valid": 0, "bad": 0, "duplicates": 0, "sum_amount_valid_cents": 0}
        )

    for d, n, bad, good, cents in con.execute(
        f"""SELECT __day, count(*), count(*) FILTER (WHERE NOT __ok), count(*) FILTER (WHERE __ok),
                   CAST(coalesce(sum({ident(amount.name)}) FILTER (WHERE __ok), 0) * 100 AS HUGEINT)
            FROM checked GROUP BY 1"""
    ).fetchall():
        f = day(d)
        f["rows"] += n
        f["bad"] += bad
        f["valid"] += good
        f["sum_amount_valid_cents"] += int(cents)
    for d, n, cents in con.execute(
        "SELECT __day, count(*), CAST(coalesce(sum(__amount), 0) * 100 AS HUGEINT) FROM dups GROUP BY 1"
    ).fetchall():
        f = day(d)
        f["duplicates"] += n
        f["valid"] -= n
        f["sum_amount_valid_cents"] -= int(cents)
    for d, n in con.execute("SELECT __day, count(*) FROM unreadable GROUP BY 1").fetchall():
        f = day(d)
        f["rows"] += n
        f["bad"] += n
    steps("figures")
    ct.print_figures(f"duckdb {duckdb.__version__}", started, cpu0, days)


if __name__ == "__main__":
    main()
