//! Data-path benchmark: runs the task executor over a generated month of sample
//! transactions on the embedded default and prints throughput, peak memory and the
//! commit's share of the time. Not a test: it asserts nothing about speed.
//!
//!   cargo run --release -p floe-tests --bin floe-bench -- --rows 10000000

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_common::contract::Contract;
use floe_common::task::{run_task, TaskEnv, TaskSpec};
use floe_lake::catalog::SqlCatalog;
use floe_lake::{RunId, TaskId};
use floe_sample::{GroundTruth, SampleConfig};
use futures::stream::{self, StreamExt};

struct Args {
    rows: u64,
    dir: PathBuf,
    parallel: usize,
}

fn args() -> Args {
    let mut a = Args {
        rows: 10_000_000,
        dir: std::env::temp_dir().join("floe-bench"),
        parallel: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = value.parse().expect("--rows N"),
            "--dir" => a.dir = value.into(),
            "--parallel" => a.parallel = value.parse().expect("--parallel N"),
            other => panic!("unknown flag {other}; flags: --rows N --dir PATH --parallel N"),
        }
    }
    a
}

fn sample_data(a: &Args) -> GroundTruth {
    let bronze = a.dir.join("bronze");
    if let Ok(truth) = GroundTruth::load(&floe_sample::ground_truth_path(&bronze)) {
        if truth.totals.rows == a.rows {
            return truth;
        }
    }
    let _ = std::fs::remove_dir_all(&bronze);
    let started = Instant::now();
    let cfg = SampleConfig {
        rows: a.rows,
        ..SampleConfig::default()
    };
    let truth = floe_sample::generate(&bronze, &cfg).expect("generate");
    eprintln!(
        "generated {} rows in {:.1}s",
        a.rows,
        started.elapsed().as_secs_f64()
    );
    truth
}

#[tokio::main]
async fn main() {
    let a = args();
    let truth = sample_data(&a);
    let bronze = a.dir.join("bronze");
    let input_bytes: u64 = truth
        .days
        .values()
        .flat_map(|d| d.files.iter())
        .map(|f| {
            std::fs::metadata(bronze.join(f))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    let lake = a.dir.join("lakehouse");
    let _ = std::fs::remove_dir_all(&lake);
    let catalog = Arc::new(
        SqlCatalog::open("floe", &lake.join("catalog.db"), &lake.join("warehouse"))
            .await
            .expect("catalog"),
    );
    let contract = Arc::new(
        Contract::load(&PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/transactions.toml"
        )))
        .expect("contract"),
    );
    let env = TaskEnv::new(catalog);
    let run = RunId::generate();
    let tasks: Vec<TaskSpec> = truth
        .days
        .iter()
        .map(|(day, d)| TaskSpec {
            attempt: floe_lake::Attempt::first(run.clone(), TaskId::new(format!("bench-{day}"))),
            contract: contract.clone(),
            inputs: d
                .files
                .iter()
                .map(|f| bronze.join(f).display().to_string())
                .collect(),
            fingerprints: Default::default(),
            partition: Some(day.clone()),
            trace_context: Default::default(),
            gold: None,
            dedupe: None,
            pass: None,
        })
        .collect();
    let started = Instant::now();
    let reports: Vec<_> = stream::iter(tasks)
        .map(|t| {
            let env = env.clone();
            async move { run_task(&env, &t).await.expect("task") }
        })
        .buffer_unordered(a.parallel)
        .collect()
        .await;
    let wall = started.elapsed();
    let rows: u64 = reports.iter().map(|r| r.stats.rows_in).sum();
    let valid: u64 = reports.iter().map(|r| r.stats.valid).sum();
    let commit: Duration = reports.iter().map(|r| r.timings.commit).sum();
    let work: Duration = reports
        .iter()
        .map(|r| r.timings.read_validate_write + r.timings.commit)
        .sum();
    assert_eq!(rows, truth.totals.rows, "every row accounted for");
    assert_eq!(valid, truth.totals.valid);
    let secs = wall.as_secs_f64();
    println!(
        "floe-bench: {} tasks, {} rows, {:.1} MB input, parallel {}",
        reports.len(),
        rows,
        input_bytes as f64 / 1e6,
        a.parallel
    );
    println!("  wall time      {secs:.2} s");
    println!(
        "  throughput     {:.0} rows/s, {:.1} MB/s",
        rows as f64 / secs,
        input_bytes as f64 / 1e6 / secs
    );
    println!(
        "  peak RSS       {:.0} MiB",
        floe_tests::peak_rss_mib("self")
    );
    println!(
        "  commit share   {:.1} % of task time",
        100.0 * commit.as_secs_f64() / work.as_secs_f64().max(1e-9)
    );
}
