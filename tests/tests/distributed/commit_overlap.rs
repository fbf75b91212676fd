//! A task's commits overlap the worker's next task: once a task's data files
//! are written, the worker leases and reads its next task while the first one
//! commits, and holds at most two tasks per data path.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;

use super::TIMEOUT;

const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_reads_its_next_task_while_the_last_one_commits() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    // Every Silver task waits 1.5 s between writing its files and committing.
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=1500".into(),
    )];
    cluster.start_worker(); // one data path (`--concurrency 1`)
    let run_id = cluster.submit(&contract_path(), &["--from", DAYS[0], "--to", DAYS[2]]);

    // Which Silver tasks were running together, as `status` saw them.
    let mut most_at_once = BTreeSet::new();
    let started = Instant::now();
    let run = loop {
        let run = cluster.status(&run_id).expect("status");
        if run["state"] != "running" && run["state"] != "publishing" {
            break run;
        }
        let running: BTreeSet<String> = silver_tasks(&run)
            .into_iter()
            .filter(|t| t["state"] == "running")
            .map(|t| t["task_id"].as_str().unwrap().to_string())
            .collect();
        if running.len() > most_at_once.len() {
            most_at_once = running;
        }
        assert!(started.elapsed() < TIMEOUT, "run {run_id} did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        most_at_once.len(),
        2,
        "one task committing and the next one leased, never a third: {most_at_once:?}"
    );
    assert_run_totals(&run, &truth, &DAYS);
    assert_tables_match(lake.catalog.as_ref(), &truth, &DAYS).await;
}
