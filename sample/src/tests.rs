//! Determinism, bookkeeping and compression tests for the generator.
//! The record-level parse-back check lives in `tests_parse.rs`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A unique scratch directory removed on drop (no `tempfile` needed).
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("floe-sample-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(super) fn small_cfg(seed: u64) -> SampleConfig {
    SampleConfig {
        seed,
        year: 2025,
        month: 2,
        rows: 3_000,
        files_per_day: 2,
        ..SampleConfig::default()
    }
}

/// Every file of the dataset (data and manifest), keyed by relative path.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn decompress(path: &Path) -> Vec<u8> {
    let raw = fs::read(path).unwrap();
    let mut out = Vec::new();
    match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => {
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("zst") => out = zstd::decode_all(&raw[..]).unwrap(),
        _ => out = raw,
    }
    out
}

#[test]
fn same_seed_gives_identical_bytes_and_truth() {
    let (a, b) = (TempDir::new("same-a"), TempDir::new("same-b"));
    let cfg = small_cfg(7);
    let ta = generate(a.path(), &cfg).unwrap();
    let tb = generate(b.path(), &cfg).unwrap();
    assert_eq!(ta, tb);
    let (fa, fb) = (read_tree(a.path()), read_tree(b.path()));
    assert_eq!(fa.len(), 28 * 2 + 1, "28 days x 2 files + manifest");
    assert!(fa == fb, "same seed produced different bytes");
}

#[test]
fn different_seed_gives_different_data() {
    let (a, b) = (TempDir::new("diff-a"), TempDir::new("diff-b"));
    let ta = generate(a.path(), &small_cfg(1)).unwrap();
    let tb = generate(b.path(), &small_cfg(2)).unwrap();
    assert_ne!(
        ta.totals.sum_amount_valid_cents,
        tb.totals.sum_amount_valid_cents
    );
    let (fa, fb) = (read_tree(a.path()), read_tree(b.path()));
    let same: Vec<_> = fa
        .iter()
        .filter(|(k, v)| k.ends_with(".csv") && fb.get(*k) == Some(*v))
        .collect();
    assert!(
        same.is_empty(),
        "{} files identical across seeds",
        same.len()
    );
}

fn assert_consistent(c: &Counts) {
    assert_eq!(c.rows, c.valid + c.bad + c.duplicates);
    assert_eq!(c.bad, c.bad_by_kind.values().sum::<u64>());
    let kinds: Vec<&str> = BadKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        c.bad_by_kind.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut k = kinds.clone();
            k.sort();
            k
        }
    );
}

#[test]
fn totals_add_up_and_manifest_round_trips() {
    let dir = TempDir::new("totals");
    let cfg = SampleConfig {
        rows: 20_001,
        files_per_day: 3,
        ..SampleConfig::default()
    };
    let truth = generate(dir.path(), &cfg).unwrap();
    assert_eq!(truth.seed, cfg.seed);
    assert_eq!(truth.config, cfg);
    assert_eq!(truth.days.len(), 31);
    assert_eq!(truth.totals.rows, cfg.rows);
    assert_consistent(&truth.totals);
    let mut sum = Counts::default();
    for (date, day) in &truth.days {
        assert_consistent(&day.counts);
        assert_eq!(day.files.len(), 3);
        for f in &day.files {
            assert!(
                f.starts_with(&format!("transactions/date={date}/part-")),
                "{f}"
            );
            assert!(dir.path().join(f).is_file(), "{f} missing");
        }
        sum.rows += day.counts.rows;
        sum.valid += day.counts.valid;
        sum.bad += day.counts.bad;
        sum.duplicates += day.counts.duplicates;
        sum.sum_amount_valid_cents += day.counts.sum_amount_valid_cents;
        for (k, v) in &day.counts.bad_by_kind {
            *sum.bad_by_kind.entry(k.clone()).or_default() += v;
        }
    }
    assert_eq!(sum, truth.totals);
    // ~0.5% bad and ~0.2% duplicates by default.
    assert!(
        (60..=150).contains(&truth.totals.bad),
        "bad {}",
        truth.totals.bad
    );
    assert!(
        (15..=80).contains(&truth.totals.duplicates),
        "dups {}",
        truth.totals.duplicates
    );
    assert_eq!(
        GroundTruth::load(&ground_truth_path(dir.path())).unwrap(),
        truth
    );
}

#[test]
fn weekends_get_more_rows() {
    let dir = TempDir::new("weekend");
    let cfg = SampleConfig {
        rows: 50_000,
        files_per_day: 1,
        ..SampleConfig::default()
    };
    let truth = generate(dir.path(), &cfg).unwrap();
    // 2025-01-04 is a Saturday, 2025-01-07 a Tuesday.
    assert!(truth.days["2025-01-04"].counts.rows > truth.days["2025-01-07"].counts.rows);
}

#[test]
fn compressed_output_decompresses_to_plain_bytes() {
    let plain = TempDir::new("plain");
    let base = SampleConfig {
        rows: 2_000,
        month: 4,
        ..small_cfg(9)
    };
    let plain_truth = generate(plain.path(), &base).unwrap();
    for compression in [SampleCompression::Gzip, SampleCompression::Zstd] {
        let dir = TempDir::new("packed");
        let cfg = SampleConfig {
            compression,
            ..base.clone()
        };
        let truth = generate(dir.path(), &cfg).unwrap();
        assert_eq!(truth.totals, plain_truth.totals);
        for (date, day) in &truth.days {
            let plain_files = &plain_truth.days[date].files;
            assert_eq!(day.files.len(), plain_files.len());
            for (packed, flat) in day.files.iter().zip(plain_files) {
                assert!(packed.ends_with(compression.extension()), "{packed}");
                let bytes = decompress(&dir.path().join(packed));
                assert!(
                    bytes == fs::read(plain.path().join(flat)).unwrap(),
                    "{packed} differs"
                );
            }
        }
    }
}

#[test]
fn zero_rates_give_only_valid_rows() {
    let dir = TempDir::new("clean");
    let cfg = SampleConfig {
        bad_row_rate: 0.0,
        duplicate_rate: 0.0,
        ..small_cfg(3)
    };
    let truth = generate(dir.path(), &cfg).unwrap();
    assert_eq!(truth.totals.valid, cfg.rows);
    assert!(truth.totals.sum_amount_valid_cents > 0);
}

#[test]
fn tiny_months_still_write_every_file() {
    let dir = TempDir::new("tiny");
    let cfg = SampleConfig {
        rows: 5,
        ..small_cfg(4)
    };
    let truth = generate(dir.path(), &cfg).unwrap();
    assert_eq!(truth.totals.rows, 5);
    let header_only = fs::read(dir.path().join(&truth.days["2025-02-28"].files[1])).unwrap();
    assert_eq!(header_only, row::HEADER);
}

#[test]
fn invalid_configs_are_rejected() {
    let dir = TempDir::new("invalid");
    let bad = [
        SampleConfig {
            month: 13,
            ..small_cfg(1)
        },
        SampleConfig {
            files_per_day: 0,
            ..small_cfg(1)
        },
        SampleConfig {
            bad_row_rate: 0.7,
            duplicate_rate: 0.5,
            ..small_cfg(1)
        },
        SampleConfig {
            bad_row_rate: -0.1,
            ..small_cfg(1)
        },
        SampleConfig {
            duplicate_rate: f64::NAN,
            ..small_cfg(1)
        },
    ];
    for cfg in bad {
        let err = generate(dir.path(), &cfg).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{cfg:?}");
    }
}
