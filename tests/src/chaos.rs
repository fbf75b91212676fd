//! The chaos suite: a backfill on real processes while a seeded schedule of
//! faults hits them: SIGKILLed workers, a SIGKILLed coordinator, SIGTERMed
//! (draining) workers, and workers that die or fail in the middle of their
//! commit sequence (between one table's commit and the next, or right after a
//! commit that then reports an error: an ambiguous outcome), and table
//! maintenance (compaction, expiry, orphan removal) at the youngest ages this
//! round's settings make legal, beside the load. After each round the run must
//! have succeeded with exact row accounting against the ground truth and one
//! copy of every row, and so after a last maintenance pass.
//!
//! A round is a function of its seed: the same seed gives the same data, the
//! same faults in the same order, and the same fail-point choices per delivery.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::RetryPolicy;
use floe_lake::maintenance::compact::{compact, CompactOptions};
use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
use floe_lake::maintenance::orphans::remove_orphan_files;

use crate::checks::{all_days, assert_run_totals, assert_tables_match, contract_path};
use crate::cluster::Cluster;
use crate::{example_contract, small_sample, Lakehouse};

/// How long a round may take before it counts as failed (a stuck run).
const ROUND_TIMEOUT: Duration = Duration::from_secs(240);

/// The workers' task time limit in a round: no task runs longer.
const TASK_TIME_LIMIT: &str = "10s";

/// The youngest legal maintenance age for a round: above the longest task (the
/// time limit), with a margin for a commit in flight when it is reached. Expiry
/// uses it too, below its own floor (the redelivery window): stricter than
/// needed, as a commit's record in its partition must make expiry safe anyway.
const MAINTENANCE_AGE: Duration = Duration::from_secs(15);

/// One fault of a round's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    KillWorker,
    KillCoordinator,
    DrainWorker,
    /// Replaces a worker with one carrying a probabilistic fail point.
    FaultyWorker,
    /// Compacts, expires and removes orphans on the three tables.
    Maintenance,
}

/// What a round did.
#[derive(Debug, Clone)]
pub struct RoundReport {
    pub seed: u64,
    pub faults: Vec<Fault>,
    /// Every worker the round started (`w0`, `w1`, …) with the fail point it
    /// carried, if any.
    pub workers: Vec<(String, Option<String>)>,
    /// Drained workers that died at their own abort fail point: the fault they
    /// were started with, not a failed drain.
    pub aborted_drains: Vec<String>,
    pub rows: u64,
    pub tasks: usize,
    /// Task deliveries (attempts) the run took: more than `tasks` when faults
    /// cost work.
    pub deliveries: u64,
    pub maintenance: MaintenanceDone,
    pub elapsed: Duration,
}

/// A fail point for a worker: dies or errs at a commit boundary, for a share
/// of its deliveries.
fn fail_point(rng: &mut ChaCha8Rng) -> String {
    let at = [
        "before-commit",
        "after-commit-quarantine",
        "after-commit-condemned",
        "after-commit-silver",
    ][rng.random_range(0..4)];
    let action = if rng.random_bool(0.5) {
        "abort"
    } else {
        "error"
    };
    format!("{at}:{action}@0.3")
}

struct Round {
    cluster: Cluster,
    rng: ChaCha8Rng,
    seed: u64,
    /// Indices (in the cluster) of the workers still running.
    alive: Vec<usize>,
    /// By worker index: the fail point it was started with.
    fail_points: Vec<Option<String>>,
    aborted_drains: Vec<String>,
}

impl Round {
    fn start_worker(&mut self, faulty: bool) {
        let mut env = vec![
            ("FLOE_FAILPOINT_SEED".to_string(), self.seed.to_string()),
            (
                "FLOE_TASK_TIME_LIMIT".to_string(),
                TASK_TIME_LIMIT.to_string(),
            ),
        ];
        let point = faulty.then(|| fail_point(&mut self.rng));
        if let Some(p) = &point {
            env.push(("FLOE_FAILPOINT".into(), p.clone()));
        }
        self.cluster.worker_env = env;
        self.cluster.start_worker();
        self.alive.push(self.cluster.worker_pids().len() - 1);
        self.fail_points.push(point);
    }

    /// A drained worker must exit cleanly, unless it carries an abort fail
    /// point: its task may reach the point while it drains, and then the
    /// process aborts as that fault is meant to.
    fn judge_drain(&mut self, worker: usize, status: std::process::ExitStatus) {
        use std::os::unix::process::ExitStatusExt;
        let point = self.fail_points[worker].as_deref();
        let armed_abort = point.is_some_and(|p| p.contains(":abort"));
        const SIGABRT: i32 = 6;
        if armed_abort && status.signal() == Some(SIGABRT) {
            self.aborted_drains
                .push(format!("w{worker} ({})", point.unwrap_or_default()));
            return;
        }
        assert!(
            status.success(),
            "a drained worker exits cleanly: w{worker} (fail point: {}) ended with {status}",
            point.unwrap_or("none")
        );
    }

    fn pick_worker(&mut self) -> usize {
        let i = self.rng.random_range(0..self.alive.len());
        self.alive.swap_remove(i)
    }

    fn inject(&mut self, fault: Fault) {
        match fault {
            Fault::KillWorker => {
                let w = self.pick_worker();
                self.cluster.kill_worker(w);
                self.start_worker(false);
            }
            Fault::DrainWorker => {
                let w = self.pick_worker();
                let status = self.cluster.terminate_worker(w);
                self.judge_drain(w, status);
                self.start_worker(false);
            }
            Fault::FaultyWorker => {
                let w = self.pick_worker();
                self.cluster.kill_worker(w);
                self.start_worker(true);
            }
            Fault::KillCoordinator => {
                self.cluster.kill_coordinator();
                self.cluster.start_coordinator();
            }
            Fault::Maintenance => unreachable!("run by `maintain`, in the test process"),
        }
    }
}

/// What the maintenance passes of a round did, over the three tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaintenanceDone {
    pub passes: usize,
    pub files_compacted: usize,
    pub snapshots_expired: usize,
    pub orphans_removed: usize,
    /// Steps that gave up to concurrent commits (changing nothing).
    pub gave_up: usize,
}

/// A step that gave up to commits that kept moving the table changed nothing;
/// any other failure fails the round.
fn settle<T>(
    step: floe_lake::Result<T>,
    table: &floe_lake::TableName,
    done: &mut MaintenanceDone,
) -> Option<T> {
    match step {
        Ok(report) => Some(report),
        Err(floe_lake::LakeError::Maintenance { message, .. }) if message.contains("gave up") => {
            done.gave_up += 1;
            None
        }
        Err(e) => panic!("maintenance of {table} failed: {e}"),
    }
}

/// One maintenance pass over the pipeline's three tables, as the coordinator's
/// schedule would run it, at [`MAINTENANCE_AGE`].
pub async fn maintain(catalog: &dyn TableCatalog, done: &mut MaintenanceDone) {
    let target = example_contract().target.clone();
    let retry = RetryPolicy::default();
    let compacting = CompactOptions {
        target_file_bytes: 64 * 1024 * 1024,
        min_files: 2,
    };
    let expiring = ExpireOptions {
        older_than: Some(MAINTENANCE_AGE),
        retain_last: 1,
        ..Default::default()
    };
    done.passes += 1;
    for table in [
        &target.table,
        &target.quarantine_table,
        &target.condemned_table,
    ] {
        if catalog.load_table(table).await.unwrap().is_none() {
            continue;
        }
        let compacted = compact(catalog, table, &compacting, &retry).await;
        if let Some(r) = settle(compacted, table, done) {
            done.files_compacted += r.files_replaced;
        }
        let expired = expire_snapshots(catalog, table, &expiring, &retry).await;
        if let Some(r) = settle(expired, table, done) {
            done.snapshots_expired += r.expired.len();
        }
        let store = floe_lake::storage::LocalStore;
        let orphans = remove_orphan_files(catalog, &store, table, MAINTENANCE_AGE, false).await;
        if let Some(r) = settle(orphans, table, done) {
            done.orphans_removed += r.orphans.len();
        }
    }
}

/// Runs one round: a month's backfill on three workers under up to `faults`
/// faults; the report lists those injected while the run was in flight.
pub async fn run_round(seed: u64, faults: usize) -> RoundReport {
    let started = Instant::now();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&floe_sample::SampleConfig {
        seed,
        ..small_sample(24_800)
    });
    let mut round = Round {
        cluster: Cluster::new(lake.dir.path()),
        rng: ChaCha8Rng::seed_from_u64(seed),
        seed,
        alive: Vec::new(),
        fail_points: Vec::new(),
        aborted_drains: Vec::new(),
    };
    // Faults cost attempts; the run must not dead-letter a task because of them.
    round.cluster.max_attempts = 20;
    // A task per file, so partitions hold several files for compaction to merge.
    round.cluster.coordinator_args = vec!["--target-task-mb".into(), "0.01".into()];
    round.cluster.start_coordinator();
    for _ in 0..3 {
        let faulty = round.rng.random_bool(0.3);
        round.start_worker(faulty);
    }
    let run_id = round
        .cluster
        .submit(&contract_path(), &["--backfill", "2025-01"]);
    let mut maintenance = MaintenanceDone::default();
    // Faults land only while the run is in flight (a coordinator that is down
    // counts as in flight); a run that ends early ends the schedule.
    let mut injected = Vec::new();
    while injected.len() < faults {
        std::thread::sleep(Duration::from_millis(round.rng.random_range(100..700)));
        let finished = round
            .cluster
            .status(&run_id)
            .is_some_and(|run| run["state"] != "running");
        if finished {
            break;
        }
        let fault = match round.rng.random_range(0..12) {
            0..=3 => Fault::KillWorker,
            4..=5 => Fault::DrainWorker,
            6..=7 => Fault::FaultyWorker,
            8..=9 => Fault::Maintenance,
            _ => Fault::KillCoordinator,
        };
        if fault == Fault::Maintenance {
            maintain(lake.catalog.as_ref(), &mut maintenance).await;
        } else {
            round.inject(fault);
        }
        injected.push(fault);
    }
    // The faults are over: a clean worker makes sure the run can finish.
    round.start_worker(false);
    let run = round
        .cluster
        .wait_for_run(&run_id, ROUND_TIMEOUT.saturating_sub(started.elapsed()));
    let days = all_days(&truth);
    assert_run_totals(&run, &truth, &days);
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
    // A last pass compacts, expires and removes what the faults left behind
    // (what is old enough): the tables still hold every row once.
    maintain(lake.catalog.as_ref(), &mut maintenance).await;
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
    RoundReport {
        seed,
        faults: injected,
        workers: round
            .fail_points
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("w{i}"), p.clone()))
            .collect(),
        aborted_drains: round.aborted_drains.clone(),
        rows: truth.totals.rows,
        tasks: run["tasks"].as_array().map_or(0, Vec::len),
        deliveries: run["tasks"]
            .as_array()
            .map_or(0, |t| t.iter().filter_map(|t| t["attempts"].as_u64()).sum()),
        maintenance,
        elapsed: started.elapsed(),
    }
}

/// `w1=after-commit-silver:abort@0.3, …`, or `none`.
fn describe_workers(workers: &[(String, Option<String>)]) -> String {
    let armed: Vec<String> = workers
        .iter()
        .filter_map(|(w, p)| p.as_ref().map(|p| format!("{w}={p}")))
        .collect();
    if armed.is_empty() {
        "none".into()
    } else {
        armed.join(", ")
    }
}

/// Runs `rounds` rounds from `first_seed` on, each in its own task so a failed
/// round is reported and the next one still runs; prints a line per round and
/// a summary. Returns (run, passed).
pub async fn run_suite(first_seed: u64, rounds: u64, faults: usize) -> (u64, u64) {
    let mut passed = 0;
    for seed in first_seed..first_seed + rounds {
        match tokio::spawn(run_round(seed, faults)).await {
            Ok(r) if r.faults.is_empty() => {
                println!("chaos round seed={seed} FAILED: the run ended before any fault");
            }
            Ok(r) => {
                passed += 1;
                println!(
                    "chaos round seed={} passed: {} rows, {} tasks in {} deliveries, faults {:?}, {:.1}s",
                    r.seed,
                    r.rows,
                    r.tasks,
                    r.deliveries,
                    r.faults,
                    r.elapsed.as_secs_f64()
                );
                println!("  fail points: {}", describe_workers(&r.workers));
                let m = r.maintenance;
                println!(
                    "  maintenance: {} passes, {} files compacted, {} snapshots expired, {} orphans removed, {} steps gave up to commits",
                    m.passes, m.files_compacted, m.snapshots_expired, m.orphans_removed, m.gave_up
                );
                if !r.aborted_drains.is_empty() {
                    println!(
                        "  drained workers that aborted at their own fail point (expected): {}",
                        r.aborted_drains.join(", ")
                    );
                }
            }
            Err(e) => println!("chaos round seed={seed} FAILED: {e}"),
        }
    }
    println!("chaos: {rounds} rounds run, {passed} passed");
    (rounds, passed)
}
