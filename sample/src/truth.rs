//! The ground-truth manifest written next to the generated data.
//!
//! It records exactly what the generator injected so that pipeline tests can
//! compare Floe's output (valid / quarantined / condemned row counts and the
//! valid amount sum) against known answers instead of re-deriving them.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SampleConfig;

/// One kind of injected defect. Every bad row carries exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BadKind {
    /// Empty `transaction_id` or empty `amount`.
    MissingRequired,
    /// `amount` is not a number (`12.3x`, `abc`).
    BadNumber,
    /// `amount` negative or above 50000, or `quantity` 0 or 5000.
    OutOfRange,
    /// `currency` outside the enum (`XXX`, `eur`).
    BadEnum,
    /// `ts` unparseable with either contract format.
    BadTimestamp,
    /// One field too few or one too many.
    WrongColumnCount,
    /// Bytes 0xff 0xfe inside `description`.
    InvalidUtf8,
    /// `description` longer than 200 characters.
    TooLong,
    /// `country` or (non-empty) `transaction_id` failing its regex.
    BadRegex,
}

impl BadKind {
    /// All kinds, in the order they are reported.
    pub const ALL: [BadKind; 9] = [
        BadKind::MissingRequired,
        BadKind::BadNumber,
        BadKind::OutOfRange,
        BadKind::BadEnum,
        BadKind::BadTimestamp,
        BadKind::WrongColumnCount,
        BadKind::InvalidUtf8,
        BadKind::TooLong,
        BadKind::BadRegex,
    ];

    /// The name used as key in `bad_by_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            BadKind::MissingRequired => "missing_required",
            BadKind::BadNumber => "bad_number",
            BadKind::OutOfRange => "out_of_range",
            BadKind::BadEnum => "bad_enum",
            BadKind::BadTimestamp => "bad_timestamp",
            BadKind::WrongColumnCount => "wrong_column_count",
            BadKind::InvalidUtf8 => "invalid_utf8",
            BadKind::TooLong => "too_long",
            BadKind::BadRegex => "bad_regex",
        }
    }

    /// Position in [`BadKind::ALL`]; used to index fixed-size counters.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Row counts for one file, one day or the whole month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// CSV records, header excluded (a quoted embedded newline is still one record).
    pub rows: u64,
    /// `rows - bad - duplicates`.
    pub valid: u64,
    /// Rows carrying exactly one injected defect.
    pub bad: u64,
    /// Exact byte copies of an earlier valid record of the same file.
    pub duplicates: u64,
    /// Every kind of [`BadKind::ALL`] is present, zeros included, so consumers
    /// can index by name without checking.
    pub bad_by_kind: BTreeMap<String, u64>,
    /// Sum of `amount` over valid, non-duplicate rows, in cents.
    pub sum_amount_valid_cents: i64,
}

/// Truth for one day partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTruth {
    #[serde(flatten)]
    pub counts: Counts,
    /// Paths relative to the Bronze root, e.g.
    /// `transactions/date=2025-01-05/part-00000.csv`.
    pub files: Vec<String>,
}

/// The manifest written to `<root>/transactions/_ground_truth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub seed: u64,
    pub config: SampleConfig,
    pub totals: Counts,
    /// Keyed by `YYYY-MM-DD`.
    pub days: BTreeMap<String, DayTruth>,
}

impl GroundTruth {
    /// Reads a manifest written by [`super::generate`].
    pub fn load(path: &Path) -> io::Result<GroundTruth> {
        let bytes = fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Writes the manifest as pretty JSON (trailing newline for tidy diffs).
    pub(crate) fn save(&self, path: &Path) -> io::Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        json.push(b'\n');
        fs::write(path, json)
    }

    /// Builds the manifest from per-day truths; totals are derived here so
    /// they can never disagree with the days.
    pub(crate) fn assemble(cfg: &SampleConfig, days: BTreeMap<String, DayTruth>) -> GroundTruth {
        let mut totals = FileCounts::default();
        for day in days.values() {
            totals.add_counts(&day.counts);
        }
        GroundTruth {
            seed: cfg.seed,
            config: cfg.clone(),
            totals: totals.to_counts(),
            days,
        }
    }
}

/// Allocation-free accumulator used on the hot path; converted to [`Counts`]
/// once per file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FileCounts {
    pub rows: u64,
    pub duplicates: u64,
    pub bad_by_kind: [u64; 9],
    pub sum_amount_valid_cents: i64,
}

impl FileCounts {
    pub(crate) fn bad(&self) -> u64 {
        self.bad_by_kind.iter().sum()
    }

    pub(crate) fn add(&mut self, other: &FileCounts) {
        self.rows += other.rows;
        self.duplicates += other.duplicates;
        for (a, b) in self.bad_by_kind.iter_mut().zip(other.bad_by_kind) {
            *a += b;
        }
        self.sum_amount_valid_cents += other.sum_amount_valid_cents;
    }

    fn add_counts(&mut self, c: &Counts) {
        self.rows += c.rows;
        self.duplicates += c.duplicates;
        for kind in BadKind::ALL {
            self.bad_by_kind[kind.index()] +=
                c.bad_by_kind.get(kind.as_str()).copied().unwrap_or(0);
        }
        self.sum_amount_valid_cents += c.sum_amount_valid_cents;
    }

    pub(crate) fn to_counts(self) -> Counts {
        let bad = self.bad();
        let bad_by_kind = BadKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), self.bad_by_kind[k.index()]))
            .collect();
        Counts {
            rows: self.rows,
            valid: self.rows - bad - self.duplicates,
            bad,
            duplicates: self.duplicates,
            bad_by_kind,
            sum_amount_valid_cents: self.sum_amount_valid_cents,
        }
    }
}
