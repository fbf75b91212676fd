//! End to end with real processes on loopback: a coordinator, several workers,
//! the CLI. Row accounting is checked against the generator's ground truth.

use std::time::{Duration, Instant};

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::publish::staging_branch;
use floe_lake::RunId;
use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;
use serde_json::Value;

mod commit_overlap;

const TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_on_three_workers_accounts_for_every_row_and_a_rerun_keeps_one_copy() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(20_000));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    for _ in 0..3 {
        cluster.start_worker();
    }
    let days = all_days(&truth);
    for _ in 0..2 {
        let run_id = cluster.submit(&contract_path(), &["--backfill", "2025-01"]);
        let run = cluster.wait_for_run(&run_id, TIMEOUT);
        assert_run_totals(&run, &truth, &days);
        assert_eq!(silver_tasks(&run).len(), 31);
        assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
        // Read 7 tasks at a time (as a run of any size is): the same run.
        let paged = cluster.cli(&["status", &run_id, "--json", "--page-size", "7"]);
        let paged: Value = serde_json::from_slice(&paged.stdout).unwrap();
        assert_eq!(paged, run);
        assert_eq!(
            paged["task_count"].as_u64(),
            Some(run["tasks"].as_array().unwrap().len() as u64)
        );
    }
}

/// Waits until some task of the run is running.
fn wait_for_a_running_task(cluster: &Cluster, run_id: &str) {
    cluster.wait_for_a_running_task(run_id, TIMEOUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_of_a_killed_worker_is_leased_again_and_the_run_completes() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    // The first worker stalls before committing, so it dies mid-task.
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=60000".into(),
    )];
    cluster.start_worker();
    let run_id = cluster.submit(&contract_path(), &["--date", "2025-01-02"]);
    wait_for_a_running_task(&cluster, &run_id);
    cluster.kill_worker(0);
    cluster.worker_env.clear();
    cluster.start_worker();
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_run_totals(&run, &truth, &["2025-01-02"]);
    assert_eq!(run["tasks"][0]["attempts"], 2, "{run:#}");
    assert_tables_match(lake.catalog.as_ref(), &truth, &["2025-01-02"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_mid_run_and_restarted_carries_on() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.worker_env = vec![("FLOE_FAILPOINT".into(), "before-commit:sleep-ms=700".into())];
    cluster.start_worker();
    cluster.start_worker();
    let run_id = cluster.submit(
        &contract_path(),
        &["--from", "2025-01-01", "--to", "2025-01-06"],
    );
    wait_for_a_running_task(&cluster, &run_id);
    cluster.kill_coordinator();
    std::thread::sleep(Duration::from_millis(500));
    cluster.start_coordinator();
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    let days = [
        "2025-01-01",
        "2025-01-02",
        "2025-01-03",
        "2025-01-04",
        "2025-01-05",
        "2025-01-06",
    ];
    assert_run_totals(&run, &truth, &days);
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
}

/// `run` failed because its one Silver task died after three attempts, the
/// last failing with an error containing `words`.
fn assert_died_of(run: &Value, words: &str) {
    assert_eq!(run["state"], "failed", "{run:#}");
    let silver = silver_tasks(run);
    assert_eq!(silver.len(), 1, "{run:#}");
    let task = silver[0];
    assert_eq!(
        (&task["state"], &task["attempts"]),
        (&"dead".into(), &3.into()),
        "{task:#}"
    );
    let error = task["last_error"].as_str().unwrap();
    assert!(error.contains(words), "{error}");
}

/// A task that panics, or hangs past the workers' time limit, fails its
/// attempt (the heartbeat stops with it), is retried after a backoff and then
/// dead-lettered: the run ends failed, saying why, instead of holding its
/// lease forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_or_hanging_task_fails_its_attempts_and_the_run_ends() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();

    cluster.worker_env = vec![
        ("FLOE_FAILPOINT".into(), "before-commit:panic".into()),
        ("FLOE_RETRY_BACKOFF".into(), "2s".into()),
    ];
    cluster.start_worker();
    let submitted = Instant::now();
    let run_id = cluster.submit(&contract_path(), &["--date", "2025-01-02"]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    // The second delivery waited at least half of 2s, the third half of 4s.
    let waited = submitted.elapsed();
    assert!(
        waited >= Duration::from_secs(3),
        "retried too soon: {waited:?}"
    );
    assert_died_of(&run, "the task panicked: injected panic");
    cluster.kill_worker(0);

    cluster.worker_env = vec![
        (
            "FLOE_FAILPOINT".into(),
            "before-commit:sleep-ms=600000".into(),
        ),
        ("FLOE_TASK_TIME_LIMIT".into(), "2s".into()),
    ];
    cluster.start_worker();
    let run_id = cluster.submit(&contract_path(), &["--date", "2025-01-03"]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_died_of(&run, "longer than the worker's time limit of 2s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_task_is_dead_lettered_and_the_run_fails_naming_the_file() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    let run_id = cluster.submit(
        &contract_path(),
        &["--from", "2025-01-01", "--to", "2025-01-03"],
    );
    // The file vanishes after planning: every delivery of that task fails.
    let lost = lake.bronze().join(&truth.days["2025-01-02"].files[0]);
    std::fs::remove_file(&lost).unwrap();
    cluster.start_worker();
    cluster.start_worker();
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_eq!(run["state"], "failed", "{run:#}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains(lost.to_str().unwrap()), "{error}");
    let tasks = run["tasks"].as_array().unwrap();
    let dead: Vec<&Value> = tasks.iter().filter(|t| t["state"] == "dead").collect();
    assert_eq!(dead.len(), 1, "{run:#}");
    assert_eq!(dead[0]["partition"], "2025-01-02");
    assert_eq!(dead[0]["attempts"], 3);
    let silver = silver_tasks(&run);
    assert_eq!(
        silver.iter().filter(|t| t["state"] == "succeeded").count(),
        2
    );
    // The lost day's Gold partitions are not rebuilt; the other days' are.
    let gold: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["task_id"].as_str().unwrap().contains("-gold-"))
        .collect();
    for t in &gold {
        let lost_day = t["partition"] == "2025-01-02";
        let expected = if lost_day { "failed" } else { "succeeded" };
        assert_eq!(t["state"], expected, "{t:#}");
        if lost_day {
            let e = t["last_error"].as_str().unwrap();
            assert!(e.contains("not run because task transactions-2025-01-02-000 (2025-01-02) dead after 3 attempts"), "{e}");
        }
    }
    assert_eq!(gold.len(), 6);
    // The run is staged (the default): failed, it publishes none of its days,
    // and its branch keeps the two days that loaded, for inspection.
    let contract = example_contract();
    let silver = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await;
    assert!(
        silver.is_empty(),
        "a failed staged run reached main: {silver:?}"
    );
    let branch = staging_branch(&RunId::new(&run_id));
    let table = lake.catalog.load_table(&contract.target.table).await;
    let head = table
        .unwrap()
        .unwrap()
        .metadata()
        .snapshot_for_ref(&branch)
        .map(|s| s.snapshot_id());
    assert!(head.is_some(), "the failed run's branch {branch} is kept");
    let staged = silver_by_day_at(lake.catalog.as_ref(), &contract.target.table, head).await;
    for day in ["2025-01-01", "2025-01-03"] {
        let t = &truth.days[day].counts;
        assert_eq!(staged[day], (t.valid, t.sum_amount_valid_cents), "{day}");
    }
    assert!(!staged.contains_key("2025-01-02"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_task_finish_and_the_worker_exits_cleanly() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.worker_env = vec![(
        "FLOE_FAILPOINT".into(),
        "before-commit:sleep-ms=1500".into(),
    )];
    cluster.start_worker();
    let run_id = cluster.submit(&contract_path(), &["--date", "2025-01-03"]);
    wait_for_a_running_task(&cluster, &run_id);
    let status = cluster.terminate_worker(0);
    assert!(status.success(), "worker exit status {status}");
    // The day's Gold tasks are queued once its Silver task commits: another
    // worker runs them.
    cluster.worker_env.clear();
    cluster.start_worker();
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(60));
    assert_run_totals(&run, &truth, &["2025-01-03"]);
    assert_eq!(
        run["tasks"][0]["attempts"], 1,
        "finished by the draining worker: {run:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_are_refused_and_nothing_is_enqueued() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    let contract = contract_path();
    let c = contract.to_str().unwrap();
    for (args, expected) in [
        (vec!["--backfill", "2025-13"], "not valid"),
        (vec!["--backfill", "2024-06"], "no input files"),
    ] {
        let mut full = vec!["submit", "--pipeline", c];
        full.extend(args);
        let out = cluster.cli(&full);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    // A broken contract, and one whose source reaches outside the Bronze root.
    for (from, to, expected) in [
        ("decimal(12,2)", "decimal(40,2)", "columns[4].type"),
        (
            "location = \"transactions/",
            "location = \"../transactions/",
            "reaches outside the Bronze root",
        ),
    ] {
        let text = std::fs::read_to_string(&contract).unwrap();
        assert!(text.contains(from), "the example contract has {from}");
        let edited = lake.dir.path().join("edited.toml");
        std::fs::write(&edited, text.replace(from, to)).unwrap();
        let path = edited.to_str().unwrap();
        let out = cluster.cli(&["submit", "--pipeline", path, "--backfill", "2025-01"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(expected),
            "{stderr}"
        );
    }
    let runs = cluster.cli(&["runs", "--json"]);
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 0, "nothing was recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_prints_the_plan_and_records_nothing() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    let c = contract_path();
    let out = cluster.cli(&[
        "submit",
        "--pipeline",
        c.to_str().unwrap(),
        "--backfill",
        "2025-01",
        "--explain",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tasks = plan["tasks"].as_array().unwrap();
    // 31 Silver tasks, then one task per day for each of the two Gold models.
    assert_eq!(tasks.len(), 31 * 3);
    let gold = tasks
        .iter()
        .filter(|t| t["task_id"].as_str().unwrap().contains("-gold-"));
    assert!(gold
        .clone()
        .all(|t| t["files"].as_array().unwrap().is_empty()));
    assert_eq!(gold.count(), 62);
    let day = &tasks[1];
    assert_eq!(day["partition"], "2025-01-02");
    assert_eq!(
        day["files"].as_array().unwrap().len(),
        truth.days["2025-01-02"].files.len()
    );
    assert!(day["bytes"].as_u64().unwrap() > 0 && day["estimated_rows"].as_u64().unwrap() > 0);
    let runs: Value = serde_json::from_slice(&cluster.cli(&["runs", "--json"]).stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 0, "explain records nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_writes_nothing_more() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    let run_id = cluster.submit(
        &contract_path(),
        &["--from", "2025-01-01", "--to", "2025-01-04"],
    );
    let out = cluster.cli(&["cancel", &run_id, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["state"], "cancelled");
    assert!(
        run["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "cancelled"),
        "{run:#}"
    );
    // A worker started now finds the cancelled run's tasks and drops them.
    cluster.start_worker();
    std::thread::sleep(Duration::from_secs(2));
    let run = cluster.status(&run_id).unwrap();
    assert_eq!(run["state"], "cancelled");
    assert_eq!(run["rows"]["rows_in"], 0);
    let contract = example_contract();
    assert!(silver_by_day(lake.catalog.as_ref(), &contract.target.table)
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_wait_exits_non_zero_when_the_run_fails() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    let c = contract_path();
    let waiting = cluster
        .command("floe-coordinator")
        .args([
            "submit",
            "--pipeline",
            c.to_str().unwrap(),
            "--date",
            "2025-01-01",
            "--wait",
        ])
        .args(["--coordinator", &cluster.url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the run is planned, its input vanishes: the run will fail.
    let started = Instant::now();
    while serde_json::from_slice::<Value>(&cluster.cli(&["runs", "--json"]).stdout)
        .map(|v| v.as_array().map_or(0, Vec::len))
        .unwrap_or(0)
        == 0
    {
        assert!(started.elapsed() < TIMEOUT, "the run was never submitted");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::remove_file(lake.bronze().join(&truth.days["2025-01-01"].files[0])).unwrap();
    cluster.start_worker();
    let out = waiting.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("failed") && stdout.contains("error:") && stdout.contains("part-00000"),
        "{stdout}"
    );
}

/// A contract applied once is a registered pipeline: a submit without
/// `--pipeline` runs its latest version, an edited contract becomes version 2
/// (shown and diffed against version 1), and an unknown name is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_pipeline_is_submitted_by_name_and_versioned() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let original = contract_path();
    let path = original.to_str().unwrap();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let none = cluster.cli(&["submit", "--date", "2025-01-02"]);
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(
        !none.status.success() && stderr.contains("pipeline apply"),
        "{stderr}"
    );

    assert!(ok(cluster.cli(&["pipeline", "apply", path])).contains("version 1 registered"));
    assert!(ok(cluster.cli(&["pipeline", "apply", path])).contains("unchanged at version 1"));
    let submitted: Value = serde_json::from_str(&ok(cluster.cli(&[
        "submit",
        "--date",
        "2025-01-02",
        "--json",
    ])))
    .unwrap();
    let run = cluster.wait_for_run(submitted["run_id"].as_str().unwrap(), TIMEOUT);
    assert_run_totals(&run, &truth, &["2025-01-02"]);

    let text = std::fs::read_to_string(&original).unwrap();
    let edited = lake.dir.path().join("edited.toml");
    std::fs::write(&edited, format!("{text}\n# reviewed\n")).unwrap();
    let edited = edited.to_str().unwrap();
    assert!(ok(cluster.cli(&["pipeline", "apply", edited])).contains("version 2 registered"));
    let list: Value =
        serde_json::from_str(&ok(cluster.cli(&["pipeline", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["name"], "transactions");
    assert_eq!(list[0]["version"], 2);
    let shown = ok(cluster.cli(&["pipeline", "show", "transactions", "--version", "1"]));
    assert_eq!(shown, text);
    let diff = cluster.cli(&["pipeline", "diff", "transactions"]);
    assert_eq!(diff.status.code(), Some(1), "the versions differ");
    let diff = String::from_utf8(diff.stdout).unwrap();
    assert!(diff.contains("+# reviewed"), "{diff}");
    assert_eq!(
        diff.lines().filter(|l| l.starts_with('+')).count(),
        3,
        "{diff}"
    );

    let unknown = cluster.cli(&["submit", "--pipeline", "nosuch", "--date", "2025-01-02"]);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success() && stderr.contains("no pipeline `nosuch` is registered"),
        "{stderr}"
    );
}
