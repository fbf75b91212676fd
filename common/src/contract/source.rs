//! The `[source]` table: where Bronze files are, their format and
//! compression, CSV options, and which column paths a format can read.

use std::time::Duration;

use super::error::Checker;
use super::*;

/// CSV fields are flat; Parquet paths go through struct fields only.
pub(super) fn check_paths(
    check: &Checker,
    format: SourceFormat,
    columns: &[ColumnSpec],
) -> Result<(), ContractError> {
    for (i, column) in columns.iter().enumerate() {
        let Some(path) = &column.path else { continue };
        if format == SourceFormat::Csv {
            return Err(check.invalid(
                format!("columns[{i}].path"),
                "a path on a CSV source",
                "`path` only with source.format = \"ndjson\", \"json\" or \"parquet\" (CSV \
                 fields are flat)",
            ));
        }
        if format == SourceFormat::Parquet
            && path.steps().iter().any(|s| matches!(s, Step::Index(_)))
        {
            return Err(check.invalid(
                format!("columns[{i}].path"),
                format!("`{path}`, a list index on a Parquet source"),
                "struct fields only, e.g. `payment.method` (list indexes are read from JSON)",
            ));
        }
    }
    Ok(())
}

pub(super) fn build_source(
    check: &Checker,
    raw: &raw::RawSource,
) -> Result<SourceSpec, ContractError> {
    if raw.location.trim().is_empty() {
        return Err(check.invalid(
            "source.location",
            "an empty location",
            "a path template such as `transactions/date={date}/*.csv`",
        ));
    }
    let format = match raw.format.to_ascii_lowercase().as_str() {
        "csv" => SourceFormat::Csv,
        "ndjson" | "jsonl" => SourceFormat::Ndjson,
        "json" => SourceFormat::JsonArray,
        "parquet" => SourceFormat::Parquet,
        other => {
            return Err(check.invalid(
                "source.format",
                format!("`{other}`"),
                "csv, ndjson, json or parquet",
            ))
        }
    };
    let compression = match raw.compression.as_deref().map(str::to_ascii_lowercase) {
        None => Compression::Auto,
        Some(c) => match c.as_str() {
            "auto" => Compression::Auto,
            "none" => Compression::None,
            "gzip" | "gz" => Compression::Gzip,
            "zstd" | "zst" => Compression::Zstd,
            other => {
                return Err(check.invalid(
                    "source.compression",
                    format!("`{other}`"),
                    "auto, none, gzip or zstd",
                ))
            }
        },
    };
    let csv = raw.csv.as_ref();
    let single_byte = |key: &str, v: Option<&String>, default: u8| match v {
        None => Ok(default),
        Some(s) if s.len() == 1 => Ok(s.as_bytes()[0]),
        Some(s) if s == "\\t" => Ok(b'\t'),
        Some(s) => Err(check.invalid(key, format!("`{s}`"), "a single ASCII character")),
    };
    let csv = CsvOptions {
        header: csv.and_then(|c| c.header).unwrap_or(true),
        delimiter: single_byte(
            "source.csv.delimiter",
            csv.and_then(|c| c.delimiter.as_ref()),
            b',',
        )?,
        quote: single_byte("source.csv.quote", csv.and_then(|c| c.quote.as_ref()), b'"')?,
        newlines_in_values: csv.and_then(|c| c.newlines_in_values).unwrap_or(true),
    };
    if format == SourceFormat::Parquet
        && matches!(compression, Compression::Gzip | Compression::Zstd)
    {
        return Err(check.invalid(
            "source.compression",
            "a whole-file compression on a Parquet source",
            "auto or none (Parquet compresses its own pages)",
        ));
    }
    Ok(SourceSpec {
        location: raw.location.trim().to_string(),
        format,
        compression,
        csv,
        continuous: build_continuous(check, raw)?,
    })
}

/// Default of `source.window`: new files gather this long before a run.
const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
/// Default of `source.poll_days`: today and yesterday.
const DEFAULT_POLL_DAYS: u32 = 2;

fn build_continuous(
    check: &Checker,
    raw: &raw::RawSource,
) -> Result<Option<Continuous>, ContractError> {
    const AGE: &str = "a duration such as 30s, 5m or 1h";
    if raw.poll.is_none() && raw.events.is_none() {
        if raw.window.is_some() || raw.poll_days.is_some() {
            return Err(check.invalid(
                "source.window / source.poll_days",
                "set without source.poll or source.events",
                "source.poll (how often the Bronze folder is listed for new files) or \
                 source.events (an SQS queue of the bucket's S3 notifications) beside them",
            ));
        }
        return Ok(None);
    }
    let poll = raw
        .poll
        .as_deref()
        .map(|p| {
            super::parse_age(p)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| check.invalid("source.poll", p, AGE))
        })
        .transpose()?;
    let events = match raw.events.as_deref().map(str::trim) {
        Some("") => {
            return Err(check.invalid(
                "source.events",
                "an empty name",
                "the name of the SQS queue receiving the Bronze bucket's \
                 ObjectCreated notifications",
            ))
        }
        other => other.map(str::to_string),
    };
    let window = match raw.window.as_deref() {
        None => DEFAULT_WINDOW,
        Some(w) => super::parse_age(w).ok_or_else(|| check.invalid("source.window", w, AGE))?,
    };
    let poll_days = match raw.poll_days {
        None => DEFAULT_POLL_DAYS,
        Some(n @ 1..=31) => n as u32,
        Some(n) => {
            return Err(check.invalid(
                "source.poll_days",
                n.to_string(),
                "1 to 31: how many days back (today included, UTC) are listed",
            ))
        }
    };
    Ok(Some(Continuous {
        poll,
        events,
        poll_days,
        window,
    }))
}
