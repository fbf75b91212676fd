//! CSV files as batches of field texts, each row with its raw text and line.

mod line;
mod splitter;
#[cfg(test)]
mod tests;

use splitter::{Record, Splitter, View};

use super::{raw_text, trim_terminator, BatchBuilder, RawBatch, TextInput};
use crate::contract::Contract;
use crate::error::{FloeError, Result};

/// Reads `input` to its end, handing each full batch to `sink`; returns
/// how many records it held.
pub(super) fn read_csv(
    input: TextInput<'_>,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<u64> {
    let TextInput {
        stream,
        lines_before,
        name,
        path,
    } = input;
    let mut splitter = Splitter::new(
        stream,
        contract.source.csv,
        lines_before,
        contract.max_record_bytes,
    );
    let io_err = |source| FloeError::Input {
        path: path.to_string(),
        source,
    };
    let ncols = contract.columns.len();
    let mut rec = Record::new();
    // Which field of the file holds each contract column.
    let mut mapping: Vec<Option<usize>> = (0..ncols).map(Some).collect();
    let mut expected_fields = ncols;
    let mut builder = BatchBuilder::new(name, ncols, vec![None; ncols], batch_rows);
    if contract.source.csv.header {
        loop {
            match splitter.next(&mut rec).map_err(io_err)? {
                None => return Ok(0),
                Some((view, _)) if view.is_blank() => continue,
                Some((view, _)) if view.oversized => {
                    return Err(io_err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "the header record is longer than limits.max_record_bytes ({} bytes); is this a CSV file with a header?",
                            contract.max_record_bytes
                        ),
                    )))
                }
                Some((view, _)) => {
                    let n = view.len();
                    let header: Vec<String> = (0..n)
                        .map(|i| String::from_utf8_lossy(view.field(i).unwrap()).trim().to_string())
                        .collect();
                    mapping = contract
                        .columns
                        .iter()
                        .map(|c| header.iter().position(|h| h == &c.name))
                        .collect();
                    let missing = contract
                        .columns
                        .iter()
                        .zip(&mapping)
                        .map(|(c, m)| m.is_none().then(|| c.name.clone()))
                        .collect();
                    builder.set_missing_columns(missing);
                    expected_fields = n;
                    break;
                }
            }
        }
    }
    let mut records = 0u64;
    while let Some((view, line)) = splitter.next(&mut rec).map_err(io_err)? {
        if view.is_blank() {
            continue;
        }
        records += 1;
        push_record(
            &mut builder,
            &view,
            line,
            expected_fields,
            &mapping,
            contract,
        );
        if builder.is_full() {
            sink(builder.take())?;
        }
    }
    if !builder.is_empty() {
        sink(builder.take())?;
    }
    Ok(records)
}

fn push_record(
    builder: &mut BatchBuilder,
    rec: &View<'_>,
    line: u64,
    expected_fields: usize,
    mapping: &[Option<usize>],
    contract: &Contract,
) {
    let n = rec.len();
    if rec.oversized {
        let reason = format!(
            "record of {} bytes exceeds limits.max_record_bytes ({} bytes); its text is cut to the first {} bytes",
            rec.raw_len,
            contract.max_record_bytes,
            super::RAW_TEXT_KEEP
        );
        return builder.reject(line, raw_text(rec.raw), reason);
    }
    if n != expected_fields {
        let reason = format!("expected {expected_fields} fields (as in the header), found {n}");
        return builder.reject(line, raw_text(rec.raw), reason);
    }
    let record = trim_terminator(rec.raw);
    // The SIMD check says whether the record is UTF-8; std's says where not.
    let Ok(raw) = simdutf8::basic::from_utf8(record) else {
        let valid_up_to = std::str::from_utf8(record).map_or_else(|e| e.valid_up_to(), str::len);
        let column = (0..n)
            .find(|&i| simdutf8::basic::from_utf8(rec.field(i).unwrap()).is_err())
            .and_then(|i| mapping.iter().position(|m| *m == Some(i)))
            .map(|c| format!(" in column `{}`", contract.columns[c].name))
            .unwrap_or_default();
        let reason = format!("invalid UTF-8{column} at byte {valid_up_to} of the record");
        return builder.reject(line, raw_text(rec.raw), reason);
    };
    // The whole record is valid UTF-8, so every field is too.
    builder.push(line, raw, |c| {
        mapping[c].and_then(|f| rec.field(f)).map(field_text)
    });
}

/// The text of a field of a record already checked as UTF-8.
fn field_text(b: &[u8]) -> &str {
    // SAFETY: a field is its record's bytes cut at ASCII delimiter or quote
    // bytes, with some ASCII quote bytes removed, and the whole record was
    // checked as UTF-8 above. ASCII bytes never occur inside a multi-byte UTF-8
    // sequence, so cutting there or removing them keeps the text valid.
    unsafe { std::str::from_utf8_unchecked(b) }
}
