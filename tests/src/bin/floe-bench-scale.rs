//! The scale benchmark: a month of 150M sample rows (about 21 GB of CSV, one
//! file a day, streamed to disk with bad rows, duplicates and their ground
//! truth) loaded by the coordinator and N worker processes on the embedded
//! default, each day's file cut into byte ranges. Prints rows/s, peak worker
//! RSS, the commit's share of task time, conflict retries and commit latency,
//! and checks the run's totals against the ground truth. Not a test.
//!
//!   floe-bench-scale [--rows 150000000] [--workers 2] [--target-task-mb 256] [--dir PATH]
//!                    [--one-partition]
//!
//! `--one-partition` loads the month into an unpartitioned table: one
//! partition whose dedupe keys (every row's) far outgrow a worker's key budget
//! and spill to disk, the case that bounds a worker's memory.
//!
//! It needs about 1.4x the CSV's size free on disk (the CSV and Silver's
//! Parquet); `--rows` scales it down where the disk is smaller.

use floe_tests::bench_run::BenchRun;

fn main() {
    let mut bench = BenchRun {
        rows: 150_000_000,
        workers: 2,
        dir: std::env::temp_dir().join("floe-bench-scale"),
        files_per_day: 1,
        one_partition: false,
        gold: true,
        daily_totals: false,
        target_task_mb: Some("256".into()),
        splittable: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--one-partition" {
            bench.one_partition = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => bench.rows = value.parse().expect("--rows N"),
            "--workers" => bench.workers = value.parse().expect("--workers N"),
            "--dir" => bench.dir = value.into(),
            "--target-task-mb" => bench.target_task_mb = Some(value),
            other => panic!(
                "unknown flag {other}; flags: --rows N --workers N --target-task-mb MB --dir PATH \
                 --one-partition"
            ),
        }
    }
    bench.run("floe-bench-scale");
}
