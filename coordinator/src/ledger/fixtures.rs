//! Records for unit tests of what reads the ledger (audits, summaries).

use floe_common::task::TaskStats;
use floe_lake::{RunId, TaskId};

use super::model::{RunKind, RunRecord, RunState, RunTrigger, TaskRecord, TaskState};

/// A load task of partition 2025-01-05.
pub fn task(id: &str, state: TaskState, attempts: u32, err: Option<&str>) -> TaskRecord {
    TaskRecord {
        task_id: TaskId::new(id),
        partition: Some("2025-01-05".into()),
        inputs: vec![],
        fingerprints: Default::default(),
        ranges: Default::default(),
        bytes: 0,
        state,
        attempts,
        stats: None,
        snapshots: vec![],
        gold: None,
        last_error: err.map(String::from),
        updated_at_ms: 0,
        superseded_by: None,
        dedupe: None,
        pass: None,
    }
}

/// A load task of `day`; succeeded with `(rows in, valid)` when given.
pub fn load_task(day: &str, counts: Option<(u64, u64)>) -> TaskRecord {
    let state = match counts {
        Some(_) => TaskState::Succeeded,
        None => TaskState::Queued,
    };
    TaskRecord {
        partition: Some(day.into()),
        stats: counts.map(|(rows_in, valid)| TaskStats {
            rows_in,
            valid,
            quarantined: rows_in - valid,
            ..Default::default()
        }),
        ..task(&format!("tx-{day}"), state, 1, None)
    }
}

/// A running load run of 2025-01 with `tasks`.
pub fn run_with(tasks: Vec<TaskRecord>) -> RunRecord {
    RunRecord {
        run_id: RunId::new("r"),
        pipeline: "p".into(),
        period: "2025-01".into(),
        state: RunState::Running,
        created_at_ms: 0,
        finished_at_ms: None,
        error: None,
        contract_text: String::new(),
        contract_origin: String::new(),
        trace_context: Default::default(),
        tasks,
        rolled_back: vec![],
        skipped: vec![],
        kind: RunKind::Load,
        trigger: RunTrigger::Manual,
        pipeline_version: None,
        staged: false,
        publish: Default::default(),
        published_at_ms: None,
        audits: vec![],
        approved_by: None,
        approval_reason: None,
    }
}
