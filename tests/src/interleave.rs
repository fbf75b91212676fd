//! The interleaving suite: seeded schedules of several runs over overlapping
//! periods of one month, days split across tasks, stragglers (a worker that
//! holds tasks is killed, and they come back when their lease expires), worker
//! and coordinator SIGKILLs, workers failing at commit boundaries, and
//! quarantine passes beside the loads. After quiescence every day must hold
//! exactly one complete load, by the newest run that covered it:
//!
//! - every run ended `succeeded` or `superseded`, never `failed`;
//! - each day's fence (Silver, quarantine, condemned and every Gold table)
//!   names the newest run that covered it, and every live data file of the day
//!   belongs to that run (its name says so);
//! - Silver as DuckDB reads it, and the quarantine and condemned tables, equal
//!   the generator's ground truth per day; the Gold tables equal DuckDB's
//!   aggregates over that Silver.
//!
//! Checks collect anomalies rather than stop at the first, so a round reports
//! everything it found. A round is a function of its seed (data, schedule and
//! fail-point choices); process timings still vary.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use floe_common::contract::TableName;
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::fence;
use floe_lake::commit::files::{partition_path, snapshot_files};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::checks::contract_path;
use crate::cluster::Cluster;
use crate::readers::{per_day, read, Readers};
use crate::{example_contract, rows_by_source_partition, Lakehouse};

/// Days the runs of a round choose from (the sample covers the whole month).
const DAYS: u32 = 8;
/// A task size that splits each day into two to four tasks.
const SPLIT_TASK_MB: &str = "0.03";
const ROUND_TIMEOUT: Duration = Duration::from_secs(300);

/// One step of a round's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A run over days `from..=to` of January, its days split across tasks or not.
    Submit {
        from: u32,
        to: u32,
        split: bool,
    },
    KillWorker,
    KillCoordinator,
    /// A worker that stalls before committing is killed holding its tasks.
    Straggler,
    /// A worker that fails at a commit boundary for a share of its deliveries.
    FaultyWorker,
    /// `reprocess` of one day, beside the loads.
    Reprocess {
        day: u32,
    },
}

/// What a round did and found.
#[derive(Debug, Clone, Default)]
pub struct RoundReport {
    pub seed: u64,
    pub events: Vec<Event>,
    /// Runs submitted, oldest first, with the days each covered.
    pub runs: Vec<(String, Vec<String>)>,
    /// Tasks that ended superseded, over all runs.
    pub superseded_tasks: usize,
    /// Reprocess passes: (ran, refused beside a load, lost their day to a load).
    pub passes: (usize, usize, usize),
    pub anomalies: Vec<String>,
    pub elapsed: Duration,
}

impl RoundReport {
    pub fn faults(&self) -> usize {
        self.events
            .iter()
            .filter(|e| !matches!(e, Event::Submit { .. }))
            .count()
    }
}

fn day(d: u32) -> String {
    format!("2025-01-{d:02}")
}

fn next_event(rng: &mut ChaCha8Rng) -> Event {
    match rng.random_range(0..20) {
        0..=6 => {
            let from = rng.random_range(1..=DAYS);
            let to = (from + rng.random_range(0..4)).min(DAYS);
            Event::Submit {
                from,
                to,
                split: rng.random_bool(0.6),
            }
        }
        7..=9 => Event::KillWorker,
        10..=11 => Event::KillCoordinator,
        12..=14 => Event::Straggler,
        15..=16 => Event::FaultyWorker,
        _ => Event::Reprocess {
            day: rng.random_range(1..=DAYS),
        },
    }
}

struct Round {
    lake: Lakehouse,
    cluster: Cluster,
    rng: ChaCha8Rng,
    seed: u64,
    alive: Vec<usize>,
    report: RoundReport,
    reprocessed: BTreeSet<u32>,
    /// Reprocess commands still running (a pass run lasts until its tasks are
    /// done), judged after quiescence.
    passes: Vec<(u32, std::process::Child)>,
}

impl Round {
    fn start_worker(&mut self, fail_point: Option<String>) -> usize {
        let mut env = vec![("FLOE_FAILPOINT_SEED".to_string(), self.seed.to_string())];
        if let Some(p) = fail_point {
            env.push(("FLOE_FAILPOINT".into(), p));
        }
        self.cluster.worker_env = env;
        self.cluster.start_worker();
        let w = self.cluster.worker_pids().len() - 1;
        self.alive.push(w);
        w
    }

    fn kill_a_worker(&mut self) {
        if self.alive.is_empty() {
            return;
        }
        let i = self.rng.random_range(0..self.alive.len());
        let w = self.alive.swap_remove(i);
        self.cluster.kill_worker(w);
    }

    fn apply(&mut self, event: &Event) {
        match *event {
            Event::Submit { from, to, split } => {
                let (f, t) = (day(from), day(to));
                let mut args = vec!["--from", f.as_str(), "--to", t.as_str()];
                if split {
                    args.extend(["--target-task-mb", SPLIT_TASK_MB]);
                }
                let run = self.cluster.submit(&contract_path(), &args);
                let days = (from..=to).map(day).collect();
                self.report.runs.push((run, days));
            }
            Event::KillWorker => {
                self.kill_a_worker();
                self.start_worker(None);
            }
            Event::KillCoordinator => {
                self.cluster.kill_coordinator();
                self.cluster.start_coordinator();
            }
            Event::Straggler => {
                let w = self.start_worker(Some("before-commit:sleep-ms=120000".into()));
                std::thread::sleep(Duration::from_millis(self.rng.random_range(300..1200)));
                self.alive.retain(|&a| a != w);
                self.cluster.kill_worker(w);
            }
            Event::FaultyWorker => {
                self.kill_a_worker();
                let at = [
                    "before-commit",
                    "after-commit-quarantine",
                    "after-commit-silver",
                ][self.rng.random_range(0..3)];
                let action = ["abort", "error"][self.rng.random_range(0..2)];
                self.start_worker(Some(format!("{at}:{action}@0.3")));
            }
            Event::Reprocess { day: d } => self.reprocess(d),
        }
    }

    /// A pass run over one day's quarantine, started in the background. A day
    /// is passed over at most once, so its bad rows stay in quarantine (the
    /// third attempt would condemn them).
    fn reprocess(&mut self, d: u32) {
        if !self.reprocessed.insert(d) {
            return;
        }
        let child = self
            .cluster
            .command("floe-coordinator")
            .args(["reprocess", "--pipeline"])
            .arg(contract_path())
            .args([
                "--date",
                &day(d),
                "--json",
                "--coordinator",
                &self.cluster.url(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run floe-coordinator reprocess");
        self.passes.push((d, child));
    }

    /// A pass may be refused while a load holds its day, lose the day to a
    /// load submitted after it, or find the coordinator down (the schedule
    /// kills it): those are outcomes, not anomalies.
    fn judge_passes(&mut self, deadline: Instant) {
        let lost_to_a_load = [
            "would race",
            "ended superseded",
            "did not answer the submit",
            "cannot reach the coordinator",
        ];
        for (d, mut child) in std::mem::take(&mut self.passes) {
            while child.try_wait().expect("poll reprocess").is_none() {
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    self.report
                        .anomalies
                        .push(format!("the reprocess of {} did not finish", day(d)));
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let out = child.wait_with_output().expect("reprocess exits");
            let err = String::from_utf8_lossy(&out.stderr);
            let (ran, refused, lost) = &mut self.report.passes;
            match (out.status.success(), err.contains("would race")) {
                (true, _) => *ran += 1,
                (false, true) => *refused += 1,
                (false, false) if err.contains("ended superseded") => *lost += 1,
                _ => {}
            }
            if !out.status.success() && !lost_to_a_load.iter().any(|m| err.contains(m)) {
                self.report
                    .anomalies
                    .push(format!("reprocess of {} failed: {err}", day(d)));
            }
        }
    }
}

/// Runs one round of `events` schedule steps (the first is always a run).
pub async fn run_round(seed: u64, events: usize) -> RoundReport {
    let started = Instant::now();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&floe_sample::SampleConfig {
        seed,
        files_per_day: 3,
        duplicate_rate: 0.03,
        ..crate::small_sample(31 * 600)
    });
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.max_attempts = 20;
    let mut round = Round {
        cluster,
        lake,
        rng: ChaCha8Rng::seed_from_u64(seed),
        seed,
        alive: Vec::new(),
        report: RoundReport {
            seed,
            ..Default::default()
        },
        reprocessed: BTreeSet::new(),
        passes: Vec::new(),
    };
    round.cluster.start_coordinator();
    round.start_worker(None);
    round.start_worker(None);
    let mut schedule = vec![Event::Submit {
        from: 1,
        to: round.rng.random_range(2..=DAYS),
        split: true,
    }];
    while schedule.len() < events {
        schedule.push(next_event(&mut round.rng));
    }
    for event in &schedule {
        round.apply(event);
        std::thread::sleep(Duration::from_millis(round.rng.random_range(50..900)));
    }
    round.report.events = schedule;
    // Quiescence: the faults are over, a clean worker sees every run through.
    round.start_worker(None);
    let mut finished = BTreeMap::new();
    for (run, _) in round.report.runs.clone() {
        let left = ROUND_TIMEOUT.saturating_sub(started.elapsed());
        finished.insert(run.clone(), round.cluster.wait_for_run(&run, left));
    }
    round.judge_passes(started + ROUND_TIMEOUT);
    check(&round.lake, &truth, &finished, &mut round.report).await;
    round.report.elapsed = started.elapsed();
    round.report
}

/// The checks of the module docs, each failure an anomaly.
async fn check(
    lake: &Lakehouse,
    truth: &floe_sample::GroundTruth,
    runs: &BTreeMap<String, Value>,
    report: &mut RoundReport,
) {
    let anomalies = &mut report.anomalies;
    for (run, status) in runs {
        let state = status["state"].as_str().unwrap_or("?");
        if state != "succeeded" && state != "superseded" {
            anomalies.push(format!("run {run} ended {state}: {}", status["error"]));
        }
        report.superseded_tasks += status["tasks"].as_array().map_or(0, |t| {
            t.iter().filter(|t| t["state"] == "superseded").count()
        });
    }
    // The newest run covering each day.
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for (run, days) in &report.runs {
        for d in days {
            newest.insert(d.clone(), run.clone());
        }
    }
    let contract = example_contract();
    let mut tables: Vec<TableName> = vec![
        contract.target.table.clone(),
        contract.target.quarantine_table.clone(),
        contract.target.condemned_table.clone(),
    ];
    tables.extend(contract.models.iter().map(|m| m.table.clone()));
    for table in &tables {
        check_ownership(lake.catalog.as_ref(), table, &newest, anomalies).await;
    }
    let silver = per_day(&read(
        &Readers::Sql(lake),
        "duckdb",
        &contract.target.table.to_string(),
        None,
    ));
    let quarantine =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    let condemned =
        rows_by_source_partition(lake.catalog.as_ref(), &contract.target.condemned_table).await;
    for d in newest.keys() {
        let t = &truth.days[d].counts;
        let got = (
            silver.get(d).copied(),
            quarantine.get(d).copied().unwrap_or(0),
            condemned.get(d).copied().unwrap_or(0),
        );
        let want = (
            Some((t.valid, t.sum_amount_valid_cents)),
            t.bad,
            t.duplicates,
        );
        if got != want {
            anomalies.push(format!(
                "{d}: (silver, quarantined, condemned) = {got:?}, the ground truth is {want:?}"
            ));
        }
    }
    let extra: Vec<&String> = silver.keys().filter(|d| !newest.contains_key(*d)).collect();
    if !extra.is_empty() {
        anomalies.push(format!("Silver holds days no run covered: {extra:?}"));
    }
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::gold::assert_gold_equals_duckdb(lake)
    })) {
        let why = e
            .downcast_ref::<String>()
            .map(|m| m.chars().take(400).collect::<String>())
            .unwrap_or_else(|| "a Gold table differs from DuckDB's aggregates".into());
        anomalies.push(format!(
            "Gold differs from DuckDB's aggregates over Silver: {why}…"
        ));
    }
}

/// Each covered day of `table` is fenced by its newest run and holds only that
/// run's files.
async fn check_ownership(
    catalog: &dyn TableCatalog,
    table: &TableName,
    newest: &BTreeMap<String, String>,
    anomalies: &mut Vec<String>,
) {
    let Ok(Some(t)) = catalog.load_table(table).await else {
        anomalies.push(format!("{table}: cannot be loaded"));
        return;
    };
    let meta = t.metadata();
    let owners: BTreeMap<String, String> = fence::owners(meta)
        .map(|(p, r)| (p.to_string(), r.to_string()))
        .collect();
    let day_of = |partition: &str| {
        partition
            .rsplit('=')
            .next()
            .unwrap_or(partition)
            .to_string()
    };
    let mut by_day: BTreeMap<String, String> = BTreeMap::new();
    for (partition, run) in &owners {
        by_day.insert(day_of(partition), run.clone());
    }
    for (d, run) in newest {
        match by_day.get(d) {
            Some(owner) if owner == run => {}
            // A day whose load wrote nothing to this table (no condemned rows).
            None if table.to_string().ends_with("_condemned") => {}
            other => anomalies.push(format!(
                "{table} {d}: fenced by {other:?}, the newest run covering it is {run}"
            )),
        }
    }
    let Some(current) = meta.current_snapshot() else {
        return;
    };
    let files = match snapshot_files(&t, current).await {
        Ok(f) => f,
        Err(e) => {
            anomalies.push(format!("{table}: {e}"));
            return;
        }
    };
    for f in files.data.values() {
        let d = day_of(&partition_path(&t, f));
        let owner = fence::file_owner(f.data_file.file_path()).unwrap_or("?");
        if newest.get(&d).is_some_and(|run| run != owner) {
            anomalies.push(format!(
                "{table} {d}: live file {} belongs to {owner}, not to {}",
                f.data_file.file_path(),
                newest[&d]
            ));
        }
    }
}

/// Runs `rounds` rounds from `first_seed` on; prints a line per round and a
/// summary. Returns (rounds run, faults injected, anomalies found).
pub async fn run_suite(first_seed: u64, rounds: u64, events: usize) -> (u64, usize, usize) {
    let (mut faults, mut anomalies) = (0, 0);
    for seed in first_seed..first_seed + rounds {
        match tokio::spawn(run_round(seed, events)).await {
            Ok(r) => {
                faults += r.faults();
                anomalies += r.anomalies.len();
                let verdict = if r.anomalies.is_empty() {
                    "ok"
                } else {
                    "ANOMALIES"
                };
                let (ran, refused, lost) = r.passes;
                println!(
                    "interleave round seed={seed} {verdict}: {} runs, {} faults, {} tasks superseded, passes {ran} ran / {refused} refused / {lost} lost, {:.1}s; schedule {:?}",
                    r.runs.len(),
                    r.faults(),
                    r.superseded_tasks,
                    r.elapsed.as_secs_f64(),
                    r.events
                );
                for a in &r.anomalies {
                    println!("  anomaly: {a}");
                }
            }
            Err(e) => {
                anomalies += 1;
                println!("interleave round seed={seed} FAILED: {e}");
            }
        }
    }
    println!(
        "interleave: {rounds} rounds run, {faults} faults injected, {anomalies} anomalies found"
    );
    (rounds, faults, anomalies)
}
