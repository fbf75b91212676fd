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
