//! Turns the raw TOML into a checked [`Contract`]: every mistake names its key.

use std::collections::HashSet;
use std::path::Path;

use super::error::Checker;
use super::names::{identifier, table_name};
use super::raw::{RawColumn, RawContract};
use super::source::{build_source, check_paths};
use super::types::{parse_transform, PARTITION_SPELLINGS, TYPE_SPELLINGS};
use super::*;
use crate::values;

const DEFAULT_TARGET_FILE_SIZE_MB: i64 = 128;
const DEFAULT_MAX_RECORD_BYTES: i64 = 16 * 1024 * 1024;
const DEFAULT_REJECTION_MIN_ROWS: i64 = 1000;
/// Text compresses 3–20× with gzip or zstd; a bomb expands about 1000×.
const DEFAULT_MAX_EXPANSION: i64 = 200;

pub(super) fn build(text: &str, origin: &Path) -> Result<Contract, ContractError> {
    let raw: RawContract = toml::from_str(text).map_err(|e| syntax_error(text, origin, &e))?;
    let check = Checker { file: origin };

    let name = identifier(&check, "pipeline.name", &raw.pipeline.name)?;
    let version = positive_u32(&check, "pipeline.version", raw.pipeline.version)?;
    let columns = build_columns(&check, &raw.columns)?;
    let source = build_source(&check, &raw.source)?;
    check_paths(&check, source.format, &columns)?;
    let target = build_target(&check, &raw.target, &columns)?;
    let dedupe_key = match &raw.dedupe {
        None => Vec::new(),
        Some(d) => build_dedupe(&check, &d.key, &columns)?,
    };
    let max_record_bytes = raw
        .limits
        .as_ref()
        .and_then(|l| l.max_record_bytes)
        .unwrap_or(DEFAULT_MAX_RECORD_BYTES);
    if max_record_bytes < 1024 {
        return Err(check.invalid(
            "limits.max_record_bytes",
            max_record_bytes.to_string(),
            "at least 1024",
        ));
    }
    let max_rejection_rate = raw.limits.as_ref().and_then(|l| l.max_rejection_rate);
    if let Some(rate) = max_rejection_rate {
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(check.invalid(
                "limits.max_rejection_rate",
                rate.to_string(),
                "a share of rows above 0 and at most 1 (e.g. 0.2 for 20%)",
            ));
        }
    }
    let rejection_min_rows = raw
        .limits
        .as_ref()
        .and_then(|l| l.rejection_min_rows)
        .unwrap_or(DEFAULT_REJECTION_MIN_ROWS);
    if rejection_min_rows < 1 {
        return Err(check.invalid(
            "limits.rejection_min_rows",
            rejection_min_rows.to_string(),
            "at least 1",
        ));
    }
    let max_expansion = raw
        .limits
        .as_ref()
        .and_then(|l| l.max_expansion)
        .unwrap_or(DEFAULT_MAX_EXPANSION);
    if max_expansion < 2 {
        return Err(check.invalid(
            "limits.max_expansion",
            max_expansion.to_string(),
            "a ratio of at least 2 (decompressed bytes per compressed byte)",
        ));
    }
    let maintenance = raw
        .maintenance
        .as_ref()
        .map(|m| super::policy::build_maintenance(&check, m))
        .transpose()?;
    let schedule = raw
        .schedule
        .as_ref()
        .map(|s| super::schedule::build_schedule(&check, s))
        .transpose()?;
    let freshness = raw
        .freshness
        .as_ref()
        .map(|f| super::freshness::build_freshness(&check, f, target.partition.as_ref()))
        .transpose()?;
    let models = super::model::build_models(&check, text, &raw.models, &target)?;
    let audits = super::audits::build_audits(&check, raw.audits.as_ref(), target.publish)?;
    Ok(Contract {
        name,
        version,
        source,
        target,
        dedupe_key,
        columns,
        max_record_bytes: max_record_bytes as usize,
        max_rejection_rate,
        rejection_min_rows: rejection_min_rows as u64,
        max_expansion: max_expansion as u64,
        maintenance,
        schedule,
        freshness,
        models,
        audits,
        origin: origin.to_path_buf(),
        text: text.to_string(),
    })
}

fn syntax_error(text: &str, origin: &Path, e: &toml::de::Error) -> ContractError {
    let offset = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    ContractError::Syntax {
        file: origin.to_path_buf(),
        line,
        column,
        message: e.message().to_string(),
    }
}

fn positive_u32(check: &Checker, key: &str, v: i64) -> Result<u32, ContractError> {
    u32::try_from(v)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| check.invalid(key, v.to_string(), "a whole number from 1 to 4294967295"))
}

fn build_target(
    check: &Checker,
    raw: &raw::RawTarget,
    columns: &[ColumnSpec],
) -> Result<TargetSpec, ContractError> {
    let table = table_name(check, "target.table", &raw.table)?;
    let quarantine_table = table_name(check, "target.quarantine_table", &raw.quarantine_table)?;
    let condemned_table = table_name(check, "target.condemned_table", &raw.condemned_table)?;
    let names = [&table, &quarantine_table, &condemned_table];
    if names[0] == names[1] || names[0] == names[2] || names[1] == names[2] {
        return Err(check.invalid(
            "target",
            "the same table named twice",
            "three distinct tables for table, quarantine_table and condemned_table",
        ));
    }
    let partition = match raw.partition.as_deref().map(str::trim) {
        None | Some("none") | Some("") => None,
        Some(spelling) => Some(build_partition(check, spelling, columns)?),
    };
    let size_mb = raw
        .target_file_size_mb
        .unwrap_or(DEFAULT_TARGET_FILE_SIZE_MB);
    if !(1..=4096).contains(&size_mb) {
        return Err(check.invalid(
            "target.target_file_size_mb",
            size_mb.to_string(),
            "a size from 1 to 4096 (MiB)",
        ));
    }
    Ok(TargetSpec {
        table,
        partition,
        schema_version: raw
            .schema_version
            .map(|v| positive_u32(check, "target.schema_version", v))
            .transpose()?
            .unwrap_or(1),
        quarantine_table,
        condemned_table,
        target_file_size_bytes: size_mb as u64 * 1024 * 1024,
        lineage: raw.lineage.unwrap_or(true),
        publish: build_publish(check, raw.publish.as_deref())?,
    })
}

fn build_publish(check: &Checker, spelling: Option<&str>) -> Result<Publish, ContractError> {
    match spelling.map(str::trim) {
        None | Some("auto") => Ok(Publish::Auto),
        Some("direct") => Ok(Publish::Direct),
        Some("manual") => Ok(Publish::Manual),
        Some(other) => Err(check.invalid(
            "target.publish",
            other.to_string(),
            "\"direct\" (each task's rows are visible on main as it commits), \"auto\" (the \
             run is staged on its own branch and published whole once every task succeeded) or \
             \"manual\" (staged, then published once an operator approves it)",
        )),
    }
}

fn build_partition(
    check: &Checker,
    spelling: &str,
    columns: &[ColumnSpec],
) -> Result<PartitionTransform, ContractError> {
    let key = "target.partition";
    let (kind, column_name) = parse_transform(spelling)
        .ok_or_else(|| check.invalid(key, format!("`{spelling}`"), PARTITION_SPELLINGS))?;
    let column = columns
        .iter()
        .position(|c| c.name == column_name)
        .ok_or_else(|| {
            check.invalid(
                key,
                format!("column `{column_name}`, which is not declared"),
                "a column from [[columns]]",
            )
        })?;
    let col = &columns[column];
    if kind != TransformKind::Identity && !col.data_type.is_temporal() {
        return Err(check.invalid(
            key,
            format!(
                "`{spelling}` on column `{column_name}` of type {}",
                col.data_type
            ),
            "year, month and day on a date, timestamp or timestamptz column",
        ));
    }
    if !col.required {
        return Err(check.invalid(
            key,
            format!("partition column `{column_name}` that is not required"),
            "`required = true` on the partition column, so every valid row has a partition",
        ));
    }
    Ok(PartitionTransform { kind, column })
}

fn build_dedupe(
    check: &Checker,
    key: &[String],
    columns: &[ColumnSpec],
) -> Result<Vec<usize>, ContractError> {
    if key.is_empty() {
        return Err(check.invalid("dedupe.key", "an empty list", "one or more column names"));
    }
    key.iter()
        .map(|name| {
            columns.iter().position(|c| &c.name == name).ok_or_else(|| {
                check.invalid(
                    "dedupe.key",
                    format!("column `{name}`, which is not declared"),
                    "names of columns from [[columns]]",
                )
            })
        })
        .collect()
}

fn build_columns(check: &Checker, raw: &[RawColumn]) -> Result<Vec<ColumnSpec>, ContractError> {
    if raw.is_empty() {
        return Err(check.invalid("columns", "no columns", "at least one [[columns]] entry"));
    }
    let mut seen = HashSet::new();
    let columns = raw
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let col = build_column(check, i, c)?;
            if !seen.insert(col.name.clone()) {
                return Err(check.invalid(
                    format!("columns[{i}].name"),
                    format!("`{}` declared twice", col.name),
                    "unique column names",
                ));
            }
            Ok(col)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (i, column) in columns.iter().enumerate() {
        let Some(old) = &column.renamed_from else {
            continue;
        };
        if seen.contains(old) {
            return Err(check.invalid(
                format!("columns[{i}].renamed_from"),
                format!("`{old}`, which another column of this contract is named"),
                "the previous name of this column, no longer used by any column",
            ));
        }
    }
    Ok(columns)
}

fn build_column(check: &Checker, i: usize, raw: &RawColumn) -> Result<ColumnSpec, ContractError> {
    let key = |k: &str| format!("columns[{i}].{k}");
    let name = raw.name.trim().to_string();
    let valid_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !name.starts_with("_floe");
    if !valid_name {
        return Err(check.invalid(
            key("name"),
            format!("`{}`", raw.name),
            "letters, digits and underscores, not starting with a digit or `_floe`",
        ));
    }
    let data_type = DataType::parse(&raw.data_type, raw.values.as_deref())
        .map_err(|found| check.invalid(key("type"), found, TYPE_SPELLINGS))?;
    if let DataType::Enum(values) = &data_type {
        if values.is_empty() {
            return Err(check.invalid(
                key("values"),
                "no values",
                "`values = [...]` listing the enum's values",
            ));
        }
    } else if raw.values.is_some() {
        return Err(check.invalid(
            key("values"),
            format!("`values` on a {} column", data_type),
            "`values` only with `type = \"enum\"` (use `allowed` for other columns)",
        ));
    }
    let formats = raw.formats.clone().unwrap_or_default();
    if !formats.is_empty() && !data_type.is_temporal() {
        return Err(check.invalid(
            key("formats"),
            format!("`formats` on a {data_type} column"),
            "`formats` only on date, timestamp and timestamptz columns",
        ));
    }
    for f in &formats {
        if !values::is_valid_format(f) {
            return Err(check.invalid(
                key("formats"),
                format!("`{f}`"),
                "chrono strftime patterns such as `%Y-%m-%d %H:%M:%S`",
            ));
        }
    }
    if (raw.min.is_some() || raw.max.is_some())
        && !(data_type.is_numeric() || data_type.is_temporal())
    {
        let (k, v) = match (&raw.min, &raw.max) {
            (Some(v), _) => ("min", v),
            (None, Some(v)) => ("max", v),
            (None, None) => unreachable!("checked above"),
        };
        return Err(check.invalid(
            key(k),
            format!("min/max on a {data_type} column ({k} = {v})"),
            "min/max only on numeric, date and timestamp columns (use max_length for strings)",
        ));
    }
    let bound = |k: &str, v: &Option<toml::Value>| {
        v.as_ref()
            .map(|v| parse_bound(&data_type, v, &formats))
            .transpose()
            .map_err(|found| {
                check.invalid(
                    key(k),
                    found,
                    format!("a value of the column's type {data_type}"),
                )
            })
    };
    let min = bound("min", &raw.min)?;
    let max = bound("max", &raw.max)?;
    let regex = raw
        .regex
        .as_ref()
        .map(|r| regex::Regex::new(r))
        .transpose()
        .map_err(|e| {
            check.invalid(
                key("regex"),
                format!("an invalid pattern ({e})"),
                "a valid regular expression",
            )
        })?;
    let is_text = matches!(data_type, DataType::String | DataType::Enum(_));
    if (regex.is_some() || raw.max_length.is_some()) && !is_text {
        let k = if regex.is_some() {
            "regex"
        } else {
            "max_length"
        };
        return Err(check.invalid(
            key(k),
            format!("{k} on a {data_type} column"),
            "regex and max_length only on string and enum columns",
        ));
    }
    let max_length =
        raw.max_length
            .map(|n| {
                usize::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                    check.invalid(key("max_length"), n.to_string(), "a positive length")
                })
            })
            .transpose()?;
    let allowed = match (&data_type, &raw.allowed) {
        (DataType::Enum(values), None) => Some(values.clone()),
        (DataType::Enum(_), Some(_)) => {
            return Err(check.invalid(
                key("allowed"),
                "`allowed` on an enum column",
                "the enum's `values` alone",
            ))
        }
        (_, Some(a)) if a.is_empty() => {
            return Err(check.invalid(key("allowed"), "an empty list", "one or more values"))
        }
        (_, a) => a.clone(),
    };
    let description = raw
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(String::from);
    let renamed_from = raw.renamed_from.as_deref().map(str::trim).map(String::from);
    if renamed_from
        .as_deref()
        .is_some_and(|old| old.is_empty() || old == name)
    {
        return Err(check.invalid(
            key("renamed_from"),
            format!("`{}`", renamed_from.unwrap_or_default()),
            "the column's previous name, different from its name",
        ));
    }
    Ok(ColumnSpec {
        description,
        renamed_from,
        name,
        data_type,
        required: raw.required.unwrap_or(false),
        min,
        max,
        regex,
        allowed,
        max_length,
        formats,
        path: raw
            .path
            .as_deref()
            .map(JsonPath::parse)
            .transpose()
            .map_err(|found| {
                check.invalid(
                    key("path"),
                    found,
                    "keys separated by dots, each with any [index], e.g. `payment.method` or `items[0].sku`",
                )
            })?,
    })
}

fn parse_bound(data_type: &DataType, v: &toml::Value, formats: &[String]) -> Result<Bound, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        other => return Err(format!("`{other}`")),
    };
    let parsed = match data_type {
        DataType::Int | DataType::Long => text.parse::<i64>().ok().map(Bound::Integer),
        DataType::Double => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Bound::Double),
        DataType::Decimal { precision, scale } => {
            values::parse_decimal(&text, *precision, *scale).map(Bound::Decimal)
        }
        DataType::Date => values::parse_date(&text, formats).map(Bound::Date),
        DataType::Timestamp => {
            values::parse_timestamp_micros(&text, formats, false).map(Bound::Micros)
        }
        DataType::Timestamptz => {
            values::parse_timestamp_micros(&text, formats, true).map(Bound::Micros)
        }
        _ => None,
    };
    parsed.ok_or_else(|| format!("`{text}`"))
}
