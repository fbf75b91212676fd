//! Deterministic, seeded generator of realistic Bronze transaction data.
//!
//! [`generate`] writes one month of CSV files matching
//! `examples/transactions.toml`, with injected bad rows (each with exactly one
//! defect, see [`BadKind`]) and exact duplicate records, plus a
//! [`GroundTruth`] manifest saying exactly what was injected:
//!
//! ```text
//! <root>/transactions/date=2025-01-01/part-00000.csv[.gz|.zst]
//! <root>/transactions/date=2025-01-01/part-00001.csv[.gz|.zst]
//! ...
//! <root>/transactions/_ground_truth.json
//! ```
//!
//! The same config always yields byte-identical files: each file has its own
//! ChaCha8 stream seeded from (seed, date, file index), so files are
//! independent of each other and of thread scheduling. Sampling avoids
//! platform-dependent float functions (see `dist.rs`), so the CSV bytes match
//! across platforms too; compressed bytes additionally depend on the gzip and
//! zstd library versions.
//! Rows are streamed, so memory stays bounded whatever the row count.
//!
//! Existing files at the same paths are overwritten; files from an earlier
//! run with more `files_per_day` are not removed, so use a fresh root.

mod defect;
mod desc;
mod dist;
mod file;
mod fmt;
mod plan;
mod row;
mod truth;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_parse;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

pub use truth::{BadKind, Counts, DayTruth, GroundTruth};

use plan::{invalid, DayPlan};
use row::DayCtx;
use truth::FileCounts;

/// Directory under the root holding the table's partitions and manifest.
pub const TABLE_DIR: &str = "transactions";
/// File name of the manifest inside [`TABLE_DIR`].
pub const GROUND_TRUTH_FILE: &str = "_ground_truth.json";
/// Upper bound on worker threads: days are independent, and beyond a few
/// threads uncompressed output is limited by the disk, not the CPU.
const MAX_THREADS: usize = 4;

/// Compression of the generated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleCompression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl SampleCompression {
    /// File name suffix, e.g. `.csv.gz`.
    pub fn extension(self) -> &'static str {
        match self {
            SampleCompression::None => ".csv",
            SampleCompression::Gzip => ".csv.gz",
            SampleCompression::Zstd => ".csv.zst",
        }
    }
}

/// What to generate. Every day of `year`-`month` gets a partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleConfig {
    pub seed: u64,
    pub year: i32,
    pub month: u32,
    /// Records across the whole month, bad and duplicate rows included.
    pub rows: u64,
    /// 1..=4096 files per day; rows are split evenly between them.
    pub files_per_day: u32,
    /// Probability that a row is bad (kinds drawn uniformly).
    pub bad_row_rate: f64,
    /// Probability that a row is an exact copy of an earlier valid record.
    pub duplicate_rate: f64,
    pub compression: SampleCompression,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            seed: 42,
            year: 2025,
            month: 1,
            rows: 100_000,
            files_per_day: 2,
            bad_row_rate: 0.005,
            duplicate_rate: 0.002,
            compression: SampleCompression::None,
        }
    }
}

impl SampleConfig {
    /// Rejects configs the id layout or the row mix cannot honour.
    fn validate(&self) -> io::Result<()> {
        let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
        if !rate_ok(self.bad_row_rate)
            || !rate_ok(self.duplicate_rate)
            || self.bad_row_rate + self.duplicate_rate > 1.0
        {
            return Err(invalid(format!(
                "rates must be in 0..=1 and sum to at most 1 (bad {}, duplicate {})",
                self.bad_row_rate, self.duplicate_rate
            )));
        }
        // Transaction ids pack the day in 20 bits, the file in 12, the row in 32.
        if !(1..=4096).contains(&self.files_per_day) {
            return Err(invalid(format!(
                "files_per_day must be 1..=4096, got {}",
                self.files_per_day
            )));
        }
        if !(1..=2800).contains(&self.year) {
            return Err(invalid(format!("year must be 1..=2800, got {}", self.year)));
        }
        // A file's row counter has 32 bits; bounding the whole month's rows
        // per file slot by 2^31 keeps every single file far below that.
        if self.rows / u64::from(self.files_per_day) >= u64::from(u32::MAX) / 2 {
            return Err(invalid(format!("too many rows per file: {}", self.rows)));
        }
        Ok(())
    }
}

/// Path of the manifest for a given Bronze root.
pub fn ground_truth_path(root: &Path) -> PathBuf {
    root.join(TABLE_DIR).join(GROUND_TRUTH_FILE)
}

/// Generates the month under `root` and returns (and writes) its ground truth.
pub fn generate(root: &Path, cfg: &SampleConfig) -> io::Result<GroundTruth> {
    cfg.validate()?;
    let dates = plan::month_days(cfg.year, cfg.month)?;
    let days = plan::plan_days(cfg.seed, &dates, cfg.rows);
    let truths = run_parallel(&days, |day| write_day(root, cfg, day))?;
    let days = days
        .iter()
        .map(|d| d.date.format("%Y-%m-%d").to_string())
        .zip(truths)
        .collect();
    let truth = GroundTruth::assemble(cfg, days);
    truth.save(&ground_truth_path(root))?;
    Ok(truth)
}

/// Writes all files of one day partition.
fn write_day(root: &Path, cfg: &SampleConfig, day: &DayPlan) -> io::Result<DayTruth> {
    let ctx = DayCtx::new(cfg.seed, day.date);
    let dir_rel = format!("{TABLE_DIR}/date={}", day.date.format("%Y-%m-%d"));
    fs::create_dir_all(root.join(&dir_rel))?;
    let mut counts = FileCounts::default();
    let mut files = Vec::with_capacity(cfg.files_per_day as usize);
    let mut pool = file::Reservoir::new();
    for index in 0..cfg.files_per_day {
        let rel = format!("{dir_rel}/part-{index:05}{}", cfg.compression.extension());
        let spec = file::FileSpec {
            ctx: &ctx,
            index,
            seed: plan::file_seed(day.seed, index),
            rows: plan::rows_in_file(day.rows, cfg.files_per_day, index),
            bad_row_rate: cfg.bad_row_rate,
            duplicate_rate: cfg.duplicate_rate,
            compression: cfg.compression,
        };
        counts.add(&file::write_file(&root.join(&rel), &spec, &mut pool)?);
        files.push(rel);
    }
    Ok(DayTruth {
        counts: counts.to_counts(),
        files,
    })
}

/// Runs `work` over all days on a few scoped threads (days are pulled from a
/// shared counter, so uneven days balance out) and returns results in day
/// order. Stops handing out days after the first error.
fn run_parallel<T: Send>(
    days: &[DayPlan],
    work: impl Fn(&DayPlan) -> io::Result<T> + Sync,
) -> io::Result<Vec<T>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(days.len().max(1));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= days.len() || failed.load(Ordering::Relaxed) {
                return done;
            }
            let result = work(&days[i]);
            failed.fetch_or(result.is_err(), Ordering::Relaxed);
            done.push((i, result));
        }
    };
    let mut results: Vec<(usize, io::Result<T>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sample worker panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    if let Some(pos) = results.iter().position(|(_, r)| r.is_err()) {
        return Err(results.swap_remove(pos).1.err().expect("checked is_err"));
    }
    if results.len() != days.len() {
        return Err(io::Error::other("sample generation stopped early"));
    }
    Ok(results
        .into_iter()
        .map(|(_, r)| r.expect("errors handled above"))
        .collect())
}
