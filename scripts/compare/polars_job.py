"""Floe's Silver job for a contract (examples/transactions.toml by default),
written for Polars: every rule of the contract (see contract.py for the exact
semantics), records with a wrong number of fields or invalid UTF-8 counted as
rejects, duplicates of the dedupe key condemned with the first by file path and
line kept, and the valid, quarantined and condemned rows written as plain
Parquet (zstd level 1, as Floe writes) under OUT.

    python polars_job.py BRONZE OUT [--contract PATH]

Prints one JSON object on stdout: {"engine", "wall", "cpu", "peak_rss_mib",
"days": {"YYYY-MM-DD": {"rows", "valid", "bad", "duplicates",
"sum_amount_valid_cents"}}}, the day being the Bronze file's (its `{date}`).
bench-compare.sh checks those figures against the generated ground truth
before it prints any time.

Polars' CSV reader pads a record with too few fields and (with
truncate_ragged_lines) cuts one with too many, and it replaces invalid UTF-8
(utf8-lossy) rather than refusing it. So the files are read twice, in parallel
scans: as CSV records, and as physical lines (no quoting, one column). A line
starts a record unless an odd number of quotes came before it; a record's field
count is 1 + its commas outside quoted fields, that is the commas of its lines
less the commas inside the field values the CSV reader returned. A record
holding U+FFFD held invalid UTF-8, which is exact because the job first checks
that no file holds a real U+FFFD (nor the byte 0x1F the line scan splits on):
it refuses such files rather than guess. Both scans must agree on every file's
record count; the job refuses the input otherwise.
"""

from __future__ import annotations

import mmap
import os
import re
import sys
import time
from decimal import Decimal

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract as ct  # noqa: E402

import polars as pl  # noqa: E402

MICROS_PER_DAY = 86_400_000_000
LINE_SPLIT = "\x1f"
REPLACEMENT = "\ufffd"
# As Floe writes its tables' data files.
PARQUET = {"compression": "zstd", "compression_level": 1}


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


def check_bytes(files: list[str]) -> None:
    """Refuses files the two scans could not read exactly (see the module doc)."""
    for f in files:
        if os.path.getsize(f) == 0:
            continue
        with open(f, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if m.find(REPLACEMENT.encode()) >= 0:
                raise SystemExit(f"{f} holds U+FFFD, which this job cannot tell from invalid UTF-8")
            if m.find(LINE_SPLIT.encode()) >= 0:
                raise SystemExit(f"{f} holds the byte 0x1F, which this job's line scan splits on")


def digits(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Int64, strict=False)


def fast_or_exact(x: pl.Expr, fast: str, exact: str) -> pl.Expr:
    """The text itself where it has a spelling Polars' cast reads as Floe does,
    else group 1 of the exact pattern (null when it does not match), which is
    only searched in the other values."""
    is_fast = x.str.contains(fast)
    return pl.when(is_fast).then(x).otherwise(pl.when(~is_fast).then(x).str.extract(exact, 1))


def typed_expr(c: ct.Column) -> pl.Expr:
    """The column's typed value from its text (null when empty or unparseable)."""
    x = pl.col(c.name)
    if c.type in ("string", "enum"):
        return x
    if c.type == "int":
        return fast_or_exact(x, ct.FAST_INT, ct.int_pattern()).cast(pl.Int32, strict=False)
    if c.type == "decimal":
        text = fast_or_exact(x, ct.fast_decimal(c.precision, c.scale), ct.decimal_pattern(c.precision, c.scale))
        return text.cast(pl.Decimal(c.precision, c.scale), strict=False)
    if c.type == "boolean":
        return (
            pl.when(x.is_in(ct.TRUE_WORDS)).then(True)
            .when(x.is_in(ct.FALSE_WORDS)).then(False)
            .when(x.str.contains(ct.bool_pattern(ct.TRUE_WORDS))).then(True)
            .when(x.str.contains(ct.bool_pattern(ct.FALSE_WORDS))).then(False)
            .otherwise(None)
        )
    if c.type == "date":
        return fast_or_exact(x, ct.FAST_DATE, ct.date_pattern()).str.to_date("%Y-%m-%d", strict=False)
    if c.type == "timestamptz":
        return timestamp_micros(x)
    raise AssertionError(c.type)


def days_micros(date_text: pl.Expr) -> pl.Expr:
    return date_text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Int64) * MICROS_PER_DAY


RFC_GROUPS = ["d", "h", "mi", "s", "f", "sg", "oh", "om"]
PLAIN_GROUPS = ["y", "mo", "d", "h", "mi", "s"]


def timestamp_groups(name: str) -> list[list[pl.Expr]]:
    """Two stages of columns: the RFC 3339 groups of a timestamptz column's text
    (`__rfc_<name>`), then the plain format's groups (`__plain_<name>`) for
    the values RFC 3339 did not read only."""
    x = pl.col(name)
    rfc = x.str.extract_groups(ct.rfc3339_pattern()).struct.rename_fields(RFC_GROUPS).alias(f"__rfc_{name}")
    unread = pl.col(f"__rfc_{name}").struct.field("d").is_null()
    plain = (
        pl.when(unread).then(x).otherwise(None)
        .str.extract_groups(ct.plain_pattern())
        .struct.rename_fields(PLAIN_GROUPS)
        .alias(f"__plain_{name}")
    )
    return [[rfc], [plain]]


def timestamp_micros(x: pl.Expr) -> pl.Expr:
    """Microseconds since the epoch, UTC, from the groups of timestamp_groups:
    RFC 3339 as Floe's fast route reads it, else chrono's "%Y-%m-%d %H:%M:%S"
    (see contract.py)."""
    name = x.meta.output_name()
    g = pl.col(f"__rfc_{name}").struct.field
    sign = pl.when(g("sg") == "-").then(-1).when(g("sg") == "+").then(1).otherwise(0)
    rfc = (
        days_micros(g("d"))
        + ((digits(g("h")) * 60 + digits(g("mi"))) * 60 + digits(g("s"))) * 1_000_000
        + digits(g("f").fill_null("").str.slice(0, 6).str.pad_end(6, "0"))
        - sign * (digits(g("oh")).fill_null(0) * 60 + digits(g("om")).fill_null(0)) * 60_000_000
    )
    pf = pl.col(f"__plain_{name}").struct.field
    date = pf("y").str.zfill(4) + "-" + pf("mo").str.zfill(2) + "-" + pf("d").str.zfill(2)
    plain = (
        pl.when((digits(pf("h")) <= 23) & (digits(pf("mi")) <= 59) & (digits(pf("s")) <= 60))
        .then(days_micros(date) + ((digits(pf("h")) * 60 + digits(pf("mi"))) * 60 + digits(pf("s"))) * 1_000_000)
        .otherwise(None)
    )
    return pl.when(g("d").is_not_null()).then(rfc).otherwise(plain)


def violations(c: ct.Column, part_col: str) -> list[tuple[pl.Expr, str]]:
    """(condition, reason) pairs over the text column `<name>` and the typed
    column `__t_<name>`; each condition is never null."""
    text = pl.col(c.name)
    typed = pl.col(c.name) if c.type in ("string", "enum") else pl.col(f"__t_{c.name}")
    out = []
    if c.required:
        out.append((text.is_null(), f"{c.name}: required, but empty"))
    if c.type not in ("string", "enum"):
        out.append((text.is_not_null() & typed.is_null(), f"{c.name}: not a valid {c.type}"))
    bound = lambda b: pl.lit(b, dtype=pl.Decimal(c.precision, c.scale)) if c.type == "decimal" else pl.lit(int(b))  # noqa: E731
    if c.min is not None:
        out.append(((typed < bound(c.min)).fill_null(False), f"{c.name}: below the minimum {c.min}"))
    if c.max is not None:
        out.append(((typed > bound(c.max)).fill_null(False), f"{c.name}: above the maximum {c.max}"))
    if c.regex is not None:
        out.append((text.str.contains(c.regex).not_().fill_null(False), f"{c.name}: does not match the pattern {c.regex}"))
    if c.allowed is not None:
        out.append((text.is_not_null() & text.is_in(c.allowed).not_(), f"{c.name}: not one of {', '.join(c.allowed)}"))
    if c.max_length is not None:
        out.append(((text.str.len_chars() > c.max_length).fill_null(False), f"{c.name}: longer than max_length {c.max_length}"))
    if c.name == part_col:
        out.append((
            ((typed < pl.col("__day_start")) | (typed >= pl.col("__day_start") + MICROS_PER_DAY)).fill_null(False),
            f"{c.name}: outside the file's partition",
        ))
    return out


def main() -> None:
    contract, files, out = ct.job_setup(__doc__)
    cols = contract.columns
    names = [c.name for c in cols]
    key = contract.dedupe_key[0]
    part = contract.partition_column
    amount = next((c for c in cols if c.name == "amount" and c.type == "decimal"), None)
    if amount is None:
        raise SystemExit("the per-day sums need a decimal column `amount`")

    started = time.perf_counter()
    cpu0 = time.process_time()
    steps = Steps()
    check_bytes(files)
    steps("check bytes")

    records = pl.scan_csv(
        files, has_header=True, schema={n: pl.String for n in names}, encoding="utf8-lossy",
        null_values=[""], truncate_ragged_lines=True, include_file_paths="__file",
    )
    lines = (
        pl.scan_csv(
            files, has_header=False, schema={"__raw": pl.String}, separator=LINE_SPLIT, quote_char=None,
            encoding="utf8-lossy", truncate_ragged_lines=True, empty_string_is_null=False,
            include_file_paths="__file",
        )
        .with_row_index("__i")
        .with_columns(
            __header=pl.col("__file") != pl.col("__file").shift(1).fill_null(""),
            __q=pl.col("__raw").str.count_matches('"', literal=True),
            __c=pl.col("__raw").str.count_matches(",", literal=True),
            __u=pl.col("__raw").str.contains(REPLACEMENT, literal=True).cast(pl.Int64),
        )
        .with_columns(
            # Inside a quoted field at the line's start: the line continues a record.
            __inside=(pl.col("__q").cum_sum() - pl.col("__q")) % 2 == 1,
            __c_before=pl.col("__c").cum_sum() - pl.col("__c"),
            __u_before=pl.col("__u").cum_sum() - pl.col("__u"),
            __header_i=pl.when(pl.col("__header")).then(pl.col("__i")).forward_fill(),
            __c_all=pl.col("__c").sum(),
            __u_all=pl.col("__u").sum(),
        )
        # Lines that start a record (blank ones included: the CSV reader returns
        # them as empty records) or a file; each record's commas and U+FFFD are
        # those of its lines up to the next such line.
        .filter(pl.col("__header") | ~pl.col("__inside"))
        .with_columns(
            __commas=pl.col("__c_before").shift(-1, fill_value=pl.col("__c_all").first()) - pl.col("__c_before"),
            __utf8=(pl.col("__u_before").shift(-1, fill_value=pl.col("__u_all").first()) - pl.col("__u_before")) > 0,
        )
        .filter(~pl.col("__header"))
        .select(
            pl.col("__file").alias("__line_file"),
            (pl.col("__i") - pl.col("__header_i") + 1).alias("__line"),
            "__commas", "__utf8",
            pl.col("__raw").is_in(["", "\r"]).alias("__blank"),
        )
    )
    recs, lns = pl.collect_all([records, lines])
    steps("read records and lines")
    if recs.height != lns.height or not (recs["__file"] == lns["__line_file"]).all():
        raise SystemExit("the CSV scan and the line scan disagree on the records (quoting this job cannot follow)")
    df = pl.concat([recs, lns.drop("__line_file")], how="horizontal").lazy().with_columns(
        pl.col("__file").cast(pl.Categorical)
    )

    file_days = {f: re.search(contract.day_pattern, f)[1] for f in files}
    day = pl.col("__file").replace_strict(file_days).str.to_date("%Y-%m-%d")
    inner_commas = pl.sum_horizontal(pl.col(n).str.count_matches(",", literal=True).fill_null(0) for n in names)
    conds = [v for c in cols for v in violations(c, part)]
    checked = (
        df.filter(~pl.col("__blank"))
        .with_columns(__day=day, __fields=pl.col("__commas") - inner_commas + 1)
        .with_columns(
            __day_start=pl.col("__day").cast(pl.Int64) * MICROS_PER_DAY,
            __unreadable=pl.col("__utf8") | (pl.col("__fields") != len(names)),
        )
    )
    for stage in range(2):
        checked = checked.with_columns(
            e for c in cols if c.type == "timestamptz" for e in timestamp_groups(c.name)[stage]
        )
    checked = (
        checked.with_columns(typed_expr(c).alias(f"__t_{c.name}") for c in cols if c.type not in ("string", "enum"))
        .drop(f"__{g}_{c.name}" for c in cols if c.type == "timestamptz" for g in ("rfc", "plain"))
        .with_columns(__ok=~pl.any_horizontal([pl.col("__unreadable")] + [cond for cond, _ in conds]))
        .collect()
    )
    steps("type, check")

    # Among the rows that break no rule, the first of each key per partition is
    # kept; rows stay in file path and line order, so first means first there.
    valid = checked.lazy().filter("__ok").with_columns(__first=pl.col(key).is_first_distinct().over("__day"))
    typed_out = [
        pl.col(f"__t_{c.name}").cast(pl.Datetime("us", "UTC")).alias(c.name) if c.type == "timestamptz"
        else pl.col(f"__t_{c.name}").alias(c.name) if c.type not in ("string", "enum")
        else pl.col(c.name)
        for c in cols
    ]
    lineage = [pl.col("__file").alias("_source_file"), pl.col("__line").alias("_source_line")]
    silver, condemned = pl.collect_all([
        valid.filter("__first").select(*typed_out, *lineage, pl.col("__day").alias("day")),
        valid.filter(~pl.col("__first")).select(
            pl.col("__day").alias("source_partition"), pl.col("__file").alias("source_file"),
            pl.col("__line").alias("line_number"), *typed_out, pl.col(key).alias("__key"),
        ),
    ])
    steps("dedupe")
    silver.write_parquet(os.path.join(out, "silver"), partition_by="day", **PARQUET)
    steps("write silver")
    firsts = silver.lazy().select(
        pl.col("day").alias("source_partition"), pl.col(key).alias("__key"),
        pl.format("{}:{}", "_source_file", "_source_line").alias("duplicate_of"),
    )
    condemned = condemned.lazy().join(firsts, on=["source_partition", "__key"], how="left").drop("__key").collect()
    condemned.write_parquet(os.path.join(out, "condemned.parquet"), **PARQUET)

    reasons = pl.concat_list(
        [pl.when(pl.col("__utf8")).then(pl.lit("invalid UTF-8")),
         pl.when(~pl.col("__utf8") & (pl.col("__fields") != len(names)))
         .then(pl.format(f"expected {len(names)} fields (as in the header), found {{}}", "__fields"))]
        + [pl.when(cond & ~pl.col("__unreadable")).then(pl.lit(reason)) for cond, reason in conds]
    ).list.drop_nulls()
    checked.lazy().filter(~pl.col("__ok")).select(
        pl.col("__day").alias("source_partition"), pl.col("__file").alias("source_file"),
        pl.col("__line").alias("line_number"), *names, reasons.alias("reasons"),
    ).collect().write_parquet(os.path.join(out, "quarantine", "quarantine.parquet"), **PARQUET)

    steps("write quarantine, condemned")
    figures = (
        checked.lazy().group_by("__day").agg(
            rows=pl.len(),
            bad=(~pl.col("__ok")).sum(),
            ok=pl.col("__ok").sum(),
            ok_sum=pl.col(f"__t_{amount.name}").filter("__ok").sum(),
        )
    ).join(
        condemned.lazy().group_by("source_partition").agg(duplicates=pl.len(), dup_sum=pl.col(amount.name).sum()),
        left_on="__day", right_on="source_partition", how="left",
    ).collect()
    days = {}
    for r in figures.iter_rows(named=True):
        dups = r["duplicates"] or 0
        total = (r["ok_sum"] or Decimal(0)) - (r["dup_sum"] or Decimal(0))
        days[str(r["__day"])] = {
            "rows": r["rows"],
            "valid": r["ok"] - dups,
            "bad": r["bad"],
            "duplicates": dups,
            "sum_amount_valid_cents": int(total * 100),
        }
    steps("figures")
    ct.print_figures(f"polars {pl.__version__}", started, cpu0, days)


if __name__ == "__main__":
    main()
