//! Parquet input: read a row group at a time (only the contract's columns),
//! columns matched by name (or by a `path` of struct fields), every value
//! turned into the text validation reads, so the same rules judge a Parquet row
//! and a CSV row. A rejected row is kept in quarantine as a JSON object of its
//! values; its line is its position in the file (1-based).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType as ArrowType;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::{BatchBuilder, RawBatch};
use crate::contract::{ColumnSpec, Contract, Step};
use crate::error::{FloeError, Result};
use floe_lake::storage::RangeReader;

/// Bytes read from the end of a file to find its footer in one request.
const FOOTER_PREFETCH: usize = 64 * 1024;

/// Reads the Parquet file behind `file`; returns its row count and the bytes
/// read. Blocking: Parquet's reader is driven on this thread, fetching the
/// contract's column chunks of one row group at a time (one ranged read each).
pub(super) fn read_parquet(
    file: Box<dyn RangeReader>,
    name: Arc<str>,
    path: &str,
    contract: &Contract,
    batch_rows: usize,
    sink: &mut dyn FnMut(RawBatch) -> Result<()>,
) -> Result<(u64, u64)> {
    let ranges = Ranges {
        file: Arc::from(file),
        read: Arc::new(AtomicU64::new(0)),
    };
    check_magic(&ranges).map_err(|e| classify(path, e))?;
    let read = ranges.read.clone();
    futures::executor::block_on(async {
        let builder = ParquetRecordBatchStreamBuilder::new(ranges)
            .await
            .map_err(|e| classify(path, e))?;
        let schema = builder.schema().clone();
        let roots: Vec<usize> = contract
            .columns
            .iter()
            .filter_map(|c| schema.index_of(root_name(c)).ok())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let mut stream = builder
            .with_projection(mask)
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(|e| classify(path, e))?;
        let ncols = contract.columns.len();
        let mut line = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| classify(path, e))?;
            let missing = missing(contract, &batch);
            let mut builder = BatchBuilder::new(name.clone(), ncols, missing, batch_rows);
            push_batch(&mut builder, &batch, contract, &mut line);
            sink(builder.take())?;
        }
        Ok((line, read.load(Ordering::Relaxed)))
    })
}

/// Refuses a file without Parquet's `PAR1` at both ends before its footer is parsed.
fn check_magic(ranges: &Ranges) -> std::result::Result<(), ParquetError> {
    let len = ranges.file.len();
    if len < 12 {
        return Err(ParquetError::General(format!(
            "it is {len} bytes long, shorter than any Parquet file"
        )));
    }
    let head = ranges.fetch(0..4)?;
    let tail = ranges.fetch(len - 4..len)?;
    if &head[..] != b"PAR1" || &tail[..] != b"PAR1" {
        return Err(ParquetError::General(
            "it does not start and end with Parquet's `PAR1` marker".into(),
        ));
    }
    Ok(())
}

/// A storage fault is worth retrying; anything else means the file is not
/// (valid) Parquet.
fn classify(path: &str, e: ParquetError) -> FloeError {
    if let ParquetError::External(inner) = e {
        return match inner.downcast::<std::io::Error>() {
            Ok(io) => FloeError::Input {
                path: path.to_string(),
                source: *io,
            },
            Err(other) => FloeError::NotParquet {
                path: path.to_string(),
                detail: other.to_string(),
            },
        };
    }
    FloeError::NotParquet {
        path: path.to_string(),
        detail: e.to_string(),
    }
}

fn root_name(column: &ColumnSpec) -> &str {
    column
        .path
        .as_ref()
        .map_or(column.name.as_str(), |p| p.root())
}

/// Where a contract column's values are in a batch, or why they cannot be read.
enum Found<'a> {
    Missing,
    /// The leaf array, and the struct arrays on the way to it (a null struct
    /// makes its fields null).
    Values {
        leaf: &'a ArrayRef,
        parents: Vec<&'a ArrayRef>,
    },
    Unreadable(String),
}

fn find<'a>(batch: &'a RecordBatch, column: &ColumnSpec) -> Found<'a> {
    let Some(mut current) = batch.column_by_name(root_name(column)) else {
        return Found::Missing;
    };
    let mut parents = Vec::new();
    let steps = column.path.as_ref().map_or(&[][..], |p| &p.steps()[1..]);
    for step in steps {
        let Step::Key(key) = step else {
            return Found::Unreadable("list indexes are not read from Parquet".into());
        };
        let Some(fields) = current.as_struct_opt() else {
            return Found::Unreadable(format!(
                "path `{}` expects a struct before `{key}`, the file has {}",
                column.path.as_ref().expect("steps come from a path"),
                current.data_type()
            ));
        };
        let Some(child) = fields.column_by_name(key) else {
            return Found::Missing;
        };
        parents.push(current);
        current = child;
    }
    Found::Values {
        leaf: current,
        parents,
    }
}

/// For each contract column absent from the file, its name.
fn missing(contract: &Contract, batch: &RecordBatch) -> Vec<Option<String>> {
    contract
        .columns
        .iter()
        .map(|c| matches!(find(batch, c), Found::Missing).then(|| c.name.clone()))
        .collect()
}

/// How one column's values become text.
enum Reader<'a> {
    Missing,
    Broken(String),
    Text {
        leaf: &'a ArrayRef,
        parents: Vec<&'a ArrayRef>,
        formatter: Option<ArrayFormatter<'a>>,
    },
}

impl Reader<'_> {
    /// The value of row `i` as text (None for null), or why the row is rejected.
    fn text(&self, column: &ColumnSpec, i: usize) -> std::result::Result<Option<String>, String> {
        let (leaf, parents, formatter) = match self {
            Reader::Missing => return Ok(None),
            Reader::Broken(why) => return Err(format!("column `{}`: {why}", column.name)),
            Reader::Text {
                leaf,
                parents,
                formatter,
            } => (leaf, parents, formatter),
        };
        if leaf.is_null(i) || parents.iter().any(|p| p.is_null(i)) {
            return Ok(None);
        }
        match leaf.data_type() {
            ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView => {
                let bytes = binary_value(leaf, i);
                return String::from_utf8(bytes.to_vec()).map(Some).map_err(|e| {
                    format!(
                        "column `{}`: invalid UTF-8 at byte {} of its value",
                        column.name,
                        e.utf8_error().valid_up_to()
                    )
                });
            }
            t if t.is_nested() => {
                return Err(format!(
                    "column `{}` holds a nested {t} where a single value is expected",
                    column.name
                ))
            }
            _ => {}
        }
        let formatter = formatter.as_ref().expect("a formatter for every flat type");
        Ok(Some(formatter.value(i).to_string()))
    }
}

fn binary_value(array: &ArrayRef, i: usize) -> &[u8] {
    match array.data_type() {
        ArrowType::Binary => array.as_binary::<i32>().value(i),
        ArrowType::LargeBinary => array.as_binary::<i64>().value(i),
        _ => array.as_binary_view().value(i),
    }
}

/// Typed dates and timestamps are written in the column's first format (if it
/// has any), so that the format validation reads them back with parses them.
fn options(column: &ColumnSpec) -> FormatOptions<'_> {
    let format = column.formats.first().map(String::as_str);
    FormatOptions::default()
        .with_date_format(format)
        .with_datetime_format(format)
        .with_timestamp_format(format)
        .with_timestamp_tz_format(format)
}

fn reader<'a>(batch: &'a RecordBatch, column: &'a ColumnSpec) -> Reader<'a> {
    match find(batch, column) {
        Found::Missing => Reader::Missing,
        Found::Unreadable(why) => Reader::Broken(why),
        Found::Values { leaf, parents } => {
            let flat = !leaf.data_type().is_nested();
            let formatter = flat
                .then(|| ArrayFormatter::try_new(leaf.as_ref(), &options(column)).ok())
                .flatten();
            if flat && formatter.is_none() && !is_binary(leaf.data_type()) {
                let why = format!(
                    "its Parquet type {} cannot be read as text",
                    leaf.data_type()
                );
                return Reader::Broken(why);
            }
            Reader::Text {
                leaf,
                parents,
                formatter,
            }
        }
    }
}

fn is_binary(t: &ArrowType) -> bool {
    matches!(
        t,
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView
    )
}

fn push_batch(
    builder: &mut BatchBuilder,
    batch: &RecordBatch,
    contract: &Contract,
    line: &mut u64,
) {
    let readers: Vec<Reader> = contract.columns.iter().map(|c| reader(batch, c)).collect();
    let mut values: Vec<Option<String>> = Vec::with_capacity(readers.len());
    for i in 0..batch.num_rows() {
        *line += 1;
        values.clear();
        let mut reason = None;
        for (column, reader) in contract.columns.iter().zip(&readers) {
            match reader.text(column, i) {
                Ok(v) => values.push(v),
                Err(why) => {
                    reason.get_or_insert(why);
                    values.push(None);
                }
            }
        }
        let raw = record_json(contract, &values);
        match reason {
            Some(why) => builder.reject(*line, raw, why),
            None if raw.len() > contract.max_record_bytes => {
                let why = format!(
                    "record of {} bytes exceeds limits.max_record_bytes ({} bytes); its text is cut",
                    raw.len(),
                    contract.max_record_bytes
                );
                builder.reject(*line, super::raw_text(raw.as_bytes()), why);
            }
            None => builder.push(*line, &raw, |c| values[c].as_deref()),
        }
    }
}

/// The row as a JSON object of its values' text, keyed by column name: what
/// quarantine keeps and what reprocessing reads back (as NDJSON).
fn record_json(contract: &Contract, values: &[Option<String>]) -> String {
    let object: serde_json::Map<String, serde_json::Value> = contract
        .columns
        .iter()
        .zip(values)
        .map(|(c, v)| {
            let value = v
                .clone()
                .map_or(serde_json::Value::Null, serde_json::Value::String);
            (c.name.clone(), value)
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// The file as Parquet's reader asks for it: byte ranges, counted. The
/// futures it returns are ready at once: the range is read before they are
/// made, on the blocking thread that drives the reader.
struct Ranges {
    file: Arc<dyn RangeReader>,
    read: Arc<AtomicU64>,
}

impl Ranges {
    fn fetch(&self, range: Range<u64>) -> parquet::errors::Result<Bytes> {
        let len = (range.end - range.start) as usize;
        let bytes = self
            .file
            .read_range(range.start, len)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        self.read.fetch_add(len as u64, Ordering::Relaxed);
        Ok(Bytes::from(bytes))
    }
}

impl AsyncFileReader for Ranges {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        futures::future::ready(self.fetch(range)).boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let len = self.file.len();
        async move {
            // One read of the tail usually holds the whole footer.
            let metadata = ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, len)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
