//! The circuit breaker: a task whose rejection rate passes the contract's
//! `limits.max_rejection_rate` (here: a column renamed upstream) fails at once,
//! without retries and without committing, and the run says why; a task under
//! the limit commits as usual.

use std::time::Duration;

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_column_trips_the_breaker_and_the_run_says_why() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let (drifted, healthy) = ("2025-01-02", "2025-01-03");
    // Upstream renamed `amount` to `amt` in one day's files.
    for f in &truth.days[drifted].files {
        let path = lake.bronze().join(f);
        // Bytes: a bad row of the sample may not be UTF-8.
        let bytes = std::fs::read(&path).unwrap();
        let end = bytes.iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&bytes[..end]).unwrap();
        let renamed: Vec<&str> = header
            .split(',')
            .map(|c| if c == "amount" { "amt" } else { c })
            .collect();
        assert_ne!(renamed.join(","), header, "the sample has an amount column");
        let mut edited = renamed.join(",").into_bytes();
        edited.extend_from_slice(&bytes[end..]);
        std::fs::write(&path, edited).unwrap();
    }
    let contract = lake.dir.path().join("guarded.toml");
    // Direct: the healthy day reaches `main` although the run fails (a failed
    // staged run publishes nothing: tests/tests/staged_runs.rs).
    let text = std::fs::read_to_string(contract_path())
        .unwrap()
        .replace("publish = \"auto\"", "publish = \"direct\"")
        + "\n[limits]\nmax_rejection_rate = 0.2\nrejection_min_rows = 50\n";
    assert!(text.contains("publish = \"direct\""));
    std::fs::write(&contract, text).unwrap();

    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let run_id = cluster.submit(&contract, &["--from", drifted, "--to", healthy]);
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(120));
    assert_eq!(run["state"], "failed", "{run:#}");
    let error = run["error"].as_str().unwrap();
    for part in [
        "limits.max_rejection_rate",
        "20.0%",
        "amount: required, but the file has no such column",
        "Nothing was committed",
        "part-00000.csv:2: tx_",
    ] {
        assert!(error.contains(part), "`{part}` missing from: {error}");
    }
    let tasks = run["tasks"].as_array().unwrap();
    let task = |day: &str| tasks.iter().find(|t| t["partition"] == day).unwrap();
    assert_eq!(task(drifted)["state"], "failed");
    assert_eq!(task(drifted)["attempts"], 1, "not retried: {run:#}");
    assert_eq!(task(healthy)["state"], "succeeded");

    // Only the healthy day is in the tables: the drifted task committed nothing.
    assert_tables_match(lake.catalog.as_ref(), &truth, &[healthy]).await;
}
