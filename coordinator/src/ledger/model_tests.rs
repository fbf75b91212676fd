//! The ledger's records: states and totals.
use super::*;
use crate::ledger::fixtures::{run_with, task};

#[test]
fn states_round_trip_and_reject_unknown_words() {
    for s in RunState::ALL {
        assert_eq!(RunState::parse(s.as_str()).unwrap(), s);
    }
    for s in TaskState::ALL {
        assert_eq!(TaskState::parse(s.as_str()).unwrap(), s);
    }
    let e = TaskState::parse("done").unwrap_err().to_string();
    assert!(e.contains("`done`") && e.contains("queued"), "{e}");
    assert!(RunState::parse("RUNNING").is_err());
}

#[test]
fn terminal_task_states() {
    let terminal: Vec<_> = TaskState::ALL
        .into_iter()
        .filter(|s| s.is_terminal())
        .collect();
    assert_eq!(
        terminal,
        [
            TaskState::Succeeded,
            TaskState::Failed,
            TaskState::Dead,
            TaskState::Cancelled,
            TaskState::Superseded
        ]
    );
}

#[test]
fn describe_names_task_partition_attempts_and_error() {
    let t = task(
        "tx-2025-01-05-000",
        TaskState::Dead,
        3,
        Some("cannot read input"),
    );
    assert_eq!(
        t.describe(),
        "task tx-2025-01-05-000 (2025-01-05) dead after 3 attempts: cannot read input"
    );
    let t = task("tx-all-000", TaskState::Failed, 1, Some("bad"));
    assert_eq!(
        t.describe(),
        "task tx-all-000 (2025-01-05) failed after 1 attempt: bad"
    );
    let mut t = task("tx-all-000", TaskState::Dead, 2, None);
    t.partition = None;
    assert!(t
        .describe()
        .starts_with("task tx-all-000 dead after 2 attempts: no error"));
}

#[test]
fn totals_sum_only_recorded_stats() {
    let mut a = task("a", TaskState::Succeeded, 1, None);
    a.stats = Some(TaskStats {
        rows_in: 10,
        valid: 7,
        quarantined: 2,
        condemned: 1,
        files_read: 1,
        bytes_read: 100,
        data_files_written: 3,
        ..Default::default()
    });
    let mut b = task("b", TaskState::Succeeded, 1, None);
    b.stats = Some(TaskStats {
        rows_in: 5,
        valid: 5,
        files_read: 2,
        bytes_read: 50,
        data_files_written: 1,
        ..Default::default()
    });
    let c = task("c", TaskState::Queued, 0, None);
    let run = run_with(vec![a, b, c]);
    let t = run.totals();
    assert_eq!(
        (t.rows_in, t.valid, t.quarantined, t.condemned),
        (15, 12, 2, 1)
    );
    assert_eq!(
        (t.files_read, t.bytes_read, t.data_files_written),
        (3, 150, 4)
    );
    assert!(t.is_balanced());
    assert_eq!(run.count(TaskState::Succeeded), 2);
    assert_eq!(run.count(TaskState::Queued), 1);
    assert!(!run.is_finished());
    assert!(run.task(&TaskId::new("c")).is_some());
}
