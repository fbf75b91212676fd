//! Full-run benchmark: a backfill of a generated month through a real coordinator
//! and worker processes on loopback. Prints wall time, rows/s, each worker's peak
//! RSS, the commit's share of task time and commit latency and retries (from the
//! workers' metrics). Not a test: it asserts only accounting.
//!
//!   cargo build --release --workspace --bins
//!   target/release/floe-bench-run --rows 10000000 --workers 2
//!
//! `--one-partition` loads the month into an unpartitioned table (no Gold
//! models): every row in one partition, so the dedupe keys of all of them are
//! held at once, in one task or, with `--target-task-mb`, across chained tasks.
//! `--splittable` loads CSV without line breaks in values under a contract that
//! says so, so files larger than the task target are cut into byte ranges.
//! `--no-gold` loads Silver, quarantine and condemned only; `--daily-totals`
//! replaces the contract's Gold models with one small per-day totals model.

use floe_tests::bench_run::BenchRun;

fn main() {
    let mut bench = BenchRun {
        rows: 10_000_000,
        workers: 2,
        dir: std::env::temp_dir().join("floe-bench"),
        files_per_day: 2,
        one_partition: false,
        gold: true,
        daily_totals: false,
        target_task_mb: None,
        splittable: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--one-partition" => bench.one_partition = true,
            "--splittable" => bench.splittable = true,
            "--no-gold" => bench.gold = false,
            "--daily-totals" => bench.daily_totals = true,
            _ => {
                let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
                match flag.as_str() {
                    "--rows" => bench.rows = value.parse().expect("--rows N"),
                    "--workers" => bench.workers = value.parse().expect("--workers N"),
                    "--dir" => bench.dir = value.into(),
                    "--files-per-day" => bench.files_per_day = value.parse().expect("N"),
                    "--target-task-mb" => bench.target_task_mb = Some(value),
                    other => panic!(
                        "unknown flag {other}; flags: --rows N --workers N --dir PATH \
                         --files-per-day N --one-partition --splittable --no-gold --daily-totals \
                         --target-task-mb MB"
                    ),
                }
            }
        }
    }
    bench.run("floe-bench-run");
}
