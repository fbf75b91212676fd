//! `floe-coordinator history`: a table's snapshots, newest first, with the run
//! and task of each and the rows it added and removed.

use floe_common::task::{run_task, TaskEnv};
use floe_lake::RunId;
use floe_tests::*;
use serde_json::Value;

const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_each_runs_snapshots_newest_first() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let runs = [RunId::generate(), RunId::generate()];
    for run in &runs {
        for day in DAYS {
            run_task(&env, &day_task(&lake, &contract, &truth, day, run))
                .await
                .unwrap();
        }
    }
    let history = lake.cli_json(&["history", "--table", "silver.transactions", "--json"]);
    let history: Vec<Value> = serde_json::from_value(history).unwrap();
    assert_eq!(history.len(), 6, "{history:#?}");
    assert_eq!(history[0]["current"], true);
    assert!(history[1..].iter().all(|e| e["current"] == false));
    assert!(history.iter().all(|e| e["on_main"] == true));
    // Newest first: the second run's three overwrites, then the first run's appends.
    for (i, entry) in history.iter().enumerate() {
        let (run, operation) = if i < 3 {
            (&runs[1], "overwrite")
        } else {
            (&runs[0], "append")
        };
        assert_eq!(entry["run_id"], run.as_str(), "{entry:#}");
        assert_eq!(entry["operation"], operation, "{entry:#}");
        let task = entry["task_id"].as_str().unwrap();
        let day = DAYS.iter().find(|d| task.ends_with(*d)).unwrap();
        let valid = truth.days[*day].counts.valid;
        assert_eq!(entry["rows_added"], valid, "{entry:#}");
        let removed = if i < 3 { valid } else { 0 };
        assert_eq!(entry["rows_removed"], removed, "{entry:#}");
        if i + 1 < history.len() {
            assert_eq!(entry["parent_id"], history[i + 1]["snapshot_id"]);
        }
    }
}
