//! Streams Bronze files into [`RawBatch`]es: field text per contract column, plus the
//! raw record text and line number of every row so a rejected row can be quarantined
//! exactly as it was written. Records that cannot even be split into fields (wrong
//! field count, invalid UTF-8, oversized) become structural rejects here.

mod csv;
mod json;
mod open;
mod parquet;
pub mod range;
mod sniff;

use std::io::Read;
use std::sync::Arc;

use arrow_array::builder::{ArrayBuilder, StringBuilder};
use arrow_array::StringArray;

use crate::contract::{Contract, SourceFormat};
use crate::error::{FloeError, Result};
use floe_lake::storage::{BronzeStore, Fingerprint};

pub use open::open_input;
pub use range::{ByteRange, RangeRead};

/// Rows per batch: large enough for vectorised validation and Parquet encoding,
/// small enough that a batch of wide rows stays a few MiB.
pub const DEFAULT_BATCH_ROWS: usize = 32 * 1024;

/// How much of an oversized record is kept as its raw text in quarantine.
pub const RAW_TEXT_KEEP: usize = 4096;

/// A row that was rejected before typing: it is quarantined with these reasons.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    pub file: Arc<str>,
    pub line: u64,
    pub raw: String,
    pub reasons: Vec<String>,
}

/// Field texts of up to `DEFAULT_BATCH_ROWS` records of one file.
#[derive(Debug)]
pub struct RawBatch {
    pub file: Arc<str>,
    /// One array per contract column; null where the field is empty or absent.
    pub columns: Vec<StringArray>,
    /// Line number (1-based) where each record starts.
    pub lines: Vec<u64>,
    /// Raw text of each record, without its line terminator.
    pub raw: StringArray,
    /// For each contract column absent from the file's header, its name.
    pub missing_columns: Vec<Option<String>>,
    /// Records rejected while splitting; they count as rows of this batch.
    pub rejects: Vec<Reject>,
}

impl RawBatch {
    pub fn num_rows(&self) -> usize {
        self.lines.len()
    }
}

/// A text file, or a byte range of one, as a format reader takes it.
pub(crate) struct TextInput<'a> {
    pub stream: Box<dyn Read>,
    /// Newlines in the file before the stream's first byte (a byte range's start).
    pub lines_before: u64,
    /// The file's location, as rows and rejects name it.
    pub name: Arc<str>,
    /// The file's location, as errors name it.
    pub path: &'a str,
}

/// Accumulates records of one file into batches.
pub(crate) struct BatchBuilder {
    file: Arc<str>,
    columns: Vec<StringBuilder>,
    lines: Vec<u64>,
    raw: StringBuilder,
    missing_columns: Vec<Option<String>>,
    rejects: Vec<Reject>,
    batch_rows: usize,
}

impl BatchBuilder {
    pub fn new(
        file: Arc<str>,
        ncols: usize,
        missing: Vec<Option<String>>,
        batch_rows: usize,
    ) -> Self {
        Self {
            file,
            columns: (0..ncols).map(|_| StringBuilder::new()).collect(),
            lines: Vec::with_capacity(batch_rows),
            raw: StringBuilder::new(),
            missing_columns: missing,
            rejects: Vec::new(),
            batch_rows,
        }
    }

    pub fn set_missing_columns(&mut self, missing: Vec<Option<String>>) {
        self.missing_columns = missing;
    }

    /// Appends one record; `field(i)` gives the text of contract column i.
    pub fn push<'a>(&mut self, line: u64, raw: &str, field: impl Fn(usize) -> Option<&'a str>) {
        for (i, builder) in self.columns.iter_mut().enumerate() {
            match field(i) {
                Some(v) if !v.is_empty() => builder.append_value(v),
                _ => builder.append_null(),
            }
        }
        self.lines.push(line);
        self.raw.append_value(raw);
    }

    pub fn reject(&mut self, line: u64, raw: String, reason: String) {
        self.rejects.push(Reject {
            file: self.file.clone(),
            line,
            raw,
            reasons: vec![reason],
        });
    }

    pub fn is_full(&self) -> bool {
        self.lines.len() + self.rejects.len() >= self.batch_rows
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.rejects.is_empty()
    }

    pub fn take(&mut self) -> RawBatch {
        RawBatch {
            file: self.file.clone(),
            columns: self.columns.iter_mut().map(finish_like).collect(),
            lines: std::mem::replace(&mut self.lines, Vec::with_capacity(self.batch_rows)),
            raw: finish_like(&mut self.raw),
            missing_columns: self.missing_columns.clone(),
            rejects: std::mem::take(&mut self.rejects),
        }
    }
}

/// The builder's array, leaving in its place a builder with room for as many
/// values and bytes: the next batch of a file is much like this one, and
/// growing a builder value by value copies its buffers again and again.
fn finish_like(builder: &mut StringBuilder) -> StringArray {
    let next = StringBuilder::with_capacity(builder.len(), builder.values_slice().len());
    std::mem::replace(builder, next).finish()
}

/// Counts of one file read to its end.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileStats {
    /// Bytes read from storage (compressed size for compressed files).
    pub bytes: u64,
    pub records: u64,
    /// For a byte range read: newlines in the file before the next range's
    /// first record (see [`RangeRead::lines_before`]).
    pub lines_after_range: Option<u64>,
}

/// Reads the file at `location` in `store` to its end (on a blocking thread),
/// handing each full batch to `sink`.
pub fn read_file(
    store: &dyn BronzeStore,
    location: &str,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<FileStats> {
    read_file_part(store, location, None, contract, batch_rows, sink)
}

/// [`read_file`], or only the records of `range` of it (see [`range`]).
pub fn read_file_part(
    store: &dyn BronzeStore,
    location: &str,
    range: Option<RangeRead>,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<FileStats> {
    let path = location;
    if contract.source.format == SourceFormat::Parquet && range.is_none() {
        let file = store.open_ranges(location)?;
        let (records, bytes) =
            parquet::read_parquet(file, Arc::from(location), path, contract, batch_rows, sink)?;
        return Ok(FileStats {
            bytes,
            records,
            lines_after_range: None,
        });
    }
    let (reader, lines_before, bytes, opened) = match range {
        None => {
            let (reader, counter) = open_input(
                store,
                location,
                contract.source.compression,
                contract.max_expansion,
            )?;
            (reader, 0, Some(counter), None)
        }
        Some(read) => {
            let open = open_byte_range(store, location, read, contract)?;
            let counts = (open.lines_at_start, open.newlines);
            let stream: Box<dyn Read> = open.stream;
            (stream, open.lines_before, None, Some(counts))
        }
    };
    let input = TextInput {
        stream: sniff::require_text(reader, location)?,
        lines_before,
        name: Arc::from(location),
        path,
    };
    let records = match contract.source.format {
        SourceFormat::Csv => csv::read_csv(input, contract, batch_rows, sink),
        SourceFormat::Ndjson => json::read_ndjson(input, contract, batch_rows, sink),
        SourceFormat::JsonArray => json::read_json_array(input, contract, batch_rows, sink),
        SourceFormat::Parquet => unreachable!("read above"),
    }
    .map_err(name_a_bomb)?;
    Ok(FileStats {
        // A range reports its own length: the bytes it owns of the file.
        bytes: bytes.map_or_else(|| range.map_or(0, |r| r.range.len()), |c| c.get()),
        records,
        lines_after_range: opened.map(|(at_start, newlines)| at_start + newlines.get()),
    })
}

/// The stream of `range` of an uncompressed NDJSON or CSV file.
fn open_byte_range(
    store: &dyn BronzeStore,
    location: &str,
    read: RangeRead,
    contract: &Contract,
) -> Result<range::OpenRange> {
    let range = read.range;
    if !range::splittable(contract, location) {
        return Err(FloeError::Input {
            path: location.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "a task was planned to read {range} of it, but only uncompressed NDJSON, \
                     and CSV whose contract says `source.csv.newlines_in_values = false`, \
                     are read in ranges; plan the run again with this contract"
                ),
            ),
        });
    }
    let file: Arc<dyn floe_lake::storage::RangeReader> = Arc::from(store.open_ranges(location)?);
    let header = (contract.source.format == SourceFormat::Csv && contract.source.csv.header)
        .then_some(contract.max_record_bytes as u64);
    range::open_range(file, read, header).map_err(|source| FloeError::Input {
        path: location.to_string(),
        source,
    })
}

/// A read stopped by the decompressor's bound is not worth retrying: say so.
fn name_a_bomb(e: FloeError) -> FloeError {
    match e {
        FloeError::Input { path, source } => {
            match source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<open::ExpansionExceeded>())
            {
                Some(bomb) => FloeError::DecompressionBomb {
                    path,
                    detail: bomb.to_string(),
                },
                None => FloeError::Input { path, source },
            }
        }
        other => other,
    }
}

/// [`read_file`] (or `range` of it) for a file planned as `planned`: refuses a file that is no
/// longer that version before reading, and fails a read during which it
/// changed, so a task never mixes two versions of a file or loads one the run
/// did not plan.
pub fn read_planned_file(
    store: &dyn BronzeStore,
    location: &str,
    planned: &Fingerprint,
    range: Option<RangeRead>,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<FileStats> {
    let changed = |found: String| FloeError::InputChanged {
        path: location.to_string(),
        planned: planned.to_string(),
        found,
    };
    let before = store.stat(location)?.fingerprint();
    if !planned.same_version(&before) {
        return Err(changed(before.to_string()));
    }
    let read = read_file_part(store, location, range, contract, batch_rows, sink);
    match store.stat(location) {
        Ok(after) if !planned.same_version(&after.fingerprint()) => {
            Err(changed(after.fingerprint().to_string()))
        }
        Ok(_) => read,
        Err(_) if read.is_err() => read,
        Err(gone) => Err(changed(format!("unreadable: {gone}"))),
    }
}

/// Keeps at most [`RAW_TEXT_KEEP`] bytes of a record for quarantine, as text.
pub(crate) fn raw_text(bytes: &[u8]) -> String {
    let trimmed = trim_terminator(bytes);
    let keep = &trimmed[..trimmed.len().min(RAW_TEXT_KEEP)];
    String::from_utf8_lossy(keep).into_owned()
}

pub(crate) fn trim_terminator(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    b.strip_suffix(b"\r").unwrap_or(b)
}

#[cfg(test)]
mod tests;
