//! The watcher over a real ledger, embedded queue and Bronze folder, with the
//! clock given: each file is appended once, by path and version, whatever
//! the listings, restarts and loads around it.

use std::path::Path;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use floe_common::task::TaskStats;

use super::*;
use crate::ledger::{RunKind, RunRecord, RunTrigger};
use crate::period::Period;
use crate::service::tests::{complete_lease, config, example_contract, ledger_and_queue};
use crate::service::SubmitRequest;

const DAY: &str = "2025-01-10";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn land(bronze: &Path, name: &str, body: &str) {
    let folder = bronze.join(format!("transactions/date={DAY}"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(name), body).unwrap();
}

fn continuous_contract() -> String {
    example_contract().replacen(
        "location = \"transactions/date={date}/*.csv\"",
        "location = \"transactions/date={date}/*.csv\"\npoll = \"1s\"\npoll_days = 1\nwindow = \"5s\"",
        1,
    )
}

async fn appended_runs(coordinator: &Coordinator) -> Vec<RunRecord> {
    let mut runs = Vec::new();
    for r in coordinator.list_runs(50).await.unwrap() {
        runs.push(coordinator.get_run(&r.run_id).await.unwrap());
    }
    runs.retain(|r| r.kind == RunKind::Append);
    runs.reverse(); // oldest first
    runs
}

/// Completes the queue's Silver tasks as a worker would, chained ones included.
async fn finish_silver_tasks(coordinator: &Coordinator) {
    loop {
        let leases = coordinator
            .lease(
                "w",
                50,
                StdDuration::from_secs(30),
                StdDuration::from_millis(100),
            )
            .await
            .unwrap();
        let silver: Vec<_> = leases.iter().filter(|l| l.message.gold.is_none()).collect();
        if silver.is_empty() {
            return;
        }
        complete(coordinator, &silver).await;
    }
}

async fn complete(coordinator: &Coordinator, leases: &[&crate::service::Lease]) {
    let stats = TaskStats {
        rows_in: 1,
        valid: 1,
        ..Default::default()
    };
    for lease in leases {
        complete_lease(coordinator, lease, &stats).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_are_appended_once_after_their_window_and_a_load_takes_them_over() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, queue) = ledger_and_queue(dir.path()).await;
    let coordinator = Coordinator::new(ledger, queue, config(dir.path()));
    coordinator
        .apply_pipeline(&continuous_contract(), "transactions.toml")
        .await
        .unwrap();
    let mut watcher = Watcher::default();
    land(dir.path(), "a.csv", "transaction_id\n1\n");
    land(dir.path(), "b.csv", "transaction_id\n2\n");

    // Seen at 12:00:00, appended once they have waited the 5s window.
    assert!(watcher
        .watch(&coordinator, at("2025-01-10T12:00:00Z"))
        .await
        .unwrap()
        .iter()
        .all(|a| a.append.is_none()));
    assert_eq!(
        coordinator
            .ledger()
            .pending_files("transactions")
            .await
            .unwrap()
            .len(),
        2
    );
    watcher
        .watch(&coordinator, at("2025-01-10T12:00:06Z"))
        .await
        .unwrap();
    let runs = appended_runs(&coordinator).await;
    assert_eq!(runs.len(), 1);
    let first = &runs[0];
    assert_eq!(
        (first.trigger, first.pipeline_version),
        (RunTrigger::NewFiles, Some(1))
    );
    // A file per task here (the test's tasks take one byte): chained.
    let silver: Vec<_> = first.tasks.iter().filter(|t| t.gold.is_none()).collect();
    assert_eq!(silver.len(), 2);
    let link = silver[0].dedupe.clone().unwrap();
    assert_eq!(
        (link.after, link.hand_off),
        (None, true),
        "nothing loaded before"
    );
    let link = silver[1].dedupe.clone().unwrap();
    assert_eq!(
        (link.after.as_ref(), link.after_run),
        (Some(&silver[0].task_id), None)
    );
    assert!(
        first.tasks.iter().any(|t| t.gold.is_some()),
        "its Gold partitions are rebuilt"
    );

    // Listed again, and by a restarted coordinator's watcher: nothing more.
    watcher
        .watch(&coordinator, at("2025-01-10T12:00:08Z"))
        .await
        .unwrap();
    Watcher::default()
        .watch(&coordinator, at("2025-01-10T12:00:20Z"))
        .await
        .unwrap();
    assert_eq!(appended_runs(&coordinator).await.len(), 1);

    // A file landing while the day's append runs waits for it to finish...
    land(dir.path(), "c.csv", "transaction_id\n3\n");
    watcher
        .watch(&coordinator, at("2025-01-10T12:00:30Z"))
        .await
        .unwrap();
    watcher
        .watch(&coordinator, at("2025-01-10T12:00:40Z"))
        .await
        .unwrap();
    assert_eq!(appended_runs(&coordinator).await.len(), 1);
    // ...then starts from the keys its last task left.
    finish_silver_tasks(&coordinator).await;
    watcher
        .watch(&coordinator, at("2025-01-10T12:00:41Z"))
        .await
        .unwrap();
    let runs = appended_runs(&coordinator).await;
    assert_eq!(runs.len(), 2);
    let second = runs[1].tasks.iter().find(|t| t.gold.is_none()).unwrap();
    assert_eq!(second.inputs.len(), 1);
    assert!(second.inputs[0].ends_with("c.csv"));
    let link = second.dedupe.clone().unwrap();
    assert_eq!(link.after.as_ref(), Some(&silver[1].task_id));
    assert_eq!(link.after_run.as_ref(), Some(&first.run_id));

    // A loaded file rewritten is reported, not appended again.
    land(dir.path(), "a.csv", "transaction_id\n1\n4\n");
    watcher
        .watch(&coordinator, at("2025-01-10T12:01:00Z"))
        .await
        .unwrap();
    watcher
        .watch(&coordinator, at("2025-01-10T12:01:10Z"))
        .await
        .unwrap();
    assert_eq!(appended_runs(&coordinator).await.len(), 2);
    let changed = coordinator
        .ledger()
        .changed_files("transactions")
        .await
        .unwrap();
    assert_eq!(changed.len(), 1);
    assert!(changed[0].path.ends_with("a.csv"));
    assert_eq!(changed[0].run_id, first.run_id);

    // A load of the day lists every file: they are its now, nothing pending or changed.
    coordinator
        .submit(SubmitRequest {
            contract: crate::service::ResolvedContract::unregistered(
                continuous_contract(),
                "t.toml".into(),
            ),
            period: Period::parse(DAY).unwrap(),
            explain: false,
            target_task_bytes: None,
            trigger: RunTrigger::Manual,
            publish: Default::default(),
        })
        .await
        .unwrap();
    assert!(coordinator
        .ledger()
        .changed_files("transactions")
        .await
        .unwrap()
        .is_empty());
    watcher
        .watch(&coordinator, at("2025-01-10T12:02:00Z"))
        .await
        .unwrap();
    watcher
        .watch(&coordinator, at("2025-01-10T12:02:10Z"))
        .await
        .unwrap();
    assert_eq!(appended_runs(&coordinator).await.len(), 2);
    assert!(coordinator
        .ledger()
        .pending_files("transactions")
        .await
        .unwrap()
        .is_empty());
}
