//! Byte ranges of one large text file, each read by its own task.
//!
//! A range `[start, end)` owns the records that *start* in it: its reader skips
//! the tail of a record that began before `start`, and reads past `end` to the
//! end of the last record it owns. Records are split at newlines, so this holds
//! for NDJSON, and for CSV whose values never hold a newline (the contract
//! says so, `source.csv.newlines_in_values = false`); the ranges of a file
//! then read exactly its records, each once, whatever the boundaries.
//!
//! Line numbers are the whole file's: the bytes before the range are scanned
//! for newlines (counted, not parsed). A CSV header is read from the start of
//! the file and put before the range, so every range maps columns alike.

use std::io::Read;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use floe_lake::storage::RangeReader;

use crate::contract::{Compression, Contract, SourceFormat};

/// Why `location` cannot be cut into byte ranges under `contract`; `None`: it can.
pub fn unsplittable(contract: &Contract, location: &str) -> Option<&'static str> {
    let source = &contract.source;
    match source.format {
        SourceFormat::Ndjson => {}
        SourceFormat::Csv if !source.csv.newlines_in_values => {}
        SourceFormat::Csv => {
            return Some(
                "CSV values may hold line breaks (set `source.csv.newlines_in_values = false` \
                 if they never do)",
            )
        }
        SourceFormat::JsonArray => return Some("a JSON array is one document"),
        SourceFormat::Parquet => return Some("Parquet files are read whole"),
    }
    let ext = location.rsplit_once('.').map_or("", |(_, ext)| ext);
    let compressed = match source.compression {
        Compression::Auto => matches!(ext, "gz" | "gzip" | "zst" | "zstd"),
        Compression::None => false,
        Compression::Gzip | Compression::Zstd => true,
    };
    compressed.then_some("a compressed file is read from its start")
}

/// True when `location` can be cut into byte ranges under `contract`.
pub fn splittable(contract: &Contract, location: &str) -> bool {
    unsplittable(contract, location).is_none()
}

/// How much is fetched from storage at a time.
const CHUNK: usize = 8 << 20;

/// A byte range to read, and what a task before it said of the lines before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRead {
    pub range: ByteRange,
    /// Newlines before the range's first record, when the task that read the
    /// range before it handed the count on: the bytes before are not scanned.
    pub lines_before: Option<u64>,
}

/// Bytes `[start, end)` of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `size` bytes cut into `pieces` ranges of (nearly) equal length, in order.
    pub fn split(size: u64, pieces: u64) -> Vec<ByteRange> {
        let pieces = pieces.clamp(1, size.max(1));
        (0..pieces)
            .map(|i| ByteRange {
                start: size * i / pieces,
                end: size * (i + 1) / pieces,
            })
            .collect()
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bytes {}..{}", self.start, self.end)
    }
}

/// The bytes of `file` from `pos` to its end, fetched a chunk at a time.
pub(crate) struct Sequential {
    file: Arc<dyn RangeReader>,
    pos: u64,
    chunk: Vec<u8>,
    at: usize,
}

impl Sequential {
    pub fn new(file: Arc<dyn RangeReader>, pos: u64) -> Self {
        Self {
            file,
            pos,
            chunk: Vec::new(),
            at: 0,
        }
    }

    /// The next bytes, fetched if none are left; empty at the end of the file.
    fn fill(&mut self) -> std::io::Result<&[u8]> {
        if self.at == self.chunk.len() {
            let left = self.file.len().saturating_sub(self.pos);
            let len = left.min(CHUNK as u64) as usize;
            self.chunk = if len == 0 {
                Vec::new()
            } else {
                self.file.read_range(self.pos, len)?
            };
            self.pos += self.chunk.len() as u64;
            self.at = 0;
        }
        Ok(&self.chunk[self.at..])
    }
}

impl Read for Sequential {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.at += n;
        Ok(n)
    }
}

/// Newlines in `[from, to)` of `file`.
fn count_newlines(file: &dyn RangeReader, from: u64, to: u64) -> std::io::Result<u64> {
    let mut count = 0;
    let mut pos = from;
    while pos < to {
        let len = (to - pos).min(CHUNK as u64) as usize;
        let bytes = file.read_range(pos, len)?;
        count += memchr::memchr_iter(b'\n', &bytes).count() as u64;
        pos += len as u64;
    }
    Ok(count)
}

/// Where the first record starting at or after `start` begins (`None`: no
/// record does), and how many newlines come before it (`known`, or counted).
fn first_record(
    file: &dyn RangeReader,
    start: u64,
    known: Option<u64>,
) -> std::io::Result<Option<(u64, u64)>> {
    if start == 0 {
        return Ok(Some((0, 0)));
    }
    // A record starts at `start` only if the byte before it ends a line.
    let mut before = match known {
        Some(lines) => lines.saturating_sub(1),
        None => count_newlines(file, 0, start - 1)?,
    };
    let mut pos = start - 1;
    let size = file.len();
    while pos < size {
        let len = (size - pos).min(CHUNK as u64) as usize;
        let bytes = file.read_range(pos, len)?;
        if let Some(i) = memchr::memchr(b'\n', &bytes) {
            before += 1;
            let begins = pos + i as u64 + 1;
            return Ok((begins < size).then_some((begins, before)));
        }
        pos += len as u64;
    }
    Ok(None)
}

/// The leading lines of a CSV file up to its header (blank lines, then the
/// header record, with its newline), and how many newlines they hold. At most
/// `max` bytes are read for the header.
fn csv_header(file: &Arc<dyn RangeReader>, max: u64) -> std::io::Result<(Vec<u8>, u64)> {
    let mut head = Vec::new();
    let mut reader = std::io::BufReader::new(Sequential::new(file.clone(), 0).take(max + 2));
    let mut byte = [0u8; 1];
    let mut lines = 0;
    let mut blank = true;
    while reader.read(&mut byte)? == 1 {
        head.push(byte[0]);
        match byte[0] {
            b'\n' if !blank => return Ok((head, lines + 1)),
            b'\n' => lines += 1,
            b'\r' | b' ' | b'\t' => {}
            _ => blank = false,
        }
    }
    Ok((head, lines))
}

/// Stops a stream after the record that holds byte `end - 1` (the stream's
/// bytes are numbered from `pos`), counting the newlines it passes on.
struct UntilRecordEnd<R> {
    inner: R,
    pos: u64,
    end: u64,
    /// The byte at `end - 1`, once read.
    last_owned: Option<u8>,
    done: bool,
    newlines: LineCount,
}

/// Newlines a range's stream held, readable once it was read to its end.
#[derive(Debug, Clone, Default)]
pub struct LineCount(Arc<std::sync::atomic::AtomicU64>);

impl LineCount {
    pub fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn add(&self, bytes: &[u8]) {
        let n = memchr::memchr_iter(b'\n', bytes).count() as u64;
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

impl<R: Read> Read for UntilRecordEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.read_owned(buf)?;
        self.newlines.add(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> UntilRecordEnd<R> {
    fn read_owned(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        let start = self.pos;
        self.pos += n as u64;
        if self.pos <= self.end {
            if self.pos == self.end && n > 0 {
                self.last_owned = Some(buf[n - 1]);
            }
            return Ok(n);
        }
        // This read crosses `end`, or is past it.
        let owned = self.end.saturating_sub(start) as usize;
        if owned > 0 {
            self.last_owned = Some(buf[owned - 1]);
        }
        if self.last_owned == Some(b'\n') {
            self.done = true;
            return Ok(owned);
        }
        match memchr::memchr(b'\n', &buf[owned..n]) {
            Some(i) => {
                self.done = true;
                Ok(owned + i + 1)
            }
            None => Ok(n),
        }
    }
}

/// A range opened for reading.
pub(crate) struct OpenRange {
    /// Its records, for a reader to parse from the start.
    pub stream: Box<dyn Read + Send>,
    /// Newlines before the stream's first byte in the file: the line numbering
    /// to continue from (lowered by a prepended CSV header's lines, which the
    /// reader counts again).
    pub lines_before: u64,
    /// Newlines in the file before the range's first record.
    pub lines_at_start: u64,
    /// Newlines in the range's records, once read: the next range's
    /// `lines_at_start` is this one's plus these.
    pub newlines: LineCount,
}

/// The records of `read.range` of `file`. With `csv_header_max` set, the
/// file's header comes first in the stream.
pub(crate) fn open_range(
    file: Arc<dyn RangeReader>,
    read: RangeRead,
    csv_header_max: Option<u64>,
) -> std::io::Result<OpenRange> {
    let range = read.range;
    let newlines = LineCount::default();
    let Some((begins, lines_before)) = first_record(&*file, range.start, read.lines_before)? else {
        return Ok(OpenRange {
            stream: Box::new(std::io::empty()),
            lines_before: 0,
            lines_at_start: read.lines_before.unwrap_or(0),
            newlines,
        });
    };
    let records: Box<dyn Read + Send> = if begins >= range.end {
        Box::new(std::io::empty())
    } else {
        Box::new(UntilRecordEnd {
            inner: Sequential::new(file.clone(), begins),
            pos: begins,
            end: range.end,
            last_owned: None,
            done: false,
            newlines: newlines.clone(),
        })
    };
    let open = |stream, lines| OpenRange {
        stream,
        lines_before: lines,
        lines_at_start: lines_before,
        newlines,
    };
    match csv_header_max {
        Some(max) if range.start > 0 => {
            let (head, head_lines) = csv_header(&file, max)?;
            let lines = lines_before.saturating_sub(head_lines);
            Ok(open(
                Box::new(std::io::Cursor::new(head).chain(records)),
                lines,
            ))
        }
        _ => Ok(open(records, lines_before)),
    }
}

#[cfg(test)]
mod tests;
