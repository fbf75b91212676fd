//! Overlapping runs end to end, with real processes: an operator re-submits a
//! load while the first is still running and one of its workers was killed
//! holding a task. The newer run takes the partitions over, the older run's
//! straggler comes back after its lease expired and is refused, and the
//! tables hold exactly one complete load of every day.

use std::time::Duration;

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);
const DAYS: [&str; 4] = ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"];

fn running_task(cluster: &Cluster, run_id: &str) -> String {
    let task = cluster.wait_for_a_running_task(run_id, TIMEOUT);
    task["partition"].as_str().unwrap().to_string()
}

fn tasks_in(run: &Value, state: &str) -> Vec<Value> {
    silver_tasks(run)
        .into_iter()
        .filter(|t| t["state"] == state)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmitted_load_supersedes_the_running_one_and_its_straggler() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(8_000));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    // Run A's only worker stalls before committing and is killed: a spot reclaim.
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=60000".into(),
    )];
    cluster.start_worker();
    let period = ["--from", DAYS[0], "--to", DAYS[3]];
    let a = cluster.submit(&contract_path(), &period);
    let held = running_task(&cluster, &a);
    cluster.kill_worker(0);

    // The operator re-runs the load; --explain shows what it takes over.
    let explain = cluster.cli(&[
        "submit",
        "--pipeline",
        contract_path().to_str().unwrap(),
        "--from",
        DAYS[0],
        "--to",
        DAYS[3],
        "--explain",
        "--json",
    ]);
    let explain: Value = serde_json::from_slice(&explain.stdout).expect("explain --json");
    let overlap = &explain["overlaps"][0];
    assert_eq!(overlap["run_id"], a.as_str(), "{explain:#}");
    assert_eq!(overlap["partitions"].as_array().unwrap().len(), DAYS.len());
    let (queued, running) = (
        overlap["queued"].as_u64().unwrap(),
        overlap["running"].as_u64().unwrap(),
    );
    let tasks_of_a = cluster.status(&a).unwrap()["tasks"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert!(
        running >= 1 && queued + running == tasks_of_a,
        "{explain:#}"
    );
    let b = cluster.submit(&contract_path(), &period);
    cluster.worker_env.clear();
    cluster.start_worker();
    cluster.start_worker();

    let run_b = cluster.wait_for_run(&b, TIMEOUT);
    assert_run_totals(&run_b, &truth, &DAYS);
    // A's held task comes back once its lease expires, and is refused.
    let run_a = cluster.wait_for_run(&a, TIMEOUT);
    assert_eq!(run_a["state"], "superseded", "{run_a:#}");
    let superseded = tasks_in(&run_a, "superseded");
    assert_eq!(superseded.len(), DAYS.len(), "{run_a:#}");
    assert!(superseded.iter().all(|t| t["superseded_by"] == b.as_str()));
    let straggler = superseded
        .iter()
        .find(|t| t["partition"] == held.as_str())
        .unwrap();
    assert!(
        straggler["attempts"].as_u64().unwrap() >= 2,
        "{straggler:#}"
    );
    let summary = run_a["error"].as_str().unwrap();
    assert!(summary.contains(&format!("{held} to run {b}")), "{summary}");
    assert_tables_match(lake.catalog.as_ref(), &truth, &DAYS).await;

    // The text summary says which partitions went to which run.
    let out = cluster.cli(&["status", &a]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("superseded: "), "{text}");
}
