//! The ledger against a real SQLite file in a temporary folder.

use floe_common::task::TaskStats;
use floe_lake::{RunId, TaskId};

use super::*;
use crate::plan::PlannedTask;

pub(super) fn planned(n: usize) -> Vec<PlannedTask> {
    (0..n)
        .map(|i| {
            let day = format!("2025-01-{:02}", i % 28 + 1);
            PlannedTask {
                task_id: TaskId::new(format!("transactions-{day}-{:03}", i / 28)),
                partition: Some(day.clone()),
                inputs: vec![format!("/bronze/date={day}/part-{i}.csv")],
                fingerprints: [(
                    format!("/bronze/date={day}/part-{i}.csv"),
                    floe_lake::storage::Fingerprint {
                        bytes: 100 + i as u64,
                        modified_ms: Some(1_700_000_000_000 + i as i64),
                        etag: None,
                    },
                )]
                .into(),
                ranges: Default::default(),
                bytes: 100 + i as u64,
                notes: Vec::new(),
                gold: None,
                dedupe: None,
                pass: None,
            }
        })
        .collect()
}

pub(super) fn new_run(id: &str) -> NewRun {
    NewRun {
        run_id: RunId::new(id),
        pipeline: "transactions".into(),
        period: "2025-01".into(),
        contract_text: "[pipeline]\nname = \"transactions\"\n".into(),
        contract_origin: "examples/transactions.toml".into(),
        trace_context: Default::default(),
        skipped: vec![],
        kind: RunKind::Load,
        trigger: crate::ledger::RunTrigger::Manual,
        pipeline_version: None,
        staged: false,
        publish: Default::default(),
    }
}

pub(super) fn stats(i: u64) -> TaskStats {
    TaskStats {
        rows_in: 10 + i,
        valid: 8 + i,
        quarantined: 1,
        condemned: 1,
        files_read: 1,
        bytes_read: 1000 + i,
        data_files_written: 3,
        ..Default::default()
    }
}

pub(super) fn snaps(i: i64) -> Vec<SnapshotRecord> {
    vec![SnapshotRecord {
        table: "silver.transactions".into(),
        snapshot_id: i,
        already_committed: false,
    }]
}

pub(super) async fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("state/ledger.db"))
        .await
        .unwrap();
    (dir, ledger)
}

pub(super) async fn run(l: &Ledger, id: &RunId) -> RunRecord {
    l.get_run(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn create_and_get_round_trip() {
    let (_dir, l) = ledger().await;
    let tasks = planned(3);
    l.create_run(&new_run("r1"), &tasks).await.unwrap();
    let r = run(&l, &RunId::new("r1")).await;
    assert_eq!(r.pipeline, "transactions");
    assert_eq!(r.period, "2025-01");
    assert_eq!(r.state, RunState::Running);
    assert_eq!(r.contract_text, new_run("r1").contract_text);
    assert_eq!(r.contract_origin, "examples/transactions.toml");
    assert!(r.created_at_ms > 1_700_000_000_000 && r.finished_at_ms.is_none() && r.error.is_none());
    assert_eq!(r.tasks.len(), 3);
    for (t, p) in r.tasks.iter().zip(&tasks) {
        assert_eq!(t.task_id, p.task_id);
        assert_eq!(t.partition, p.partition);
        assert_eq!(t.inputs, vec![p.inputs[0].clone()]);
        assert_eq!(t.fingerprints, p.fingerprints);
        assert_eq!(t.bytes, p.bytes);
        assert_eq!((t.state, t.attempts), (TaskState::Queued, 0));
        assert!(t.stats.is_none() && t.snapshots.is_empty() && t.last_error.is_none());
    }
    assert!(l.get_run(&RunId::new("nope")).await.unwrap().is_none());
    let e = l.create_run(&new_run("r1"), &tasks).await.unwrap_err();
    assert!(matches!(e, CoordinatorError::RunExists(_)), "{e}");
    let e = l
        .create_run(&new_run("r2"), &[tasks[0].clone(), tasks[0].clone()])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    assert!(
        l.get_run(&RunId::new("r2")).await.unwrap().is_none(),
        "nothing half-written"
    );
}

#[tokio::test]
async fn list_is_newest_first_and_limited() {
    let (_dir, l) = ledger().await;
    for id in ["a", "b", "c"] {
        l.create_run(&new_run(id), &planned(2)).await.unwrap();
    }
    let ids: Vec<_> = l
        .list_runs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id.to_string())
        .collect();
    assert_eq!(ids, ["c", "b", "a"]);
    let two = l.list_runs(2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].tasks.len(), 2);
}

#[tokio::test]
async fn lifecycle_to_succeeded() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r");
    let tasks = planned(3);
    l.create_run(&new_run("r"), &tasks).await.unwrap();
    for (i, t) in tasks.iter().enumerate() {
        l.task_started(&id, &t.task_id, 1).await.unwrap();
        assert_eq!(
            run(&l, &id).await.task(&t.task_id).unwrap().state,
            TaskState::Running
        );
        l.task_succeeded(&id, &t.task_id, 1, &stats(i as u64), &snaps(i as i64))
            .await
            .unwrap();
        let r = run(&l, &id).await;
        assert_eq!(r.is_finished(), i == 2);
    }
    // Idempotent: a repeated success changes nothing.
    l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(99), &snaps(99))
        .await
        .unwrap();
    let r = run(&l, &id).await;
    assert_eq!(r.state, RunState::Succeeded);
    assert!(r.finished_at_ms.is_some() && r.error.is_none());
    assert_eq!(r.count(TaskState::Succeeded), 3);
    assert_eq!(r.tasks[0].stats, Some(stats(0)));
    assert_eq!(r.tasks[0].snapshots, snaps(0));
    let t = r.totals();
    assert_eq!((t.rows_in, t.valid, t.bytes_read), (33, 27, 3003));
    assert!(t.is_balanced());
    // A late start or failure of a finished task changes nothing.
    l.task_started(&id, &tasks[1].task_id, 2).await.unwrap();
    l.task_failed(&id, &tasks[1].task_id, 2, "late", false)
        .await
        .unwrap();
    l.task_dead(&id, &tasks[1].task_id, 5).await.unwrap();
    assert_eq!(run(&l, &id).await, r);
    assert!(l.unfinished_runs().await.unwrap().is_empty());
}

#[tokio::test]
async fn retryable_failure_requeues_then_succeeds() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r");
    let t = planned(1).remove(0);
    l.create_run(&new_run("r"), std::slice::from_ref(&t))
        .await
        .unwrap();
    l.task_started(&id, &t.task_id, 1).await.unwrap();
    l.task_failed(&id, &t.task_id, 1, "catalog busy", true)
        .await
        .unwrap();
    let r = run(&l, &id).await;
    assert_eq!(
        (r.tasks[0].state, r.tasks[0].attempts),
        (TaskState::Queued, 1)
    );
    assert_eq!(r.tasks[0].last_error.as_deref(), Some("catalog busy"));
    assert_eq!(r.state, RunState::Running);
    l.task_started(&id, &t.task_id, 2).await.unwrap();
    // The first attempt's failure arriving late does not requeue the running second one.
    l.task_failed(&id, &t.task_id, 1, "stale", true)
        .await
        .unwrap();
    assert_eq!(run(&l, &id).await.tasks[0].state, TaskState::Running);
    l.task_succeeded(&id, &t.task_id, 2, &stats(0), &snaps(7))
        .await
        .unwrap();
    let r = run(&l, &id).await;
    assert_eq!(r.state, RunState::Succeeded);
    assert_eq!(
        (r.tasks[0].state, r.tasks[0].attempts),
        (TaskState::Succeeded, 2)
    );
}

#[tokio::test]
async fn fatal_failure_fails_the_run_naming_the_task() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r");
    let tasks = planned(2);
    l.create_run(&new_run("r"), &tasks).await.unwrap();
    l.task_started(&id, &tasks[0].task_id, 1).await.unwrap();
    l.task_failed(&id, &tasks[0].task_id, 1, "contract x: bad column", false)
        .await
        .unwrap();
    assert_eq!(
        run(&l, &id).await.state,
        RunState::Running,
        "another task still runs"
    );
    l.task_succeeded(&id, &tasks[1].task_id, 1, &stats(1), &snaps(1))
        .await
        .unwrap();
    let r = run(&l, &id).await;
    assert_eq!(r.state, RunState::Failed);
    assert!(r.finished_at_ms.is_some());
    assert_eq!(
        r.error.as_deref(),
        Some("1 of 2 tasks did not succeed: task transactions-2025-01-01-000 (2025-01-01) failed after 1 attempt: contract x: bad column")
    );
    assert_eq!(r.totals(), stats(1));
}

#[tokio::test]
async fn dead_letter_fails_the_run_and_a_late_success_recovers_it() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r");
    let t = planned(1).remove(0);
    l.create_run(&new_run("r"), std::slice::from_ref(&t))
        .await
        .unwrap();
    for attempt in 1..=3 {
        l.task_started(&id, &t.task_id, attempt).await.unwrap();
        let e = "cannot read input file /x/y.csv: No such file or directory";
        l.task_failed(&id, &t.task_id, attempt, e, true)
            .await
            .unwrap();
    }
    l.task_dead(&id, &t.task_id, 3).await.unwrap();
    let r = run(&l, &id).await;
    assert_eq!(
        (r.tasks[0].state, r.tasks[0].attempts),
        (TaskState::Dead, 3)
    );
    assert_eq!(r.state, RunState::Failed);
    let error = r.error.unwrap();
    assert!(error.contains("task transactions-2025-01-01-000 (2025-01-01) dead after 3 attempts: cannot read input file /x/y.csv"), "{error}");
    // A success that arrives after the dead-letter still counts: its snapshot exists.
    l.task_succeeded(&id, &t.task_id, 3, &stats(0), &snaps(1))
        .await
        .unwrap();
    let r = run(&l, &id).await;
    assert_eq!((r.state, r.error.as_deref()), (RunState::Succeeded, None));
    assert_eq!(r.tasks[0].state, TaskState::Succeeded);
}

#[tokio::test]
async fn cancel_stops_unfinished_tasks_and_ignores_late_successes() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r");
    let tasks = planned(3);
    l.create_run(&new_run("r"), &tasks).await.unwrap();
    l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(0), &snaps(0))
        .await
        .unwrap();
    l.task_started(&id, &tasks[1].task_id, 1).await.unwrap();
    let r = l.cancel_run(&id).await.unwrap().unwrap();
    assert_eq!(r.state, RunState::Cancelled);
    assert!(r.finished_at_ms.is_some());
    assert!(r
        .error
        .as_deref()
        .unwrap()
        .contains("2 of 3 tasks unfinished"));
    assert_eq!(r.count(TaskState::Succeeded), 1);
    assert_eq!(r.count(TaskState::Cancelled), 2);
    l.task_succeeded(&id, &tasks[1].task_id, 1, &stats(1), &snaps(1))
        .await
        .unwrap();
    l.task_failed(&id, &tasks[2].task_id, 1, "x", false)
        .await
        .unwrap();
    assert_eq!(run(&l, &id).await, r, "a cancelled run stays as it was");
    assert_eq!(
        l.cancel_run(&id).await.unwrap().unwrap(),
        r,
        "cancelling twice is harmless"
    );
    assert!(l.cancel_run(&RunId::new("nope")).await.unwrap().is_none());
    assert!(l.unfinished_runs().await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_ids_are_clear_errors() {
    let (_dir, l) = ledger().await;
    l.create_run(&new_run("r"), &planned(1)).await.unwrap();
    let e = l
        .task_started(&RunId::new("nope"), &TaskId::new("t"), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, CoordinatorError::UnknownRun(_)));
    assert!(
        e.to_string().contains("run nope is not in the ledger"),
        "{e}"
    );
    let e = l
        .task_dead(&RunId::new("r"), &TaskId::new("t9"), 1)
        .await
        .unwrap_err();
    assert!(matches!(e, CoordinatorError::UnknownTask { .. }));
    assert!(
        e.to_string().contains("task t9 is not part of run r"),
        "{e}"
    );
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let tasks = planned(4);
    let (a, b) = (RunId::new("a"), RunId::new("b"));
    let before = {
        let l = Ledger::open(&path).await.unwrap();
        l.create_run(&new_run("a"), &tasks).await.unwrap();
        l.create_run(&new_run("b"), &tasks).await.unwrap();
        l.task_started(&a, &tasks[0].task_id, 1).await.unwrap();
        l.task_succeeded(&a, &tasks[0].task_id, 1, &stats(0), &snaps(0))
            .await
            .unwrap();
        l.task_failed(&a, &tasks[1].task_id, 1, "boom", true)
            .await
            .unwrap();
        l.cancel_run(&b).await.unwrap();
        l.list_runs(10).await.unwrap()
    }; // dropped without close, like a killed process
    let l = Ledger::open(&path).await.unwrap();
    assert_eq!(l.list_runs(10).await.unwrap(), before);
    assert_eq!(l.unfinished_runs().await.unwrap(), vec![a.clone()]);
    for (i, t) in tasks.iter().enumerate().skip(1) {
        l.task_succeeded(&a, &t.task_id, 2, &stats(i as u64), &snaps(i as i64))
            .await
            .unwrap();
    }
    assert_eq!(run(&l, &a).await.state, RunState::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions_leave_a_consistent_run() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r");
    let tasks = planned(50);
    l.create_run(&new_run("r"), &tasks).await.unwrap();
    let mut handles = Vec::new();
    for worker in 0..8 {
        let (l, id) = (l.clone(), id.clone());
        let mine: Vec<_> = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 8 == worker)
            .map(|(i, t)| (i, t.task_id.clone()))
            .collect();
        handles.push(tokio::spawn(async move {
            for (i, task) in mine {
                l.task_started(&id, &task, 1).await.unwrap();
                if i % 5 == 0 {
                    l.task_failed(&id, &task, 1, "transient", true)
                        .await
                        .unwrap();
                    l.task_started(&id, &task, 2).await.unwrap();
                }
                l.task_succeeded(&id, &task, 2, &stats(i as u64), &snaps(i as i64))
                    .await
                    .unwrap();
                l.get_run(&id).await.unwrap().unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let r = run(&l, &id).await;
    assert_eq!(r.state, RunState::Succeeded);
    assert_eq!(r.count(TaskState::Succeeded), 50);
    let expected_rows: u64 = (0..50).map(|i| stats(i).rows_in).sum();
    let t = r.totals();
    assert_eq!(t.rows_in, expected_rows);
    assert_eq!(
        t.bytes_read,
        (0..50).map(|i| stats(i).bytes_read).sum::<u64>()
    );
    assert!(t.is_balanced());
    assert_eq!(r.tasks.iter().filter(|t| t.attempts == 2).count(), 50);
}

/// The narrow reads made on every lease and heartbeat say what the whole
/// record says, through every transition.
#[tokio::test]
async fn standing_agrees_with_the_run_record() {
    let (_dir, l) = ledger().await;
    let id = RunId::new("r1");
    let tasks = planned(3);
    l.create_run(&new_run("r1"), &tasks).await.unwrap();
    let agrees = |r: RunRecord, standing: Vec<Option<(RunState, Option<TaskState>)>>| {
        for (t, s) in r.tasks.iter().zip(standing) {
            assert_eq!(s, Some((r.state, Some(t.state))), "{}", t.task_id);
        }
    };
    let standing = |l: &Ledger| {
        let l = l.clone();
        let ids: Vec<TaskId> = tasks.iter().map(|t| t.task_id.clone()).collect();
        async move {
            let mut out = Vec::new();
            for t in &ids {
                out.push(l.task_standing(&RunId::new("r1"), t).await.unwrap());
            }
            out
        }
    };
    agrees(run(&l, &id).await, standing(&l).await);
    l.task_started(&id, &tasks[0].task_id, 1).await.unwrap();
    l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(0), &snaps(1))
        .await
        .unwrap();
    l.task_superseded(&id, &tasks[1].task_id, 1, Some(&RunId::new("r2")), "newer")
        .await
        .unwrap();
    agrees(run(&l, &id).await, standing(&l).await);
    assert_eq!(l.run_state(&id).await.unwrap(), Some(RunState::Running));
    l.cancel_run(&id).await.unwrap();
    agrees(run(&l, &id).await, standing(&l).await);
    assert_eq!(l.run_state(&id).await.unwrap(), Some(RunState::Cancelled));
    let unknown_task = l.task_standing(&id, &TaskId::new("nope")).await.unwrap();
    assert_eq!(unknown_task, Some((RunState::Cancelled, None)));
    let nope = RunId::new("nope");
    assert_eq!(
        l.task_standing(&nope, &tasks[0].task_id).await.unwrap(),
        None
    );
    assert_eq!(l.run_state(&nope).await.unwrap(), None);
}
