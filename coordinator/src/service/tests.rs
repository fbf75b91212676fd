//! The coordinator service against a real ledger and queue in a temporary folder.

use super::*;
use crate::embedded_queue::SqliteQueue;
use crate::plan::PlannedTask;

/// Task `i` of a test run: one file of day `i + 1`.
fn planned(i: usize) -> PlannedTask {
    PlannedTask {
        task_id: TaskId::new(format!("t-{i}")),
        partition: Some(format!("2025-01-0{}", i + 1)),
        inputs: vec![format!("/b/{i}.csv")],
        fingerprints: Default::default(),
        ranges: Default::default(),
        notes: Vec::new(),
        bytes: 10,
        gold: None,
        dedupe: None,
        pass: None,
    }
}

fn new_run(id: &str, contract_text: String) -> NewRun {
    NewRun {
        run_id: RunId::new(id),
        pipeline: "p".into(),
        period: "2025-01".into(),
        contract_text,
        contract_origin: "c.toml".into(),
        trace_context: Default::default(),
        skipped: vec![],
        kind: crate::ledger::RunKind::Load,
        trigger: crate::ledger::RunTrigger::Manual,
        pipeline_version: None,
        staged: false,
        publish: Default::default(),
    }
}

pub(crate) fn example_contract() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/transactions.toml"
    ))
    .unwrap()
}

pub(crate) async fn ledger_and_queue(dir: &std::path::Path) -> (Ledger, Arc<SqliteQueue>) {
    let ledger = Ledger::open(&dir.join("ledger.db")).await.unwrap();
    let queue = SqliteQueue::open(&dir.join("queue.db"), 3).await.unwrap();
    (ledger, Arc::new(queue))
}

/// Reports `lease`'s task as succeeded with `stats` and no snapshots.
pub(crate) async fn complete_lease(coordinator: &Coordinator, lease: &Lease, stats: &TaskStats) {
    let m = &lease.message;
    coordinator
        .complete(
            &lease.receipt,
            &m.run_id,
            &m.task_id,
            lease.attempt,
            stats,
            &[],
        )
        .await
        .unwrap();
}

pub(crate) fn config(dir: &std::path::Path) -> CoordinatorConfig {
    CoordinatorConfig {
        bronze: dir.display().to_string(),
        store: Arc::new(floe_lake::storage::LocalStore),
        target_task_bytes: 1,
        max_wait: Duration::from_secs(1),
        max_period_days: crate::period::DEFAULT_MAX_DAYS,
        codec: Default::default(),
    }
}

#[tokio::test]
async fn a_run_recorded_but_not_enqueued_is_enqueued_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, queue) = ledger_and_queue(dir.path()).await;
    let tasks: Vec<PlannedTask> = (0..3).map(planned).collect();
    // As if the coordinator died right after recording the run.
    let run = new_run("run-interrupted", "c".into());
    ledger.create_run(&run, &tasks).await.unwrap();
    let coordinator = Coordinator::new(ledger, queue.clone(), config(dir.path()));
    assert_eq!(coordinator.resume().await.unwrap(), 1);
    assert_eq!(queue.depth().await.unwrap().visible, 3);
    assert_eq!(coordinator.resume().await.unwrap(), 0, "enqueued once");
    let leases = coordinator
        .lease("w", 10, Duration::from_secs(5), Duration::from_secs(1))
        .await
        .unwrap();
    let mut ids: Vec<String> = leases
        .iter()
        .map(|l| l.message.task_id.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["t-0", "t-1", "t-2"]);
}

/// A run whose messages the queue can never take (over its size limit) fails on
/// its own, whether at submit or found at start-up, and start-up carries on with
/// the other runs.
#[tokio::test]
async fn a_run_the_queue_cannot_take_fails_and_never_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, queue) = ledger_and_queue(dir.path()).await;
    // Two runs recorded, neither enqueued: one carries a contract too big for
    // any queue message.
    let huge = format!("# {}\n", "x".repeat(floe_queue::MAX_BODY_BYTES));
    ledger
        .create_run(&new_run("run-a-huge", huge), &[planned(0)])
        .await
        .unwrap();
    ledger
        .create_run(&new_run("run-b-fine", "c".into()), &[planned(1)])
        .await
        .unwrap();
    let coordinator = Coordinator::new(ledger, queue.clone(), config(dir.path()));

    assert_eq!(
        coordinator.resume().await.unwrap(),
        1,
        "the fine run is enqueued"
    );
    assert_eq!(queue.depth().await.unwrap().visible, 1);
    let failed = coordinator
        .get_run(&RunId::new("run-a-huge"))
        .await
        .unwrap();
    assert_eq!(failed.state, crate::ledger::RunState::Failed);
    let error = failed.error.unwrap();
    assert!(
        error.contains("task t-0 cannot be queued") && error.contains("--target-task-mb"),
        "{error}"
    );
    assert_eq!(failed.tasks[0].state, crate::ledger::TaskState::Failed);
    assert_eq!(
        coordinator.resume().await.unwrap(),
        0,
        "nothing is tried twice"
    );
}

/// A contract that would break its Silver table (here: narrowing a decimal) is
/// refused at submit with the column and the change, and nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_that_would_break_its_silver_table_is_refused_at_submit() {
    use floe_common::table::{table_creation, TableRole};
    let dir = tempfile::tempdir().unwrap();
    let lakehouse = dir.path().join("lake");
    let text = example_contract();
    let v1 = Contract::parse(&text, std::path::Path::new("v1.toml")).unwrap();
    let catalog = floe_lake::catalog::SqlCatalog::open(
        "floe",
        &lakehouse.join("catalog.db"),
        &lakehouse.join("warehouse"),
    )
    .await
    .unwrap();
    let creation = table_creation(TableRole::Silver, &v1).unwrap();
    floe_lake::catalog::TableCatalog::ensure_table(&catalog, &v1.target.table, creation)
        .await
        .unwrap();

    let (ledger, queue) = ledger_and_queue(dir.path()).await;
    let coordinator = Coordinator::new(ledger, queue, config(dir.path())).with_catalog(
        floe_lake::catalog::CatalogConfig::Sql {
            name: "floe".into(),
            lakehouse,
        },
    );
    let narrowed = text
        .replace("version = 1", "version = 2")
        .replace("decimal(12,2)", "decimal(10,2)");
    let err = coordinator
        .submit(SubmitRequest {
            contract: ResolvedContract::unregistered(narrowed, "v2.toml".into()),
            period: crate::period::Period::parse("2025-01").unwrap(),
            explain: false,
            target_task_bytes: None,
            trigger: RunTrigger::Manual,
            publish: Default::default(),
        })
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("column `amount` changes type from decimal(12, 2) to decimal(10, 2)"),
        "{message}"
    );
    assert!(coordinator.ledger().list_runs(10).await.unwrap().is_empty());
}

/// A submitted run's contract is stored once in the warehouse before its tasks
/// are queued, and its task messages name it by reference instead of carrying
/// it: a message stays small however long the contract is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_messages_refer_to_the_contract_stored_in_the_warehouse() {
    use floe_common::contract::{ContractRef, ContractStore, WarehouseContracts};
    let dir = tempfile::tempdir().unwrap();
    let lakehouse = dir.path().join("lake");
    let text = example_contract();
    let day = dir.path().join("transactions/date=2025-01-02");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(day.join("a.csv"), "transaction_id\n1\n").unwrap();
    let (ledger, queue) = ledger_and_queue(dir.path()).await;
    let catalog = floe_lake::catalog::CatalogConfig::Sql {
        name: "floe".into(),
        lakehouse,
    };
    let coordinator =
        Coordinator::new(ledger, queue, config(dir.path())).with_catalog(catalog.clone());
    // A long contract: its comment alone is larger than a queue message may be.
    let long = format!("{text}\n# {}\n", "x".repeat(300 * 1024));
    coordinator
        .submit(SubmitRequest {
            contract: ResolvedContract::unregistered(long.clone(), "transactions.toml".into()),
            period: crate::period::Period::parse("2025-01-02").unwrap(),
            explain: false,
            target_task_bytes: None,
            trigger: RunTrigger::Manual,
            publish: Default::default(),
        })
        .await
        .unwrap();

    let leases = coordinator
        .lease("w", 10, Duration::from_secs(5), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(leases.len(), 1);
    let message = &leases[0].message;
    assert!(message.contract_text.is_empty());
    let reference = message.contract.clone().expect("a contract reference");
    assert_eq!(reference, ContractRef::of(&long));
    assert!(
        message.to_json().len() < 4096,
        "{}",
        message.to_json().len()
    );
    let store = WarehouseContracts::new(catalog.warehouse_files().await.unwrap());
    assert_eq!(store.get(&reference).await.unwrap(), long);
}

/// The reconcile loop is woken when a staged run's last task ends (its
/// publish follows at once), not by a task that leaves others to run.
#[tokio::test]
async fn the_last_task_of_a_staged_run_wakes_its_publisher() {
    use futures::FutureExt;
    let dir = tempfile::tempdir().unwrap();
    let (ledger, queue) = ledger_and_queue(dir.path()).await;
    let mut run = new_run("run-staged", "c".into());
    run.staged = true;
    ledger
        .create_run(&run, &[planned(0), planned(1)])
        .await
        .unwrap();
    let coordinator = Coordinator::new(ledger, queue, config(dir.path()));
    coordinator.resume().await.unwrap();
    let leases = coordinator
        .lease("w", 10, Duration::from_secs(5), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(leases.len(), 2);
    for (i, lease) in leases.iter().enumerate() {
        complete_lease(&coordinator, lease, &TaskStats::default()).await;
        let woken = coordinator.publish_wanted().now_or_never().is_some();
        assert_eq!(woken, i == 1, "after task {i}");
    }
    let run = coordinator
        .get_run(&RunId::new("run-staged"))
        .await
        .unwrap();
    assert_eq!(run.state, crate::ledger::RunState::Publishing);
}
