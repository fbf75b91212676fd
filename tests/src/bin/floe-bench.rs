//! Data-path benchmark: runs the task executor over a generated month of sample
//! transactions on the embedded default and prints throughput, peak memory and the
//! commit's share of the time. Not a test: it asserts nothing about speed.
//!
//!   cargo run --release -p floe-tests --bin floe-bench -- --rows 10000000
//!
//! `--lineage-cost` loads the month alternately without and with Silver's
//! lineage columns (three times each) and prints the medians and the cost.

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
    lineage_cost: bool,
}

fn args() -> Args {
    let mut a = Args {
        rows: 10_000_000,
        dir: std::env::temp_dir().join("floe-bench"),
        parallel: 1,
        lineage_cost: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--lineage-cost" {
            a.lineage_cost = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = value.parse().expect("--rows N"),
            "--dir" => a.dir = value.into(),
            "--parallel" => a.parallel = value.parse().expect("--parallel N"),
            other => panic!(
                "unknown flag {other}; flags: --rows N --dir PATH --parallel N --lineage-cost"
            ),
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

/// What one load of the month measured.
struct Load {
    wall: Duration,
    rows: u64,
    commit: Duration,
    work: Duration,
    silver_bytes: u64,
}

async fn load(a: &Args, truth: &GroundTruth, contract: Arc<Contract>) -> Load {
    let bronze = a.dir.join("bronze");
    let lake = a.dir.join("lakehouse");
    let _ = std::fs::remove_dir_all(&lake);
    let catalog = Arc::new(
        SqlCatalog::open("floe", &lake.join("catalog.db"), &lake.join("warehouse"))
            .await
            .expect("catalog"),
    );
    let env = TaskEnv::new(catalog.clone());
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
            ranges: Default::default(),
            partition: Some(day.clone()),
            trace_context: Default::default(),
            gold: None,
            dedupe: None,
            pass: None,
            append: false,
            staged: false,
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
    assert_eq!(rows, truth.totals.rows, "every row accounted for");
    assert_eq!(valid, truth.totals.valid);
    Load {
        wall,
        rows,
        commit: reports.iter().map(|r| r.timings.commit).sum(),
        work: reports
            .iter()
            .map(|r| r.timings.read_validate_write + r.timings.commit)
            .sum(),
        silver_bytes: silver_bytes(catalog.as_ref(), &contract).await,
    }
}

/// The size of the Silver table's live data files.
async fn silver_bytes(catalog: &SqlCatalog, contract: &Contract) -> u64 {
    use floe_lake::catalog::TableCatalog;
    let table = catalog
        .load_table(&contract.target.table)
        .await
        .expect("load Silver")
        .expect("Silver exists");
    let snapshot = table.metadata().current_snapshot().expect("a snapshot");
    snapshot
        .summary()
        .additional_properties
        .get("total-files-size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn lineage_cost(a: &Args, truth: &GroundTruth, contract: Arc<Contract>) {
    let mut off = (*contract).clone();
    off.target.lineage = false;
    let off = Arc::new(off);
    let (mut times, mut sizes) = ([vec![], vec![]], [0u64; 2]);
    for _ in 0..3 {
        for (i, c) in [&off, &contract].into_iter().enumerate() {
            let l = load(a, truth, c.clone()).await;
            times[i].push(l.wall.as_secs_f64());
            sizes[i] = l.silver_bytes;
        }
    }
    let [t_off, t_on] = times.map(median);
    println!(
        "floe-bench --lineage-cost: {} rows, medians of 3, alternating",
        truth.totals.rows
    );
    println!(
        "  without lineage  {t_off:.2} s   Silver {:.1} MB",
        sizes[0] as f64 / 1e6
    );
    println!(
        "  with lineage     {t_on:.2} s   Silver {:.1} MB",
        sizes[1] as f64 / 1e6
    );
    println!(
        "  cost             {:+.1} % time, {:+.1} % Silver size",
        100.0 * (t_on / t_off - 1.0),
        100.0 * (sizes[1] as f64 / sizes[0] as f64 - 1.0)
    );
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
    let contract = Arc::new(
        Contract::load(&PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/transactions.toml"
        )))
        .expect("contract"),
    );
    if a.lineage_cost {
        return lineage_cost(&a, &truth, contract).await;
    }
    let l = load(&a, &truth, contract).await;
    let (rows, secs) = (l.rows, l.wall.as_secs_f64());
    println!(
        "floe-bench: {} tasks, {} rows, {:.1} MB input, parallel {}",
        truth.days.len(),
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
        100.0 * l.commit.as_secs_f64() / l.work.as_secs_f64().max(1e-9)
    );
    println!("  Silver         {:.1} MB", l.silver_bytes as f64 / 1e6);
}
