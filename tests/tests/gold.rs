//! The Gold layer end to end, with a real coordinator and workers: after a
//! backfill, the example contract's two models hold exactly the aggregates
//! DuckDB computes over the Silver table (to the cent), and DuckDB reads the
//! Gold tables Floe wrote. Re-running one day rebuilds only that day's Gold
//! partition; `sql --as-of` still answers as before it. A failing model test
//! fails its task and leaves Gold as it was. (Needs FLOE_PYTHON.)

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use floe_common::contract::TableName;
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::files::{partition_path, snapshot_files};
use floe_lake::commit::publish::PUBLISH_TASK;
use floe_tests::checks::{contract_path, silver_tasks};
use floe_tests::cluster::Cluster;
use floe_tests::gold::{assert_gold_equals_duckdb, floe_sql, normalized};
use floe_tests::readers::cents;
use floe_tests::*;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(180);
const DAY: &str = "2025-01-05";

/// Data file paths of the current snapshot, by partition.
async fn files_by_partition(lake: &Lakehouse, table: &str) -> BTreeMap<String, BTreeSet<String>> {
    let name = TableName::parse(table).unwrap();
    let table = lake.catalog.load_table(&name).await.unwrap().unwrap();
    let snapshot = table.metadata().current_snapshot().unwrap().clone();
    let files = snapshot_files(&table, &snapshot).await.unwrap();
    let mut by = BTreeMap::<String, BTreeSet<String>>::new();
    for (path, f) in &files.data {
        by.entry(partition_path(&table, f))
            .or_default()
            .insert(path.clone());
    }
    by
}

async fn current_snapshot(lake: &Lakehouse, table: &str) -> i64 {
    let name = TableName::parse(table).unwrap();
    let table = lake.catalog.load_table(&name).await.unwrap().unwrap();
    table.metadata().current_snapshot_id().unwrap()
}

fn tasks_of<'a>(run: &'a Value, prefix: &str) -> Vec<&'a Value> {
    run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["task_id"].as_str().unwrap().starts_with(prefix))
        .collect()
}

fn revenue_of_day(lake: &Lakehouse, as_of: Option<&str>) -> i64 {
    let sql =
        format!("SELECT SUM(revenue) AS revenue FROM gold.daily_revenue WHERE day = DATE '{DAY}'");
    let rows = floe_sql(lake, &sql, as_of);
    let v = &rows[0]["revenue"];
    cents(
        v.as_str()
            .map(String::from)
            .unwrap_or_else(|| v.to_string())
            .as_str(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_builds_gold_equal_to_duckdb_and_a_day_rerun_rebuilds_only_that_day() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    cluster.start_worker();
    let run_id = cluster.submit(&contract_path(), &["--backfill", "2025-01"]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_eq!(run["state"], "succeeded", "{run:#}");
    let revenue_tasks = tasks_of(&run, "transactions-gold-daily_revenue-");
    let totals_tasks = tasks_of(&run, "transactions-gold-daily_currency_totals-");
    assert_eq!((revenue_tasks.len(), totals_tasks.len()), (31, 31));
    assert_eq!(run["tasks"].as_array().unwrap().len(), 31 * 3);
    assert_gold_equals_duckdb(&lake);
    let written: u64 = revenue_tasks
        .iter()
        .map(|t| t["gold_rows"].as_u64().unwrap())
        .sum();
    let rows = floe_sql(&lake, "SELECT COUNT(*) AS n FROM gold.daily_revenue", None);
    assert_eq!(
        rows[0]["n"].as_u64(),
        Some(written),
        "each task reports the rows it wrote"
    );
    assert!(revenue_tasks.iter().all(|t| t["model"] == "daily_revenue"));
    assert_eq!(silver_tasks(&run).len(), 31);

    // The status table lists the Gold tasks by model, with the rows each wrote.
    let out = cluster.cli(&["status", &run_id]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let day_task = revenue_tasks
        .iter()
        .find(|t| t["partition"] == DAY)
        .unwrap();
    let line: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("daily_revenue ") && l.contains(DAY))
        .unwrap_or_else(|| panic!("no Gold line for {DAY}: {text}"))
        .split_whitespace()
        .collect();
    assert_eq!(line[2], "succeeded", "{text}");
    assert_eq!(line[4], day_task["gold_rows"].to_string(), "{text}");

    // Each Gold commit names its run and task.
    let history = lake.cli_json(&["history", "--table", "gold.daily_revenue", "--json"]);
    let history = history.as_array().unwrap();
    let by_task: BTreeSet<&str> = history
        .iter()
        .filter_map(|e| e["task_id"].as_str())
        .filter(|task| *task != PUBLISH_TASK)
        .collect();
    assert_eq!(
        by_task.len(),
        31,
        "one commit per Gold partition: {history:#?}"
    );
    // The run is staged (the default): one snapshot on main publishes them.
    let publishes = history
        .iter()
        .filter(|e| e["task_id"] == PUBLISH_TASK && e["on_main"] == true)
        .count();
    assert_eq!(publishes, 1, "{history:#?}");
    assert!(history.iter().all(|e| e["run_id"] == run_id.as_str()));

    // A later run of one day, over different Bronze data for that day.
    let before_files = files_by_partition(&lake, "gold.daily_revenue").await;
    let before_snapshot = current_snapshot(&lake, "gold.daily_revenue").await;
    let old_revenue = revenue_of_day(&lake, None);
    lake.generate(&floe_sample::SampleConfig {
        seed: 7,
        ..small_sample(6_200)
    });
    let rerun = cluster.submit(&contract_path(), &["--date", DAY]);
    let run = cluster.wait_for_run(&rerun, TIMEOUT);
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(
        run["tasks"].as_array().unwrap().len(),
        3,
        "one Silver and two Gold tasks"
    );
    let after_files = files_by_partition(&lake, "gold.daily_revenue").await;
    let rebuilt: Vec<&String> = before_files
        .keys()
        .filter(|p| before_files.get(*p) != after_files.get(*p))
        .collect();
    assert_eq!(
        rebuilt,
        [&format!("day={DAY}")],
        "only that day's Gold partition changed"
    );
    assert_eq!(before_files.len(), after_files.len());
    assert_gold_equals_duckdb(&lake);

    // Time travel: as of the snapshot before the re-run, the old answer.
    let new_revenue = revenue_of_day(&lake, None);
    assert_ne!(
        old_revenue, new_revenue,
        "the new data changed the day's revenue"
    );
    let as_of = before_snapshot.to_string();
    assert_eq!(revenue_of_day(&lake, Some(&as_of)), old_revenue);
    // ... and as of the time that snapshot was committed.
    let history = lake.cli_json(&["history", "--table", "gold.daily_revenue", "--json"]);
    let committed_ms = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["snapshot_id"] == before_snapshot)
        .map(|e| e["timestamp_ms"].as_i64().unwrap())
        .unwrap();
    let at = chrono::DateTime::from_timestamp_millis(committed_ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(revenue_of_day(&lake, Some(&at)), old_revenue);
    let now = chrono::Utc::now().to_rfc3339();
    assert_eq!(revenue_of_day(&lake, Some(&now)), new_revenue);
}

/// The example contract with `edit` applied to its text, written next to the lakehouse.
fn edited_contract(
    lake: &Lakehouse,
    name: &str,
    edit: impl Fn(String) -> String,
) -> std::path::PathBuf {
    let text = edit(std::fs::read_to_string(contract_path()).unwrap());
    let path = lake.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_test_fails_its_task_and_leaves_gold_unchanged() {
    let lake = Lakehouse::new().await;
    lake.generate(&small_sample(6_200));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();

    // A model that does not plan is refused at submit, with its position.
    let bad_sql = edited_contract(&lake, "bad_sql.toml", |t| {
        t.replace("SUM(amount) AS revenue", "SUM(amout) AS revenue")
    });
    let out = cluster.cli(&[
        "submit",
        "--pipeline",
        bad_sql.to_str().unwrap(),
        "--date",
        DAY,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("daily_revenue") && stderr.contains("amout"),
        "{stderr}"
    );
    assert!(stderr.contains("line 6, column 12 of its SQL"), "{stderr}");

    let run_id = cluster.submit(&contract_path(), &["--date", DAY]);
    assert_eq!(cluster.wait_for_run(&run_id, TIMEOUT)["state"], "succeeded");
    let gold_before = current_snapshot(&lake, "gold.daily_revenue").await;
    let totals_before = current_snapshot(&lake, "gold.daily_currency_totals").await;
    let rows_before = floe_sql(&lake, "SELECT * FROM gold.daily_revenue", None);

    // JPY rows exist that day: the narrowed accepted_values test fails on them.
    let strict = edited_contract(&lake, "strict.toml", |t| {
        t.replace(
            "values = [\"EUR\", \"USD\", \"GBP\", \"CHF\", \"JPY\"]\n\n[[models.tests]]",
            "values = [\"EUR\", \"USD\", \"GBP\", \"CHF\"]\n\n[[models.tests]]",
        )
    });
    let run_id = cluster.submit(&strict, &["--date", DAY]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_eq!(run["state"], "failed", "{run:#}");
    let revenue = tasks_of(&run, "transactions-gold-daily_revenue-")[0];
    assert_eq!(revenue["state"], "failed", "{revenue:#}");
    assert_eq!(revenue["attempts"], 1, "a failing test is not retried");
    let error = revenue["last_error"].as_str().unwrap();
    assert!(
        error.contains("accepted_values(currency) failed on"),
        "{error}"
    );
    assert!(
        error.contains("JPY") && error.contains("keeps its previous state"),
        "{error}"
    );
    let totals = tasks_of(&run, "transactions-gold-daily_currency_totals-")[0];
    assert_eq!(totals["state"], "failed");
    assert!(
        totals["last_error"]
            .as_str()
            .unwrap()
            .contains("not run because task transactions-gold-daily_revenue-"),
        "{totals:#}"
    );
    let silver = &tasks_of(&run, "transactions-2025")[0];
    assert_eq!(
        silver["state"], "succeeded",
        "Silver commits whatever Gold does"
    );

    assert_eq!(
        current_snapshot(&lake, "gold.daily_revenue").await,
        gold_before
    );
    assert_eq!(
        current_snapshot(&lake, "gold.daily_currency_totals").await,
        totals_before
    );
    let rows_after = floe_sql(&lake, "SELECT * FROM gold.daily_revenue", None);
    assert_eq!(
        normalized(&rows_after, &["revenue"]),
        normalized(&rows_before, &["revenue"])
    );
}
