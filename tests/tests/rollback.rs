//! `floe-coordinator rollback`: a run is undone in one commit and other engines
//! read the old answers again, and `gold rebuild` brings the Gold models back in
//! line with it; a refused rollback changes nothing; a late retry of a
//! rolled-back run's task cannot commit it again; bad targets are clear errors.

use std::process::Output;
use std::time::Duration;

use floe_common::task::{run_task, TaskEnv};
use floe_lake::RunId;
use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::gold::*;
use floe_tests::readers::*;
use floe_tests::*;
use serde_json::Value;

const TABLE: &str = "silver.transactions";
const TIMEOUT: Duration = Duration::from_secs(120);
const DAYS: [&str; 3] = ["--from", "2025-01-01", "--to"];

fn succeeded(cluster: &Cluster, run_id: &str) {
    let run = cluster.wait_for_run(run_id, TIMEOUT);
    assert_eq!(run["state"], "succeeded", "{run:#}");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn history(lake: &Lakehouse) -> Vec<Value> {
    let out = std::process::Command::new(floe_tests::cluster::binary("floe-coordinator"))
        .args(["history", "--table", TABLE, "--json", "--lakehouse"])
        .arg(lake.dir.path())
        .output()
        .unwrap();
    serde_json::from_value(json(&out)).unwrap()
}

fn current(history: &[Value]) -> i64 {
    history
        .iter()
        .find(|e| e["current"] == true)
        .expect("a current snapshot")["snapshot_id"]
        .as_i64()
        .unwrap()
}

/// Exit code 2 (refused), with a message containing every one of `words`.
fn refused(out: &Output, words: &[&str]) {
    let message = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    for w in words {
        assert!(message.contains(w), "`{w}` missing from: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_back_a_run_restores_the_old_answers_and_keeps_it_from_coming_back() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let period = [&DAYS[..], &["2025-01-03"]].concat();

    let run1 = cluster.submit(&contract_path(), &period);
    succeeded(&cluster, &run1);
    let good_snapshot = current(&history(&lake));
    let good = silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await;
    let readers = Readers::Sql(&lake);
    for engine in ENGINES {
        assert_eq!(
            per_day(&read(&readers, engine, TABLE, None)),
            good,
            "{engine}"
        );
    }

    // A bad load: the same days from different files, then a later run on one day.
    let bad_truth = lake.generate(&small_sample(9_300));
    let run2 = cluster.submit(&contract_path(), &period);
    succeeded(&cluster, &run2);
    let run3 = cluster.submit(&contract_path(), &["--date", "2025-01-02"]);
    succeeded(&cluster, &run3);
    let bad = silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await;
    assert_ne!(bad, good);
    let before = history(&lake);

    // Undoing run 2 would discard run 3 too: refused, nothing changes.
    let out = cluster.cli(&["rollback", "--table", TABLE, "--before-run", &run2]);
    refused(&out, &[&run3, "--force", "nothing was changed"]);
    assert_eq!(history(&lake), before);

    // A dry run says what would change, and changes nothing.
    let plan = json(&cluster.cli(&[
        "rollback",
        "--table",
        TABLE,
        "--before-run",
        &run2,
        "--force",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(plan["applied"], false, "{plan:#}");
    assert_eq!(plan["plan"]["to_snapshot"], good_snapshot, "{plan:#}");
    assert_eq!(
        plan["plan"]["later_runs"],
        serde_json::json!([run3]),
        "{plan:#}"
    );
    // Runs are staged (the default): each put one snapshot on main, its publish.
    assert_eq!(plan["plan"]["discarded"].as_array().unwrap().len(), 2);
    let partitions: Vec<&str> = plan["plan"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(partitions.len(), 3, "{plan:#}");
    assert!(
        partitions.iter().all(|p| p.starts_with("ts_day=2025-01-0")),
        "{plan:#}"
    );
    let bad_rows: u64 = bad.values().map(|v| v.0).sum();
    let good_rows: u64 = good.values().map(|v| v.0).sum();
    assert_eq!(plan["plan"]["rows_removed"], bad_rows, "{plan:#}");
    assert_eq!(plan["plan"]["rows_restored"], good_rows, "{plan:#}");
    assert_eq!(history(&lake), before);

    // A time between the runs names the same snapshot.
    let good_time = before
        .iter()
        .find(|e| e["snapshot_id"] == good_snapshot)
        .unwrap()["timestamp_ms"]
        .to_string();
    let by_time = json(&cluster.cli(&[
        "rollback",
        "--table",
        TABLE,
        "--to-time",
        &good_time,
        "--force",
        "--dry-run",
        "--json",
    ]));
    assert_eq!(by_time["plan"]["to_snapshot"], good_snapshot, "{by_time:#}");

    // Forced: main is back at run 1's last snapshot and every engine agrees.
    let done = json(&cluster.cli(&[
        "rollback",
        "--table",
        TABLE,
        "--before-run",
        &run2,
        "--force",
        "--json",
    ]));
    assert_eq!(done["applied"], true, "{done:#}");
    let after = history(&lake);
    assert_eq!(current(&after), good_snapshot);
    assert_eq!(after.len(), before.len(), "a rollback adds no snapshot");
    let was_on_main = |e: &Value| {
        before
            .iter()
            .any(|b| b["snapshot_id"] == e["snapshot_id"] && b["on_main"] == true)
    };
    for e in &after {
        let discarded = e["run_id"] == run2.as_str() || e["run_id"] == run3.as_str();
        assert_eq!(e["on_main"], was_on_main(e) && !discarded, "{e:#}");
    }
    assert_eq!(
        silver_by_day(lake.catalog.as_ref(), &example_contract().target.table).await,
        good
    );
    for engine in ENGINES {
        assert_eq!(
            per_day(&read(&readers, engine, TABLE, None)),
            good,
            "{engine}"
        );
    }
    for run in [&run2, &run3] {
        let status = cluster.status(run).unwrap();
        assert_eq!(status["rolled_back"][0]["table"], TABLE, "{status:#}");
        assert_eq!(status["rolled_back"][0]["to_snapshot"], good_snapshot);
    }
    assert_eq!(
        cluster.status(&run1).unwrap()["rolled_back"],
        serde_json::json!([])
    );

    // Gold still answers for the discarded runs until `gold rebuild` computes
    // the rolled-back days again from the restored Silver.
    let gold = || floe_sql(&lake, "SELECT * FROM gold.daily_revenue", None);
    let restored = duckdb(&lake, &[TABLE], DAILY_REVENUE_IN_DUCKDB);
    assert_ne!(
        normalized(&gold(), &["revenue"]),
        normalized(&restored, &["revenue"])
    );
    let c = contract_path();
    // The rebuild is a run of the cluster's workers.
    let rebuilt = json(&cluster.cli(&[
        "gold",
        "rebuild",
        "--pipeline",
        c.to_str().unwrap(),
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-03",
        "--json",
    ]));
    let rebuilt = rebuilt.as_array().unwrap();
    assert_eq!(rebuilt.len(), 3 * 2, "3 days of 2 models: {rebuilt:#?}");
    assert!(rebuilt.iter().all(|r| r["rows"].as_u64().unwrap() > 0));
    assert_gold_equals_duckdb(&lake);

    // A late retry of one of run 2's tasks cannot bring it back.
    let contract = example_contract();
    let late = day_task(
        &lake,
        &contract,
        &bad_truth,
        "2025-01-02",
        &RunId::new(&run2),
    );
    let env = TaskEnv::new(lake.catalog.clone());
    let err = run_task(&env, &late)
        .await
        .expect_err("a rolled-back run cannot commit");
    assert!(err.to_string().contains("was rolled back"), "{err}");
    assert!(!err.is_retryable());
    assert_eq!(current(&history(&lake)), good_snapshot);

    // Targets that are not on main's history are clear errors.
    let discarded = after.iter().find(|e| e["on_main"] == false).unwrap()["snapshot_id"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = cluster.cli(&["rollback", "--table", TABLE, "--to-snapshot", &discarded]);
    refused(&out, &["not an ancestor"]);
    let out = cluster.cli(&["rollback", "--table", TABLE, "--to-snapshot", "12345"]);
    refused(&out, &["no snapshot 12345"]);
    let out = cluster.cli(&[
        "rollback",
        "--table",
        TABLE,
        "--to-time",
        "2001-01-01 00:00:00",
    ]);
    refused(
        &out,
        &["no snapshot on main's history is as old as 2001-01-01"],
    );
    assert_eq!(current(&history(&lake)), good_snapshot);
    let again = json(&cluster.cli(&[
        "rollback",
        "--table",
        TABLE,
        "--to-snapshot",
        &good_snapshot.to_string(),
        "--json",
    ]));
    assert_eq!(again["applied"], false, "already there: {again:#}");
}
