//! A backfill of a generated month through a real coordinator and worker
//! processes on loopback, measured: the body of `floe-bench-run` and
//! `floe-bench-scale`. It asserts only that every row is accounted for and
//! that the run's totals equal the ground truth.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use floe_sample::{GroundTruth, SampleConfig};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::scrape::{free_port, sample, scrape};

/// What to generate and how to load it.
#[derive(Debug, Clone)]
pub struct BenchRun {
    pub rows: u64,
    pub workers: usize,
    /// Bronze data (kept between runs of the same size and shape) and the lakehouse.
    pub dir: PathBuf,
    pub files_per_day: u32,
    /// Every row in one unpartitioned table, no Gold models.
    pub one_partition: bool,
    /// Load the contract's Gold models too (false: Silver, quarantine and
    /// condemned only).
    pub gold: bool,
    /// With `gold`: one small per-day totals model (with a reconcile test)
    /// in place of the contract's models.
    pub daily_totals: bool,
    pub target_task_mb: Option<String>,
    /// CSV without line breaks in values, and a contract that says so: large
    /// files are cut into byte ranges.
    pub splittable: bool,
}

/// The contract without its Gold models.
fn silver_only(text: &str) -> String {
    text.split("[[models]]").next().unwrap().to_string()
}

/// One per-day totals model, reconciled with Silver.
const DAILY_TOTALS: &str = r#"
[[models]]
name = "daily_totals"
table = "gold.daily_totals"
partition = "identity(day)"
sql = """
SELECT CAST(ts AS DATE) AS day, COUNT(*) AS transactions, SUM(amount) AS amount
FROM silver.transactions
GROUP BY 1
"""

[[models.tests]]
type = "reconcile"
gold = "SUM(amount)"
silver = "SUM(amount)"
"#;

/// The example contract with every row in one partition and no Gold models.
fn one_partition_contract(text: &str) -> String {
    silver_only(text).replace(r#"partition = "day(ts)""#, r#"partition = "none""#)
}

impl BenchRun {
    /// The month's Bronze data under `dir/bronze`, generated unless it is there
    /// already with this many rows and files.
    fn bronze(&self) -> (PathBuf, GroundTruth) {
        let shape = format!(
            "{}-rows-{}-files{}",
            self.rows,
            self.files_per_day,
            if self.splittable { "-flat" } else { "" }
        );
        let bronze = self.dir.join("bronze");
        let marker = bronze.join(".shape");
        let truth = GroundTruth::load(&floe_sample::ground_truth_path(&bronze));
        if let (Ok(truth), Ok(found)) = (truth, std::fs::read_to_string(&marker)) {
            if found == shape {
                return (bronze, truth);
            }
        }
        let _ = std::fs::remove_dir_all(&bronze);
        let cfg = SampleConfig {
            rows: self.rows,
            files_per_day: self.files_per_day,
            ..SampleConfig::default()
        };
        let started = Instant::now();
        let truth = floe_sample::generate(&bronze, &cfg).expect("generate");
        if self.splittable {
            crate::splittable::flatten_quoted_newlines(&bronze, false);
        }
        std::fs::write(&marker, shape).unwrap();
        eprintln!(
            "generated {} rows in {:.0} s",
            self.rows,
            started.elapsed().as_secs_f64()
        );
        (bronze, truth)
    }

    fn contract(&self, root: &Path) -> PathBuf {
        let mut text = if self.splittable {
            crate::splittable::splittable_contract_text()
        } else {
            std::fs::read_to_string(crate::checks::contract_path()).unwrap()
        };
        if self.one_partition {
            text = one_partition_contract(&text);
        }
        if !self.gold {
            text = silver_only(&text);
        } else if self.daily_totals {
            text = silver_only(&text) + DAILY_TOTALS;
        }
        let path = root.join("bench.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the backfill and prints its figures.
    pub fn run(&self, name: &str) {
        let root = self.dir.join("run");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let (bronze, truth) = self.bronze();
        std::os::unix::fs::symlink(&bronze, root.join("bronze")).unwrap();
        let mut cluster = Cluster::new(&root);
        cluster.visibility_seconds = 60;
        // The wall time comes from the run's recorded end; asking less often
        // leaves the cores to the run.
        cluster.status_poll = Duration::from_secs(1);
        cluster.start_coordinator();
        let ports: Vec<u16> = (0..self.workers).map(|_| free_port()).collect();
        for port in &ports {
            cluster.start_worker_with(&["--metrics-listen", &format!("127.0.0.1:{port}")]);
        }
        let contract = self.contract(&root);
        let mut period = vec!["--backfill", "2025-01"];
        if let Some(mb) = &self.target_task_mb {
            period.extend(["--target-task-mb", mb.as_str()]);
        }
        let submitted_ms = unix_ms();
        let run_id = cluster.submit(&contract, &period);
        let run = cluster.wait_for_run(&run_id, Duration::from_secs(6 * 3600));
        // The run's end as the coordinator recorded it, not when a status poll
        // (every 300 ms, a process each) happened to see it.
        let finished_ms = run["finished_at_ms"].as_i64().expect("a finished run");
        let wall = (finished_ms - submitted_ms) as f64 / 1000.0;
        let rss: Vec<f64> = cluster
            .worker_pids()
            .into_iter()
            .map(|pid| crate::peak_rss_mib(&pid.to_string()))
            .collect();
        let metrics: Vec<String> = ports.iter().map(|p| scrape(*p)).collect();
        assert_eq!(run["state"], "succeeded", "{run:#}");
        assert_eq!(
            run["rows"]["rows_in"], truth.totals.rows,
            "every row accounted for"
        );
        assert_eq!(run["rows"]["valid"], truth.totals.valid);
        assert_eq!(run["rows"]["condemned"], truth.totals.duplicates);
        report(name, self, &run, &truth, wall, &rss, &metrics);
    }
}

fn report(
    name: &str,
    bench: &BenchRun,
    run: &Value,
    truth: &GroundTruth,
    wall: f64,
    rss: &[f64],
    metrics: &[String],
) {
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
        "{name}: {} tasks, {} rows, {:.1} MB, {} workers",
        tasks.len(),
        truth.totals.rows,
        bytes / 1e6,
        bench.workers
    );
    println!("  wall time      {wall:.2} s (submit to the run's recorded end)");
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
    let commits: f64 = metrics
        .iter()
        .map(|m| sample(m, "floe_commit_seconds_count"))
        .sum();
    let retries: f64 = metrics
        .iter()
        .map(|m| sample(m, "floe_commit_retries_total"))
        .sum();
    let buckets = merged_buckets(metrics);
    println!(
        "  commits        {commits:.0} table commits, {retries:.0} conflict retries, \
         latency p50 <= {} p99 <= {}",
        bound(&buckets, commits, 0.5),
        bound(&buckets, commits, 0.99)
    );
}

/// `floe_commit_seconds` buckets of all workers: upper bound → cumulative count.
fn merged_buckets(metrics: &[String]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for m in metrics {
        for line in m
            .lines()
            .filter(|l| l.starts_with("floe_commit_seconds_bucket{"))
        {
            let Some((labels, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let le = labels
                .split("le=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("+Inf")
                .to_string();
            *out.entry(le).or_default() += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    out
}

/// The smallest bucket bound holding the `q` quantile of `count` observations.
fn bound(buckets: &BTreeMap<String, f64>, count: f64, q: f64) -> String {
    let mut sorted: Vec<(f64, f64)> = buckets
        .iter()
        .map(|(le, c)| (le.parse().unwrap_or(f64::INFINITY), *c))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted
        .into_iter()
        .find(|(_, c)| *c >= q * count)
        .map_or("?".into(), |(le, _)| {
            if le.is_finite() {
                format!("{:.0} ms", le * 1000.0)
            } else {
                "+Inf".into()
            }
        })
}

/// Now, in milliseconds since the Unix epoch (the clock the ledger's times use).
fn unix_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.expect("a clock after 1970").as_millis() as i64
}
