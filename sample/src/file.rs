//! Writing one Bronze CSV file: header, then a stream of valid, bad and
//! duplicate records, optionally compressed.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::defect;
use super::row::{self, DayCtx, Record};
use super::truth::{BadKind, FileCounts};
use super::SampleCompression;

const WRITE_BUFFER: usize = 1 << 20;
/// Valid records remembered as duplicate sources. A reservoir sample keeps
/// memory bounded while letting a duplicate copy any earlier valid record of
/// its day, in an earlier file too (as when an upstream system resends rows).
const RESERVOIR: usize = 64;

/// The compressed or plain byte sink under the 1 MiB buffer.
enum Sink {
    Plain(File),
    Gzip(flate2::write::GzEncoder<File>),
    Zstd(zstd::Encoder<'static, File>),
}

impl Sink {
    fn create(path: &Path, compression: SampleCompression) -> io::Result<Sink> {
        let file = File::create(path)?;
        Ok(match compression {
            SampleCompression::None => Sink::Plain(file),
            // Level 1: Bronze realism does not need tight compression, and the
            // default level would make gzip the bottleneck. The gzip header's
            // mtime stays 0, so output is reproducible.
            SampleCompression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::fast(),
            )),
            SampleCompression::Zstd => Sink::Zstd(zstd::Encoder::new(file, 3)?),
        })
    }

    /// Writes the compressed trailer; dropping without this truncates output.
    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut f) => f.flush(),
            Sink::Gzip(e) => e.finish()?.flush(),
            Sink::Zstd(e) => e.finish()?.flush(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
        }
    }
}

/// What one file should contain.
pub(crate) struct FileSpec<'a> {
    pub ctx: &'a DayCtx,
    pub index: u32,
    pub seed: u64,
    pub rows: u64,
    pub bad_row_rate: f64,
    pub duplicate_rate: f64,
    pub compression: SampleCompression,
}

/// Bounded pool of a day's earlier valid records (Algorithm R reservoir
/// sampling), shared by the day's files.
pub(crate) struct Reservoir {
    lines: Vec<Vec<u8>>,
    seen: u64,
}

impl Reservoir {
    pub(crate) fn new() -> Self {
        Self {
            lines: Vec::with_capacity(RESERVOIR),
            seen: 0,
        }
    }

    fn offer(&mut self, rng: &mut ChaCha8Rng, line: &[u8]) {
        self.seen += 1;
        let slot = if self.lines.len() < RESERVOIR {
            self.lines.push(Vec::new());
            self.lines.len() - 1
        } else {
            match rng.random_range(0..self.seen) {
                j if (j as usize) < RESERVOIR => j as usize,
                _ => return,
            }
        };
        self.lines[slot].clear();
        self.lines[slot].extend_from_slice(line);
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> Option<&[u8]> {
        if self.lines.is_empty() {
            return None;
        }
        Some(&self.lines[rng.random_range(0..self.lines.len())])
    }
}

/// Writes the file and returns what it contains.
pub(crate) fn write_file(
    path: &Path,
    spec: &FileSpec,
    pool: &mut Reservoir,
) -> io::Result<FileCounts> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, Sink::create(path, spec.compression)?);
    out.write_all(row::HEADER)?;
    let counts = write_records(&mut out, spec, pool)?;
    out.into_inner().map_err(|e| e.into_error())?.finish()?;
    Ok(counts)
}

/// The record stream. Each row independently becomes bad (rate
/// `bad_row_rate`), a duplicate (rate `duplicate_rate`, only once an earlier
/// valid record exists) or valid.
fn write_records(
    out: &mut impl Write,
    spec: &FileSpec,
    pool: &mut Reservoir,
) -> io::Result<FileCounts> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut rec = Record::new();
    let mut line = Vec::with_capacity(1024);
    let mut counts = FileCounts {
        rows: spec.rows,
        ..FileCounts::default()
    };
    let dup_threshold = spec.bad_row_rate + spec.duplicate_rate;
    for i in 0..spec.rows {
        let u: f64 = rng.random();
        if u >= spec.bad_row_rate && u < dup_threshold {
            if let Some(copy) = pool.pick(&mut rng) {
                out.write_all(copy)?;
                counts.duplicates += 1;
                continue;
            }
        }
        line.clear();
        row::fill_valid(
            &mut rng,
            spec.ctx,
            spec.ctx.transaction_id(spec.index, i),
            &mut rec,
        );
        if u < spec.bad_row_rate {
            let kind = BadKind::ALL[rng.random_range(0..BadKind::ALL.len())];
            defect::inject(kind, &mut rng, spec.ctx, &mut rec);
            counts.bad_by_kind[kind.index()] += 1;
            rec.write_csv(&mut line);
        } else {
            rec.write_csv(&mut line);
            counts.sum_amount_valid_cents += rec.amount_cents;
            pool.offer(&mut rng, &line);
        }
        out.write_all(&line)?;
    }
    Ok(counts)
}
