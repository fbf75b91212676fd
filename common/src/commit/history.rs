//! Reading Floe's marks back from a table's snapshot history.

use std::collections::HashMap;

use iceberg::spec::{TableMetadata, MAIN_BRANCH};

use crate::ids::{RunId, TaskId};

pub const RUN_ID: &str = "floe.run-id";
pub const TASK_ID: &str = "floe.task-id";
pub const ATTEMPT: &str = "floe.attempt";
pub const CONTRACT_VERSION: &str = "floe.contract-version";

/// The snapshot on `main`'s ancestry that committed this run's task, if any.
/// Only ancestors count: a snapshot that was rolled back off `main` does not.
pub fn committed_snapshot(meta: &TableMetadata, run: &RunId, task: &TaskId) -> Option<i64> {
    let mut current = meta.snapshot_for_ref(MAIN_BRANCH);
    while let Some(snapshot) = current {
        let props = &snapshot.summary().additional_properties;
        if props.get(RUN_ID).map(String::as_str) == Some(run.as_str())
            && props.get(TASK_ID).map(String::as_str) == Some(task.as_str())
        {
            return Some(snapshot.snapshot_id());
        }
        current = snapshot
            .parent_snapshot_id()
            .and_then(|id| meta.snapshot_by_id(id));
    }
    None
}

/// Snapshot id → the run that wrote it, for snapshots Floe wrote.
pub fn runs_by_snapshot(meta: &TableMetadata) -> HashMap<i64, String> {
    meta.snapshots()
        .filter_map(|s| {
            s.summary()
                .additional_properties
                .get(RUN_ID)
                .map(|r| (s.snapshot_id(), r.clone()))
        })
        .collect()
}

/// One snapshot of a table as `history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    pub snapshot_id: i64,
    pub parent_id: Option<i64>,
    pub timestamp_ms: i64,
    pub operation: String,
    /// Set on snapshots Floe wrote.
    pub run_id: Option<String>,
    pub task_id: Option<String>,
    pub rows_added: u64,
    pub rows_removed: u64,
    pub files_added: u64,
    pub files_removed: u64,
    /// The snapshot `main` points at.
    pub current: bool,
    /// On `main`'s ancestry (false for a snapshot rolled back off it).
    pub on_main: bool,
}

/// Every snapshot of the table, newest first.
pub fn table_history(meta: &TableMetadata) -> Vec<HistoryEntry> {
    let current = meta.snapshot_for_ref(MAIN_BRANCH).map(|s| s.snapshot_id());
    let mut ancestry = std::collections::HashSet::new();
    let mut at = meta.snapshot_for_ref(MAIN_BRANCH);
    while let Some(s) = at {
        ancestry.insert(s.snapshot_id());
        at = s
            .parent_snapshot_id()
            .and_then(|id| meta.snapshot_by_id(id));
    }
    let mut entries: Vec<HistoryEntry> = meta
        .snapshots()
        .map(|s| {
            let summary = s.summary();
            let props = &summary.additional_properties;
            let count = |key: &str| props.get(key).and_then(|v| v.parse().ok()).unwrap_or(0);
            HistoryEntry {
                snapshot_id: s.snapshot_id(),
                parent_id: s.parent_snapshot_id(),
                timestamp_ms: s.timestamp_ms(),
                operation: summary.operation.as_str().to_string(),
                run_id: props.get(RUN_ID).cloned(),
                task_id: props.get(TASK_ID).cloned(),
                rows_added: count("added-records"),
                rows_removed: count("deleted-records"),
                files_added: count("added-data-files"),
                files_removed: count("deleted-data-files"),
                current: Some(s.snapshot_id()) == current,
                on_main: ancestry.contains(&s.snapshot_id()),
            }
        })
        .collect();
    // Newest first; the sequence number breaks ties between equal timestamps.
    entries.sort_by_key(|e| {
        let seq = meta
            .snapshot_by_id(e.snapshot_id)
            .map_or(0, |s| s.sequence_number());
        std::cmp::Reverse((e.timestamp_ms, seq))
    });
    entries
}
