//! Re-validating quarantined rows one by one: each raw record goes back
//! through the task's reader (behind its file's CSV header) and the current
//! contract's validator.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use arrow_array::{Array, Int32Array, Int64Array, RecordBatch};
use arrow_schema::SchemaRef;

use super::one_file::OneFile;
use super::{column, strings, EXHAUSTED, MAX_ATTEMPTS};
use crate::contract::{Compression, Contract, SourceFormat};
use crate::error::{FloeError, Result};
use crate::source::{open_input, read_file, Reject};
use crate::table::CondemnedRow;
use crate::validate::{PartitionValue, Validator};
use floe_lake::storage::BronzeStore;

/// A row of the quarantine table, as reprocessing needs it.
#[derive(Debug, Clone)]
pub(super) struct Quarantined {
    pub file: Arc<str>,
    pub line: u64,
    pub raw: String,
    pub attempt_count: i32,
}

pub(super) fn quarantined_rows(batch: &RecordBatch) -> Result<Vec<Quarantined>> {
    let files = strings(batch, "source_file")?;
    let lines: &Int64Array = column(batch, "line_number")?;
    let raws = strings(batch, "raw_line")?;
    let counts: &Int32Array = column(batch, "attempt_count")?;
    Ok((0..batch.num_rows())
        .map(|i| Quarantined {
            file: Arc::from(files.value(i)),
            line: lines.value(i).max(0) as u64,
            raw: raws.value(i).to_string(),
            attempt_count: if counts.is_null(i) {
                1
            } else {
                counts.value(i)
            },
        })
        .collect())
}

/// Where each re-validated row goes.
#[derive(Default)]
pub(super) struct Outcome {
    pub valid: Vec<RecordBatch>,
    /// The Bronze file and line of each row of `valid`, in order.
    pub valid_origins: Vec<(Arc<str>, u64)>,
    pub valid_rows: u64,
    /// Still failing, with their new attempt counts.
    pub quarantined: Vec<Reject>,
    pub attempt_counts: Vec<i32>,
    pub condemned: Vec<CondemnedRow>,
}

impl Outcome {
    pub fn rows(&self) -> u64 {
        self.valid_rows + self.quarantined.len() as u64 + self.condemned.len() as u64
    }

    fn still_failing(&mut self, row: &Quarantined, reasons: Vec<String>) {
        let attempts = row.attempt_count.saturating_add(1);
        if attempts >= MAX_ATTEMPTS {
            self.condemned.push(CondemnedRow {
                file: row.file.clone(),
                line: row.line,
                raw: row.raw.clone(),
                reason: format!("{EXHAUSTED} {attempts} times; last: {}", reasons.join("; ")),
                duplicate_of: String::new(),
            });
        } else {
            self.quarantined.push(Reject {
                file: row.file.clone(),
                line: row.line,
                raw: row.raw.clone(),
                reasons,
            });
            self.attempt_counts.push(attempts);
        }
    }
}

/// Runs every row through the reader and `contract`'s validator (owning
/// `owned`); blocking (it may read CSV headers from Bronze).
pub(super) fn revalidate(
    rows: &[Quarantined],
    contract: &Contract,
    schema: SchemaRef,
    owned: Option<PartitionValue>,
    bronze: &dyn BronzeStore,
) -> Result<Outcome> {
    // The record is held in memory, uncompressed.
    let mut plain = contract.clone();
    plain.source.compression = Compression::None;
    if plain.source.format == SourceFormat::Parquet {
        // Quarantine holds a Parquet row as a JSON object of its values by column name.
        plain.source.format = SourceFormat::Ndjson;
        for column in &mut plain.columns {
            column.path = None;
        }
    }
    let plain = Arc::new(plain);
    let mut validator = Validator::new(plain.clone(), schema, owned);
    let mut headers: HashMap<Arc<str>, std::result::Result<Vec<u8>, String>> = HashMap::new();
    let mut out = Outcome::default();
    for row in rows {
        if row.raw.contains(char::REPLACEMENT_CHARACTER) {
            // Quarantine keeps such a row as a lossy copy: passing the copy would
            // load bytes the file never had.
            let why = "its bytes were not valid UTF-8 and quarantine holds a lossy copy: fix \
                       the file and load the day again";
            out.still_failing(row, vec![why.into()]);
            continue;
        }
        let stored = contract.source.compression;
        let bytes = match record_bytes(&plain, stored, row, &mut headers, bronze) {
            Ok(bytes) => bytes,
            Err(why) => {
                out.still_failing(row, vec![why]);
                continue;
            }
        };
        // Named `file:line`, so a duplicate's `duplicate_of` points at the row it repeats.
        let name = format!("{}:{}", row.file, row.line);
        let mut results = Vec::new();
        let read = read_file(&OneFile(bytes), &name, &plain, 16, &mut |raw| {
            results.push(validator.validate(raw)?);
            Ok(())
        });
        let total: usize = results.iter().map(|v| v.rows_out()).sum();
        if let Err(e @ FloeError::KeySpill { .. }) = read {
            // The machine's trouble, not the row's: the pass is retried.
            return Err(e);
        }
        if let Err(e) = read {
            out.still_failing(row, vec![format!("cannot be read back: {e}")]);
            continue;
        }
        if total != 1 {
            let why = format!("reads back as {total} records, not one");
            out.still_failing(row, vec![why]);
            continue;
        }
        let v = results
            .into_iter()
            .find(|v| v.rows_out() == 1)
            .expect("one row");
        if v.valid.num_rows() == 1 {
            out.valid_rows += 1;
            out.valid.push(v.valid);
            out.valid_origins.push((row.file.clone(), row.line));
        } else if let Some(reject) = v.quarantined.into_iter().next() {
            out.still_failing(row, reject.reasons);
        } else if let Some(dup) = v.condemned.into_iter().next() {
            // `file:line:N` of the synthetic file: keep `file:line`.
            let of = dup.duplicate_of;
            let duplicate_of = of.rsplit_once(':').map_or(of.as_str(), |(head, _)| head);
            out.condemned.push(CondemnedRow {
                file: row.file.clone(),
                line: row.line,
                raw: row.raw.clone(),
                reason: format!("duplicate of {duplicate_of}"),
                duplicate_of: duplicate_of.to_string(),
            });
        }
    }
    Ok(out)
}

/// The record as the reader expects a file: behind its file's header for a
/// CSV with one, as a one-element array for a JSON array.
fn record_bytes(
    contract: &Contract,
    stored: Compression,
    row: &Quarantined,
    headers: &mut HashMap<Arc<str>, std::result::Result<Vec<u8>, String>>,
    bronze: &dyn BronzeStore,
) -> std::result::Result<Vec<u8>, String> {
    let raw = row.raw.as_bytes();
    Ok(match contract.source.format {
        SourceFormat::Csv if contract.source.csv.header => {
            let header = headers
                .entry(row.file.clone())
                .or_insert_with(|| first_line(bronze, &row.file, stored, contract.max_expansion))
                .clone()?;
            [&header[..], b"\n", raw, b"\n"].concat()
        }
        SourceFormat::Csv | SourceFormat::Ndjson | SourceFormat::Parquet => [raw, b"\n"].concat(),
        SourceFormat::JsonArray => [b"[", raw, b"]"].concat(),
    })
}

/// The header line of a Bronze file (decompressed as the contract says).
fn first_line(
    bronze: &dyn BronzeStore,
    file: &str,
    compression: Compression,
    max_expansion: u64,
) -> std::result::Result<Vec<u8>, String> {
    let why = |e: String| format!("cannot read the CSV header of {file}: {e}");
    let (reader, _) =
        open_input(bronze, file, compression, max_expansion).map_err(|e| why(e.to_string()))?;
    let mut line = Vec::new();
    BufReader::new(reader.take(HEADER_LIMIT))
        .read_until(b'\n', &mut line)
        .map_err(|e| why(e.to_string()))?;
    Ok(crate::source::trim_terminator(&line).to_vec())
}

/// Longest header line read back from a Bronze file.
const HEADER_LIMIT: u64 = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use floe_lake::storage::LocalStore;

    fn parquet_contract(min_amount: &str) -> Contract {
        let text = format!(
            r#"
[pipeline]
name = "payments"
version = 1
[source]
location = "payments/*.parquet"
format = "parquet"
[target]
table = "silver.payments"
quarantine_table = "silver.payments_q"
condemned_table = "silver.payments_c"
[[columns]]
name = "id"
type = "long"
required = true
[[columns]]
name = "method"
type = "string"
path = "card.method"
[[columns]]
name = "amount"
type = "decimal(12,2)"
min = {min_amount}
"#
        );
        Contract::parse(&text, std::path::Path::new("payments.toml")).unwrap()
    }

    /// A Parquet row is quarantined as a JSON object by column name (not by
    /// path); reprocessing reads it back as such.
    #[test]
    fn a_quarantined_parquet_row_is_read_back_by_column_name() {
        let row = Quarantined {
            file: Arc::from("/bronze/payments/part-0.parquet"),
            line: 7,
            raw: r#"{"id":"7","method":"visa","amount":"-1.50"}"#.into(),
            attempt_count: 1,
        };
        let check = |contract: Contract| {
            let schema = crate::validate::contract_columns(&contract);
            revalidate(
                std::slice::from_ref(&row),
                &contract,
                schema,
                None,
                &LocalStore,
            )
            .unwrap()
        };
        let still = check(parquet_contract("0.01"));
        assert_eq!(still.valid_rows, 0);
        assert!(still.quarantined[0].reasons.join(" ").contains("amount"));

        let fixed = check(parquet_contract("-10"));
        assert_eq!(fixed.valid_rows, 1, "{:?}", fixed.quarantined);
        let methods = fixed.valid[0].column_by_name("method").unwrap();
        let methods = methods
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(methods.value(0), "visa");
    }
}
