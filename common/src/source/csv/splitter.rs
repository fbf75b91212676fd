//! Splits a CSV stream into records. csv-core defines what a record is and
//! reports how many input bytes each used, which is what lets a rejected row
//! keep its exact raw text; a line [`split_simple`] splits exactly as csv-core
//! would is split straight from the read buffer, without copying its fields.

use std::io::Read;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::line::{simple_options, split_simple};
use crate::contract::CsvOptions;
use crate::source::RAW_TEXT_KEEP;

/// The read buffer's size.
pub(super) const CHUNK: usize = 256 * 1024;

/// Buffers csv-core writes a record's fields into, and the spans of the
/// fields of the record last read.
pub(super) struct Record {
    fields: Vec<u8>,
    /// csv-core's field ends (its output buffer; only its first entries are a record's).
    ends: Vec<usize>,
    /// Where each field of the record last read starts, and (for a line split
    /// without csv-core) ends.
    starts: Vec<usize>,
    simple_ends: Vec<usize>,
    /// The record's raw bytes as read (capped once the record is oversized).
    raw: Vec<u8>,
}

impl Record {
    pub fn new() -> Self {
        Self {
            fields: vec![0; 4096],
            ends: vec![0; 64],
            starts: Vec::with_capacity(64),
            simple_ends: Vec::with_capacity(64),
            raw: Vec::with_capacity(4096),
        }
    }
}

/// One record: its raw bytes (line terminator included) and its fields.
pub(super) struct View<'a> {
    pub raw: &'a [u8],
    /// The record's length in the input (more than `raw` when oversized).
    pub raw_len: usize,
    pub oversized: bool,
    fields: &'a [u8],
    starts: &'a [usize],
    ends: &'a [usize],
}

impl View<'_> {
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn field(&self, i: usize) -> Option<&[u8]> {
        (i < self.len()).then(|| &self.fields[self.starts[i]..self.ends[i]])
    }

    /// True for a record that is only a blank line (not a row).
    pub fn is_blank(&self) -> bool {
        self.len() == 1
            && self.field(0).is_some_and(<[u8]>::is_empty)
            && crate::source::trim_terminator(self.raw).is_empty()
    }
}

pub(super) struct Splitter<R> {
    input: R,
    reader: Reader,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    line: u64,
    max_record: usize,
    /// Longest line split without csv-core (None: every line goes to csv-core).
    simple_max: Option<usize>,
    delimiter: u8,
    quote: u8,
    /// csv-core strips a byte-order mark from its first input only: the first
    /// record always goes to it.
    first_read: bool,
}

impl<R: Read> Splitter<R> {
    /// `line`: newlines in the file before `input`'s first byte.
    pub fn new(input: R, opts: CsvOptions, line: u64, max_record: usize) -> Self {
        // csv-core gives up on a record of more than 1 << 16 fields; a line
        // shorter than that cannot have as many.
        let simple_max =
            simple_options(opts.delimiter, opts.quote).then(|| max_record.min(u16::MAX as usize));
        Self {
            input,
            reader: ReaderBuilder::new()
                .delimiter(opts.delimiter)
                .quote(opts.quote)
                .build(),
            buf: vec![0; CHUNK],
            pos: 0,
            len: 0,
            eof: false,
            line,
            max_record,
            simple_max,
            delimiter: opts.delimiter,
            quote: opts.quote,
            first_read: true,
        }
    }

    /// Every record to csv-core, as it splits them (the reference for tests).
    #[cfg(test)]
    pub fn csv_core_only(mut self) -> Self {
        self.simple_max = None;
        self
    }

    /// A smaller read buffer, to put records across its refills in tests.
    #[cfg(test)]
    pub fn with_chunk(mut self, chunk: usize) -> Self {
        self.buf = vec![0; chunk];
        self
    }

    /// Reads the next record; returns it with its start line, or None at the
    /// end of input.
    pub fn next<'a>(&'a mut self, rec: &'a mut Record) -> std::io::Result<Option<(View<'a>, u64)>> {
        // csv-core leaves the `\n` of a `\r\n`, and blank lines, at the start of the
        // next record; skip them so each record's raw text and line are its own.
        loop {
            self.fill_if_drained()?;
            match self.buf[self.pos..self.len].first() {
                Some(b'\n') => self.line += 1,
                Some(b'\r') => {}
                _ => break,
            }
            self.pos += 1;
        }
        let line = self.line + 1;
        if let Some((start, len)) = self.split_simple_line(rec) {
            let raw = &self.buf[start..start + len];
            let view = View {
                raw,
                raw_len: len,
                oversized: false,
                fields: raw,
                starts: &rec.starts,
                ends: &rec.simple_ends,
            };
            return Ok(Some((view, line)));
        }
        self.first_read = false;
        Ok(self.read_with_csv_core(rec)?.map(|view| (view, line)))
    }

    fn fill_if_drained(&mut self) -> std::io::Result<()> {
        if self.pos == self.len && !self.eof {
            self.len = self.input.read(&mut self.buf)?;
            self.pos = 0;
            self.eof = self.len == 0;
        }
        Ok(())
    }

    /// Splits the buffered line at the read position when [`split_simple`]
    /// can, consuming it with its `\n`; returns where its raw text starts in
    /// the buffer and its length: as csv-core's, with the `\r` of a `\r\n`
    /// but not the `\n`, which csv-core leaves to the next record.
    fn split_simple_line(&mut self, rec: &mut Record) -> Option<(usize, usize)> {
        let max = self.simple_max.filter(|_| !self.first_read)?;
        let ahead = &self.buf[self.pos..self.len];
        let newline = memchr::memchr(b'\n', &ahead[..ahead.len().min(max)])?;
        let line = &ahead[..newline];
        let body = line.strip_suffix(b"\r").unwrap_or(line);
        if !split_simple(
            body,
            self.delimiter,
            self.quote,
            &mut rec.starts,
            &mut rec.simple_ends,
        ) {
            return None;
        }
        let start = self.pos;
        self.pos += newline + 1;
        self.line += 1;
        let raw_len = if body.len() < line.len() {
            newline
        } else {
            newline + 1
        };
        Some((start, raw_len))
    }

    fn read_with_csv_core<'a>(&mut self, rec: &'a mut Record) -> std::io::Result<Option<View<'a>>> {
        rec.raw.clear();
        let mut oversized = false;
        let mut raw_len = 0;
        let (mut nout, mut nend) = (0usize, 0usize);
        loop {
            self.fill_if_drained()?;
            let input = &self.buf[self.pos..self.len];
            let (res, nin, o, e) =
                self.reader
                    .read_record(input, &mut rec.fields[nout..], &mut rec.ends[nend..]);
            let consumed = &input[..nin];
            self.line += memchr::memchr_iter(b'\n', consumed).count() as u64;
            raw_len += nin;
            if !oversized {
                rec.raw.extend_from_slice(consumed);
            } else if rec.raw.len() < RAW_TEXT_KEEP {
                let room = RAW_TEXT_KEEP - rec.raw.len();
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
                        oversized = true;
                        nout = 0;
                    } else {
                        let n = (rec.fields.len() * 2).min(self.max_record);
                        rec.fields.resize(n, 0);
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if oversized || rec.ends.len() >= 1 << 16 {
                        oversized = true;
                        nend = 0;
                    } else {
                        let n = rec.ends.len() * 2;
                        rec.ends.resize(n, 0);
                    }
                }
                ReadRecordResult::Record => {
                    oversized |= raw_len > self.max_record;
                    // An oversized record's field ends are not kept: it has no fields.
                    let nfields = if oversized { 0 } else { nend };
                    rec.starts.clear();
                    rec.starts.push(0);
                    rec.starts
                        .extend_from_slice(&rec.ends[..nfields.saturating_sub(1)]);
                    rec.starts.truncate(nfields);
                    return Ok(Some(View {
                        raw: &rec.raw,
                        raw_len,
                        oversized,
                        fields: &rec.fields,
                        starts: &rec.starts,
                        ends: &rec.ends[..nfields],
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}
