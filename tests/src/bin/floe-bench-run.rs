//! Full-run benchmark: a backfill of a generated month through a real coordinator
//! and worker processes on loopback. Prints wall time, rows/s, each worker's peak
//! RSS and the commit's share of task time. Not a test: it asserts only accounting.
//!
//!   cargo build --release --workspace --bins
//!   target/release/floe-bench-run --rows 10000000 --workers 2
//!
//! `--one-partition` loads the month into an unpartitioned table (no Gold
//! models): every row in one partition, so the dedupe keys of all of them are
//! held at once, in one task or, with `--target-task-mb`, across chained tasks.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use floe_sample::{GroundTruth, SampleConfig};
use floe_tests::cluster::Cluster;

struct Args {
    rows: u64,
    workers: usize,
    dir: PathBuf,
    one_partition: bool,
    target_task_mb: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        rows: 10_000_000,
        workers: 2,
        dir: std::env::temp_dir().join("floe-bench"),
        one_partition: false,
        target_task_mb: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--one-partition" {
            a.one_partition = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = value.parse().expect("--rows N"),
            "--workers" => a.workers = value.parse().expect("--workers N"),
            "--dir" => a.dir = value.into(),
            "--target-task-mb" => a.target_task_mb = Some(value),
            other => panic!(
                "unknown flag {other}; flags: --rows N --workers N --dir PATH \
                 --one-partition --target-task-mb MB"
            ),
        }
    }
    a
}

/// The example contract with every row in one partition and no Gold models.
fn one_partition_contract(example: &std::path::Path, dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(example).unwrap();
    let silver = text.split("[[models]]").next().unwrap();
    let text = silver.replace(r#"partition = "day(ts)""#, r#"partition = "none""#);
    let path = dir.join("one-partition.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn main() {
    let a = args();
    let root = a.dir.join("run");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // The Bronze data is shared with floe-bench and kept between runs.
    let bronze = a.dir.join("bronze");
    let truth = match GroundTruth::load(&floe_sample::ground_truth_path(&bronze)) {
        Ok(t) if t.totals.rows == a.rows => t,
        _ => {
            let _ = std::fs::remove_dir_all(&bronze);
            floe_sample::generate(
                &bronze,
                &SampleConfig {
                    rows: a.rows,
                    ..SampleConfig::default()
                },
            )
            .expect("generate")
        }
    };
    std::os::unix::fs::symlink(&bronze, root.join("bronze")).unwrap();
    let mut cluster = Cluster::new(&root);
    cluster.visibility_seconds = 60;
    cluster.start_coordinator();
    for _ in 0..a.workers {
        cluster.start_worker();
    }
    let mut contract = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/transactions.toml"
    ));
    if a.one_partition {
        contract = one_partition_contract(&contract, &root);
    }
    let mut period = vec!["--backfill", "2025-01"];
    if let Some(mb) = &a.target_task_mb {
        period.extend(["--target-task-mb", mb.as_str()]);
    }
    let started = Instant::now();
    let run_id = cluster.submit(&contract, &period);
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(3600));
    let wall = started.elapsed().as_secs_f64();
    let rss: Vec<f64> = cluster
        .worker_pids()
        .into_iter()
        .map(|pid| floe_tests::peak_rss_mib(&pid.to_string()))
        .collect();
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["rows"]["rows_in"], truth.totals.rows,
        "every row accounted for"
    );
    assert_eq!(run["rows"]["valid"], truth.totals.valid);
    assert_eq!(run["rows"]["condemned"], truth.totals.duplicates);
    let tasks = run["tasks"].as_array().unwrap();
    let sum = |k: &str| {
        tasks
            .iter()
            .map(|t| t[k].as_u64().unwrap_or(0))
            .sum::<u64>() as f64
    };
    let (work, commit) = (sum("work_ms"), sum("commit_ms"));
    let bytes = run["bytes_total"].as_u64().unwrap() as f64;
    println!(
        "floe-bench-run: {} tasks, {} rows, {:.1} MB, {} workers",
        tasks.len(),
        truth.totals.rows,
        bytes / 1e6,
        a.workers
    );
    println!("  wall time      {wall:.2} s (submit to run end)");
    println!(
        "  throughput     {:.0} rows/s, {:.1} MB/s",
        truth.totals.rows as f64 / wall,
        bytes / 1e6 / wall
    );
    for (i, r) in rss.iter().enumerate() {
        println!("  worker {i} peak RSS  {r:.0} MiB");
    }
    println!(
        "  commit share   {:.1} % of task time",
        100.0 * commit / (work + commit).max(1.0)
    );
}
