//! CSV records with csv-core: it reports how many input bytes each record used,
//! which is what lets a rejected row keep its exact raw text.

use std::io::Read;
use std::sync::Arc;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::{raw_text, trim_terminator, BatchBuilder, RawBatch};
use crate::contract::Contract;
use crate::error::{FloeError, Result};

const CHUNK: usize = 256 * 1024;

/// One record's fields as csv-core leaves them: field bytes and field end offsets.
struct Record {
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// The record's raw bytes as read (capped once the record is oversized).
    raw: Vec<u8>,
    oversized: bool,
    raw_len: usize,
}

impl Record {
    fn new() -> Self {
        Self {
            fields: vec![0; 4096],
            ends: vec![0; 64],
            raw: Vec::with_capacity(4096),
            oversized: false,
            raw_len: 0,
        }
    }

    fn field(&self, nfields: usize, i: usize) -> Option<&[u8]> {
        (i < nfields).then(|| &self.fields[if i == 0 { 0 } else { self.ends[i - 1] }..self.ends[i]])
    }
}

/// Splits a stream into records, calling `on_record(record, nfields, line)`.
struct Splitter<R> {
    input: R,
    reader: Reader,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    line: u64,
    max_record: usize,
}

impl<R: Read> Splitter<R> {
    /// Reads the next record into `rec`; returns its field count and start line,
    /// or None at the end of input.
    fn next(&mut self, rec: &mut Record) -> std::io::Result<Option<(usize, u64)>> {
        rec.raw.clear();
        rec.oversized = false;
        rec.raw_len = 0;
        let (mut nout, mut nend) = (0usize, 0usize);
        // csv-core leaves the `\n` of a `\r\n`, and blank lines, at the start of the
        // next record; skip them so each record's raw text and line are its own.
        loop {
            if self.pos == self.len && !self.eof {
                self.len = self.input.read(&mut self.buf)?;
                self.pos = 0;
                self.eof = self.len == 0;
            }
            match self.buf[self.pos..self.len].first() {
                Some(b'\n') => self.line += 1,
                Some(b'\r') => {}
                _ => break,
            }
            self.pos += 1;
        }
        let start_line = self.line;
        loop {
            if self.pos == self.len && !self.eof {
                self.len = self.input.read(&mut self.buf)?;
                self.pos = 0;
                self.eof = self.len == 0;
            }
            let input = &self.buf[self.pos..self.len];
            let (res, nin, o, e) =
                self.reader
                    .read_record(input, &mut rec.fields[nout..], &mut rec.ends[nend..]);
            let consumed = &input[..nin];
            self.line += memchr::memchr_iter(b'\n', consumed).count() as u64;
            rec.raw_len += nin;
            if !rec.oversized {
                rec.raw.extend_from_slice(consumed);
            } else if rec.raw.len() < super::RAW_TEXT_KEEP {
                let room = super::RAW_TEXT_KEEP - rec.raw.len();
                rec.raw
                    .extend_from_slice(&consumed[..consumed.len().min(room)]);
            }
            self.pos += nin;
            nout += o;
            nend += e;
            match res {
                ReadRecordResult::InputEmpty => continue,
                ReadRecordResult::OutputFull => {
                    if rec.fields.len() >= self.max_record {
                        // Keep consuming the record into the same buffer, discarding it.
                        rec.oversized = true;
                        nout = 0;
                    } else {
                        let n = (rec.fields.len() * 2).min(self.max_record);
                        rec.fields.resize(n, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if rec.oversized || rec.ends.len() >= 1 << 16 {
                        rec.oversized = true;
                        nend = 0;
                    } else {
                        let n = rec.ends.len() * 2;
                        rec.ends.resize(n, 0);
                    }
                }
                ReadRecordResult::Record => {
                    if rec.raw_len > self.max_record {
                        rec.oversized = true;
                    }
                    return Ok(Some((nend, start_line + 1)));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

/// True for a record that is only a blank line (not a row).
fn is_blank(rec: &Record, nfields: usize) -> bool {
    nfields == 1 && rec.ends[0] == 0 && trim_terminator(&rec.raw).is_empty()
}

/// `lines_before`: newlines before `input`'s first byte in the file (a byte range).
pub(super) fn read_csv(
    input: Box<dyn Read>,
    lines_before: u64,
    name: Arc<str>,
    path: &str,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<u64> {
    let opts = contract.source.csv;
    let mut splitter = Splitter {
        input,
        reader: ReaderBuilder::new()
            .delimiter(opts.delimiter)
            .quote(opts.quote)
            .build(),
        buf: vec![0; CHUNK],
        pos: 0,
        len: 0,
        eof: false,
        line: lines_before,
        max_record: contract.max_record_bytes,
    };
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
    if opts.header {
        loop {
            match splitter.next(&mut rec).map_err(io_err)? {
                None => return Ok(0),
                Some((n, _)) if is_blank(&rec, n) => continue,
                Some(_) if rec.oversized => {
                    return Err(io_err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "the header record is longer than limits.max_record_bytes ({} bytes); is this a CSV file with a header?",
                            contract.max_record_bytes
                        ),
                    )))
                }
                Some((n, _)) => {
                    let header: Vec<String> = (0..n)
                        .map(|i| String::from_utf8_lossy(rec.field(n, i).unwrap()).trim().to_string())
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
    while let Some((n, line)) = splitter.next(&mut rec).map_err(io_err)? {
        if is_blank(&rec, n) {
            continue;
        }
        records += 1;
        push_record(
            &mut builder,
            &rec,
            n,
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
    rec: &Record,
    n: usize,
    line: u64,
    expected_fields: usize,
    mapping: &[Option<usize>],
    contract: &Contract,
) {
    if rec.oversized {
        let reason = format!(
            "record of {} bytes exceeds limits.max_record_bytes ({} bytes); its text is cut to the first {} bytes",
            rec.raw_len,
            contract.max_record_bytes,
            super::RAW_TEXT_KEEP
        );
        return builder.reject(line, raw_text(&rec.raw), reason);
    }
    if n != expected_fields {
        let reason = format!("expected {expected_fields} fields (as in the header), found {n}");
        return builder.reject(line, raw_text(&rec.raw), reason);
    }
    let raw = match std::str::from_utf8(trim_terminator(&rec.raw)) {
        Ok(raw) => raw,
        Err(e) => {
            let column = (0..n)
                .find(|&i| std::str::from_utf8(rec.field(n, i).unwrap()).is_err())
                .and_then(|i| mapping.iter().position(|m| *m == Some(i)))
                .map(|c| format!(" in column `{}`", contract.columns[c].name))
                .unwrap_or_default();
            let reason = format!(
                "invalid UTF-8{column} at byte {} of the record",
                e.valid_up_to()
            );
            return builder.reject(line, raw_text(&rec.raw), reason);
        }
    };
    // The whole record is valid UTF-8, so every field is too.
    builder.push(line, raw, |c| {
        mapping[c].and_then(|f| rec.field(n, f)).map(field_text)
    });
}

/// The text of a field of a record already checked as UTF-8.
fn field_text(b: &[u8]) -> &str {
    // SAFETY: a field is its record's bytes with some ASCII quote bytes removed,
    // and the whole record was checked as UTF-8 above. ASCII bytes never occur
    // inside a multi-byte UTF-8 sequence, so removing them keeps the text valid.
    unsafe { std::str::from_utf8_unchecked(b) }
}
