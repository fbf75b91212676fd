"""The parts of a Floe contract that the comparison jobs implement, read from the
contract's TOML so that a change to examples/transactions.toml reaches them.

Only what the example contract uses is supported (CSV with a header, one
`{date}` in the location, a day(col) partition, string/enum/int/decimal/boolean/
date/timestamptz columns with Floe's own formats); anything else is refused
rather than approximated. The semantics are Floe's (common/src/validate,
common/src/values.rs), restated here for the two engines:

- An empty field (quoted or not) is null; any other text is kept as written.
- Typed values are parsed from the text with Unicode whitespace trimmed at both
  ends (Rust's `str::trim`); text that does not parse is a type error.
  int: an optional sign and ASCII digits within i32. decimal(p,s): an optional
  sign, digits with at most one point, at least one digit, at most p-s digits
  before the point once leading zeros are dropped, and fraction digits past s
  only if they are zeros (never rounded). boolean: true/t/yes/y/1 or
  false/f/no/n/0, ASCII case ignored. date "%Y-%m-%d": exactly YYYY-MM-DD, a
  real day. timestamptz: "%Y-%m-%dT%H:%M:%S%.f%:z" is RFC 3339 as Floe's fast
  route reads it (`T`, `t` or a space between date and time, 1 to 9 fraction
  digits, `Z`, `z` or ±HH:MM with HH <= 23 and MM <= 59), converted to UTC;
  "%Y-%m-%d %H:%M:%S" is chrono's reading of that pattern (1 to 4 year digits,
  1 or 2 digits for the other fields, whitespace allowed before each number and
  between date and time, second 60 for a leap second), read as UTC. One
  difference is left: chrono also reads a year written with a sign and more
  than 4 digits (`+12025`, `-0044`); the jobs read `+` and leading zeros, but
  only years 0 to 9999.
- Rules: required (not null), type, min/max on the typed value, regex on the
  text (`^...$` anchors as written), allowed/enum values compared exactly,
  max_length in characters, and the partition rule: a row whose partition
  value (the UTC day of the partition column) is not its Bronze file's day is
  rejected, because a task owns the day named by its files' location.
- Dedupe: among the rows that break no rule, a key already seen in the same
  partition is a duplicate; the first by file path and line is kept.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal

# Rust's `char::is_whitespace` (the Unicode White_Space property), as a class
# both RE2 (DuckDB) and the regex crate (Polars) read the same way.
WS = r"[\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"
PLAIN_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"


def ascii_caseless(word: str) -> str:
    """A pattern matching `word` with ASCII letters in either case, and no other
    character (a case-insensitive flag would also fold Unicode letters)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


def bool_pattern(words) -> str:
    return f"^{WS}*(?:{'|'.join(ascii_caseless(w) for w in words)}){WS}*$"


def rfc3339_pattern() -> str:
    """Floe's fast RFC 3339 route, with groups: date, hour, minute, second,
    fraction, offset sign, offset hours, offset minutes."""
    return (
        f"^{WS}*([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})[Tt ]"
        r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,9}))?"
        r"(?:[Zz]|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
        f"{WS}*$"
    )


def plain_pattern() -> str:
    """chrono's "%Y-%m-%d %H:%M:%S", with groups: year, month, day, hour,
    minute, second (ranges are checked on the numbers)."""
    n = lambda width: f"{WS}*([0-9]{{1,{width}}})"  # noqa: E731
    return (
        f"^{WS}*(?:\\+0*)?([0-9]{{1,4}})-{n(2)}-{n(2)}{WS}*{n(2)}:{n(2)}:{n(2)}{WS}*$"
    )


# The common spellings, with no whitespace to trim, that an engine's own cast
# reads exactly as Floe does: a fast path before the exact patterns above.
_HMS = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
FAST_TIMESTAMP = (
    rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(?:[T ]{_HMS}(?:\.[0-9]{{1,6}})?[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]| {_HMS})$"
)
FAST_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
FAST_INT = r"^[0-9]{1,9}$"


def fast_decimal(precision: int, scale: int) -> str:
    return rf"^[0-9]{{1,{precision - scale}}}(?:\.[0-9]{{1,{scale}}})?$"


def date_pattern() -> str:
    return f"^{WS}*([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}){WS}*$"


def int_pattern() -> str:
    return f"^{WS}*([+-]?[0-9]+){WS}*$"


def decimal_pattern(precision: int, scale: int) -> str:
    """The decimal text Floe accepts, trimmed, as group 1."""
    whole = precision - scale
    if whole < 1 or scale < 1:
        raise SystemExit(f"decimal({precision},{scale}) is not supported by the comparison jobs")
    core = (
        rf"[+-]?(?:0*[0-9]{{1,{whole}}}(?:\.[0-9]{{0,{scale}}}0*)?"
        rf"|\.[0-9]{{1,{scale}}}0*)"
    )
    return f"^{WS}*({core}){WS}*$"


@dataclass
class Column:
    name: str
    type: str  # string | enum | int | decimal | boolean | date | timestamptz
    required: bool = False
    regex: str | None = None
    allowed: list[str] | None = None
    max_length: int | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    precision: int = 0
    scale: int = 0


@dataclass
class Contract:
    columns: list[Column]
    dedupe_key: list[str]
    partition_column: str
    # Relative to the Bronze root; `{date}` replaced by `*`.
    glob: str
    day_pattern: str

    def files(self, bronze: str) -> list[str]:
        files = sorted(glob.glob(os.path.join(bronze, self.glob)))
        if not files:
            raise SystemExit(f"no files match {self.glob} under {bronze}")
        header = ",".join(c.name for c in self.columns) + "\n"
        for f in files:
            with open(f, "rb") as fh:
                first = fh.readline().decode("utf-8", "replace")
            if first.replace("\r\n", "\n") != header:
                raise SystemExit(
                    f"{f}: the header is not the contract's columns in order; "
                    "the comparison jobs read columns by position"
                )
        return files

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def load(path: str) -> Contract:
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    source = raw["source"]
    if source.get("format", "csv") != "csv" or source.get("compression", "auto") not in ("auto", "none"):
        raise SystemExit("the comparison jobs read plain CSV only")
    csv = source.get("csv", {})
    if (csv.get("header", True), csv.get("delimiter", ","), csv.get("quote", '"')) != (True, ",", '"'):
        raise SystemExit("the comparison jobs read comma-separated CSV with a header and \" quotes")
    location = source["location"]
    if location.count("{date}") != 1 or "{" in location.replace("{date}", ""):
        raise SystemExit(f"location {location}: only one {{date}} is supported")
    day_pattern = re.escape(location.split("{date}")[0].rsplit("/", 1)[-1]) + r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
    partition = raw["target"]["partition"]
    m = re.fullmatch(r"day\((\w+)\)", partition.replace(" ", ""))
    if not m:
        raise SystemExit(f"partition {partition}: only day(col) is supported")
    columns = []
    for c in raw["columns"]:
        spelling = c["type"].replace(" ", "").lower()
        col = Column(name=c["name"], type=spelling, required=c.get("required", False))
        d = re.fullmatch(r"decimal\((\d+),(\d+)\)", spelling)
        if d:
            col.type, col.precision, col.scale = "decimal", int(d[1]), int(d[2])
        elif spelling == "integer":
            col.type = "int"
        elif spelling == "bool":
            col.type = "boolean"
        if col.type not in ("string", "enum", "int", "decimal", "boolean", "date", "timestamptz"):
            raise SystemExit(f"column {col.name}: type {c['type']} is not supported by the comparison jobs")
        col.regex = c.get("regex")
        col.allowed = c.get("values") if col.type == "enum" else c.get("allowed")
        col.max_length = c.get("max_length")
        for bound in ("min", "max"):
            if bound in c:
                setattr(col, bound, Decimal(str(c[bound])))
        formats = c.get("formats")
        if col.type == "timestamptz" and formats != [RFC3339_FORMAT, PLAIN_FORMAT]:
            raise SystemExit(f"column {col.name}: only formats {[RFC3339_FORMAT, PLAIN_FORMAT]} are supported")
        if col.type == "date" and formats not in (None, [DATE_FORMAT]):
            raise SystemExit(f"column {col.name}: only format {DATE_FORMAT} is supported")
        if col.type in ("timestamptz", "date", "boolean") and (col.min is not None or col.max is not None):
            raise SystemExit(f"column {col.name}: min/max on {col.type} is not supported by the comparison jobs")
        columns.append(col)
    key = raw.get("dedupe", {}).get("key", [])
    if len(key) != 1:
        raise SystemExit("the comparison jobs support a dedupe key of one column")
    return Contract(
        columns=columns,
        dedupe_key=key,
        partition_column=m[1],
        glob=location.replace("{date}", "*"),
        day_pattern=day_pattern,
    )


def default_contract_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "transactions.toml")


def job_setup(doc: str):
    """A job's command line (`BRONZE OUT [--contract PATH]`): the contract, its
    Bronze files and the emptied output folder (with its `quarantine/`)."""
    import argparse
    import shutil

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("bronze")
    ap.add_argument("out")
    ap.add_argument("--contract", default=default_contract_path())
    args = ap.parse_args()
    contract = load(args.contract)
    files = contract.files(args.bronze)
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "quarantine"))
    return contract, files, out


def print_figures(engine: str, started: float, cpu0: float, days: dict) -> None:
    """Prints a job's one JSON object: its per-day figures, wall and CPU seconds
    since `started` / `cpu0` (perf_counter, process_time) and peak RSS."""
    import json
    import resource
    import time

    print(json.dumps({
        "engine": engine,
        "wall": round(time.perf_counter() - started, 3),
        "cpu": round(time.process_time() - cpu0, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "days": dict(sorted(days.items())),
    }))
