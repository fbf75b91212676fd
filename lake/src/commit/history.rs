//! Reading Floe's marks back from a table's snapshot history.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{Snapshot, SnapshotRef, TableMetadata, MAIN_BRANCH};

use crate::ids::{RunId, TaskId};

pub const RUN_ID: &str = "floe.run-id";
pub const TASK_ID: &str = "floe.task-id";
/// Who approved a change that needs an approval (a release of condemned rows), and why.
pub const APPROVED_BY: &str = "floe.approved-by";
pub const APPROVAL_REASON: &str = "floe.approval-reason";
pub const ATTEMPT: &str = "floe.attempt";
pub const CONTRACT_VERSION: &str = "floe.contract-version";
/// On a maintenance snapshot: what it did (`compaction`).
pub const MAINTENANCE: &str = "floe.maintenance";
/// On a compaction snapshot: the run whose files it rewrote.
pub const COMPACTED_RUN: &str = "floe.compacted-run";
/// On a quarantine pass's snapshot: what makes the pass's change idempotent
/// across runs (the files it read, its kind, partition and contract), so a pass
/// run again after a crash finds what the interrupted one committed.
pub const IDEMPOTENCY_KEY: &str = "floe.idempotency-key";
/// On a quarantine pass's snapshot: the files it read (a content id).
pub const PASS_READS: &str = "floe.pass-reads";
/// Table property: the runs rolled back on this table, comma separated.
pub const ROLLED_BACK_RUNS: &str = "floe.rolled-back-runs";
/// On a publish snapshot: the staged run whose partitions it put on `main`.
pub const PUBLISHED_RUN: &str = "floe.published-run";

/// The snapshot on `main`'s ancestry that committed this run's task, if any.
/// Only ancestors count: a snapshot that was rolled back off `main` does not.
pub fn committed_snapshot(meta: &TableMetadata, run: &RunId, task: &TaskId) -> Option<i64> {
    committed_on(meta, MAIN_BRANCH, run, task)
}

/// The snapshot on `branch`'s ancestry that committed this run's task, if any.
/// A branch that does not exist yet would start at `main`: its ancestry is `main`'s.
pub fn committed_on(meta: &TableMetadata, branch: &str, run: &RunId, task: &TaskId) -> Option<i64> {
    ancestry_of(meta, branch).into_iter().find_map(|snapshot| {
        let props = &snapshot.summary().additional_properties;
        (props.get(RUN_ID).map(String::as_str) == Some(run.as_str())
            && props.get(TASK_ID).map(String::as_str) == Some(task.as_str()))
        .then(|| snapshot.snapshot_id())
    })
}

/// The snapshot on `main`'s ancestry that recorded `key` as its idempotency key.
pub fn keyed_snapshot(meta: &TableMetadata, key: &str) -> Option<i64> {
    ancestry(meta).into_iter().find_map(|snapshot| {
        let props = &snapshot.summary().additional_properties;
        (props.get(IDEMPOTENCY_KEY).map(String::as_str) == Some(key))
            .then(|| snapshot.snapshot_id())
    })
}

/// The idempotency keys of `main`'s snapshots that read `reads` (a pass's
/// input), with their contract versions.
pub fn passes_that_read<'m>(meta: &'m TableMetadata, reads: &str) -> Vec<(&'m str, &'m str)> {
    ancestry(meta)
        .into_iter()
        .filter_map(|snapshot| {
            let props = &snapshot.summary().additional_properties;
            (props.get(PASS_READS).map(String::as_str) == Some(reads)).then(|| {
                (
                    props.get(IDEMPOTENCY_KEY).map_or("", String::as_str),
                    props.get(CONTRACT_VERSION).map_or("?", String::as_str),
                )
            })
        })
        .collect()
}

/// True when any snapshot the table still knows (on `main` or not) was
/// written by this run's task.
pub fn written_by(meta: &TableMetadata, run: &RunId, task: &TaskId) -> bool {
    meta.snapshots().any(|snapshot| {
        let props = &snapshot.summary().additional_properties;
        props.get(RUN_ID).map(String::as_str) == Some(run.as_str())
            && props.get(TASK_ID).map(String::as_str) == Some(task.as_str())
    })
}

/// The snapshot on `main`'s ancestry that published this staged run, if any.
pub fn published_snapshot(meta: &TableMetadata, run: &RunId) -> Option<i64> {
    ancestry(meta).into_iter().find_map(|snapshot| {
        let props = &snapshot.summary().additional_properties;
        (props.get(PUBLISHED_RUN).map(String::as_str) == Some(run.as_str()))
            .then(|| snapshot.snapshot_id())
    })
}

/// `main`'s snapshots, newest (the current one) first, back to the first.
pub fn ancestry(meta: &TableMetadata) -> Vec<&SnapshotRef> {
    ancestry_of(meta, MAIN_BRANCH)
}

/// The head a commit to `branch` builds on: the branch's, or `main`'s current
/// snapshot when the branch does not exist yet (its first commit creates it there).
pub fn branch_head<'m>(meta: &'m TableMetadata, branch: &str) -> Option<&'m SnapshotRef> {
    meta.snapshot_for_ref(branch)
        .or_else(|| meta.snapshot_for_ref(MAIN_BRANCH))
}

/// `branch`'s snapshots (see [`branch_head`]), newest first, back to the first.
pub fn ancestry_of<'m>(meta: &'m TableMetadata, branch: &str) -> Vec<&'m SnapshotRef> {
    let mut out = Vec::new();
    let mut at = branch_head(meta, branch);
    while let Some(s) = at {
        out.push(s);
        at = s
            .parent_snapshot_id()
            .and_then(|id| meta.snapshot_by_id(id));
    }
    out
}

/// The run whose rows a snapshot holds: the run that wrote it, or for a
/// compaction, the run whose files it rewrote.
pub fn owning_run(snapshot: &Snapshot) -> Option<&str> {
    let props = &snapshot.summary().additional_properties;
    props
        .get(RUN_ID)
        .or_else(|| props.get(COMPACTED_RUN))
        .map(String::as_str)
}

/// True for snapshots of table maintenance (compaction): they rewrite files
/// without changing rows.
pub fn is_maintenance(snapshot: &Snapshot) -> bool {
    snapshot
        .summary()
        .additional_properties
        .contains_key(MAINTENANCE)
}

/// Runs rolled back on this table: their tasks may not commit to it again.
pub fn rolled_back_runs(meta: &TableMetadata) -> Vec<&str> {
    meta.properties()
        .get(ROLLED_BACK_RUNS)
        .map(|v| v.split(',').filter(|r| !r.is_empty()).collect())
        .unwrap_or_default()
}

/// Snapshot id → the run that owns its files (see [`owning_run`]).
pub fn runs_by_snapshot(meta: &TableMetadata) -> HashMap<i64, String> {
    meta.snapshots()
        .filter_map(|s| owning_run(s).map(|r| (s.snapshot_id(), r.to_string())))
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_reason: Option<String>,
}

impl HistoryEntry {
    /// The entry of `s`, with `current` and `on_main` false.
    pub fn of(s: &Snapshot) -> Self {
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
            current: false,
            on_main: false,
            approved_by: props.get(APPROVED_BY).cloned(),
            approval_reason: props.get(APPROVAL_REASON).cloned(),
        }
    }
}

/// Every snapshot of the table, newest first.
pub fn table_history(meta: &TableMetadata) -> Vec<HistoryEntry> {
    let current = meta.snapshot_for_ref(MAIN_BRANCH).map(|s| s.snapshot_id());
    let on_main: HashSet<i64> = ancestry(meta).iter().map(|s| s.snapshot_id()).collect();
    let mut entries: Vec<HistoryEntry> = meta
        .snapshots()
        .map(|s| {
            let mut entry = HistoryEntry::of(s);
            entry.current = Some(s.snapshot_id()) == current;
            entry.on_main = on_main.contains(&s.snapshot_id());
            entry
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
