//! Conversions between the wire types and the domain types both the coordinator
//! and the workers use, so each lives in one place.

use floe_common::contract::ContractRef;
use floe_common::source::ByteRange;
use floe_common::task::{DedupeLink, GoldTask, PassTask, TaskMessage, TaskStats};
use floe_lake::commit::files::FileDiff;
use floe_lake::commit::history::HistoryEntry;
use floe_lake::commit::rollback::{RollbackOutcome, RollbackPlan};
use floe_lake::storage::Fingerprint;
use floe_lake::{RunId, TaskId};

use crate::v1 as pb;

impl From<&Fingerprint> for pb::FileFingerprint {
    fn from(f: &Fingerprint) -> Self {
        Self {
            bytes: f.bytes,
            modified_ms: f.modified_ms,
            etag: f.etag.clone(),
        }
    }
}

impl From<&pb::FileFingerprint> for Fingerprint {
    fn from(f: &pb::FileFingerprint) -> Self {
        Self {
            bytes: f.bytes,
            modified_ms: f.modified_ms,
            etag: f.etag.clone(),
        }
    }
}

impl From<&TaskStats> for pb::TaskStats {
    fn from(s: &TaskStats) -> Self {
        Self {
            rows_in: s.rows_in,
            valid: s.valid,
            quarantined: s.quarantined,
            condemned: s.condemned,
            files_read: s.files_read,
            bytes_read: s.bytes_read,
            data_files_written: s.data_files_written,
            work_ms: s.work_ms,
            commit_ms: s.commit_ms,
            gold_rows: s.gold_rows,
        }
    }
}

impl From<&pb::TaskStats> for TaskStats {
    fn from(s: &pb::TaskStats) -> Self {
        Self {
            rows_in: s.rows_in,
            valid: s.valid,
            quarantined: s.quarantined,
            condemned: s.condemned,
            files_read: s.files_read,
            bytes_read: s.bytes_read,
            data_files_written: s.data_files_written,
            work_ms: s.work_ms,
            commit_ms: s.commit_ms,
            gold_rows: s.gold_rows,
        }
    }
}

impl From<&TaskMessage> for pb::TaskAssignment {
    fn from(m: &TaskMessage) -> Self {
        Self {
            run_id: m.run_id.to_string(),
            task_id: m.task_id.to_string(),
            contract_text: m.contract_text.clone(),
            contract_sha256: m
                .contract
                .as_ref()
                .map(|c| c.sha256.clone())
                .unwrap_or_default(),
            contract_origin: m.contract_origin.clone(),
            inputs: m.inputs.clone(),
            fingerprints: m
                .fingerprints
                .iter()
                .map(|(location, f)| (location.clone(), f.into()))
                .collect(),
            partition: m.partition.clone().unwrap_or_default(),
            trace_context: m.trace_context.clone().into_iter().collect(),
            gold: m.gold.as_ref().map(|g| pb::GoldAssignment {
                model: g.model.clone(),
                pins: g
                    .pins
                    .iter()
                    .map(|(table, ids)| {
                        let pins = pb::SnapshotPins {
                            snapshot_ids: ids.clone(),
                        };
                        (table.clone(), pins)
                    })
                    .collect(),
            }),
            dedupe: m.dedupe.as_ref().map(|d| pb::DedupeLink {
                after: d
                    .after
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                hand_off: d.hand_off,
                after_run: d
                    .after_run
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            }),
            pass: m.pass.as_ref().map(|p| match p {
                PassTask::Reprocess => pb::PassAssignment {
                    kind: "reprocess".into(),
                    ..Default::default()
                },
                PassTask::Release {
                    approved_by,
                    reason,
                } => pb::PassAssignment {
                    kind: "release".into(),
                    approved_by: approved_by.clone(),
                    reason: reason.clone(),
                },
            }),
            append: m.append,
            staged: m.staged,
            ranges: m
                .ranges
                .iter()
                .map(|(location, r)| {
                    let range = pb::ByteRange {
                        start: r.start,
                        end: r.end,
                    };
                    (location.clone(), range)
                })
                .collect(),
        }
    }
}

impl From<&pb::TaskAssignment> for TaskMessage {
    fn from(a: &pb::TaskAssignment) -> Self {
        Self {
            run_id: RunId::new(a.run_id.clone()),
            task_id: TaskId::new(a.task_id.clone()),
            contract: (!a.contract_sha256.is_empty()).then(|| ContractRef {
                sha256: a.contract_sha256.clone(),
            }),
            contract_text: a.contract_text.clone(),
            contract_origin: a.contract_origin.clone(),
            inputs: a.inputs.clone(),
            fingerprints: a
                .fingerprints
                .iter()
                .map(|(location, f)| (location.clone(), f.into()))
                .collect(),
            partition: (!a.partition.is_empty()).then(|| a.partition.clone()),
            trace_context: a.trace_context.clone().into_iter().collect(),
            gold: a.gold.as_ref().map(|g| GoldTask {
                model: g.model.clone(),
                pins: g
                    .pins
                    .iter()
                    .map(|(table, p)| (table.clone(), p.snapshot_ids.clone()))
                    .collect(),
            }),
            dedupe: a.dedupe.as_ref().map(|d| DedupeLink {
                after: (!d.after.is_empty()).then(|| TaskId::new(d.after.clone())),
                hand_off: d.hand_off,
                after_run: (!d.after_run.is_empty()).then(|| RunId::new(d.after_run.clone())),
            }),
            pass: a.pass.as_ref().map(|p| match p.kind.as_str() {
                "release" => PassTask::Release {
                    approved_by: p.approved_by.clone(),
                    reason: p.reason.clone(),
                },
                _ => PassTask::Reprocess,
            }),
            append: a.append,
            staged: a.staged,
            ranges: a
                .ranges
                .iter()
                .map(|(location, r)| {
                    let range = ByteRange {
                        start: r.start,
                        end: r.end,
                    };
                    (location.clone(), range)
                })
                .collect(),
        }
    }
}

impl From<&HistoryEntry> for pb::SnapshotEntry {
    fn from(e: &HistoryEntry) -> Self {
        Self {
            snapshot_id: e.snapshot_id,
            parent_id: e.parent_id,
            timestamp_ms: e.timestamp_ms,
            operation: e.operation.clone(),
            run_id: e.run_id.clone(),
            task_id: e.task_id.clone(),
            rows_added: e.rows_added,
            rows_removed: e.rows_removed,
            files_added: e.files_added,
            files_removed: e.files_removed,
            approved_by: e.approved_by.clone(),
            approval_reason: e.approval_reason.clone(),
        }
    }
}

impl From<&pb::SnapshotEntry> for HistoryEntry {
    fn from(e: &pb::SnapshotEntry) -> Self {
        Self {
            snapshot_id: e.snapshot_id,
            parent_id: e.parent_id,
            timestamp_ms: e.timestamp_ms,
            operation: e.operation.clone(),
            run_id: e.run_id.clone(),
            task_id: e.task_id.clone(),
            rows_added: e.rows_added,
            rows_removed: e.rows_removed,
            files_added: e.files_added,
            files_removed: e.files_removed,
            current: false,
            on_main: false,
            approved_by: e.approved_by.clone(),
            approval_reason: e.approval_reason.clone(),
        }
    }
}

impl From<&RollbackOutcome> for pb::RollbackTableResponse {
    fn from(o: &RollbackOutcome) -> Self {
        let p = &o.plan;
        Self {
            table: p.table.clone(),
            from_snapshot: p.from_snapshot,
            to_snapshot: p.to_snapshot,
            discarded: p.discarded.iter().map(Into::into).collect(),
            undone_run: p.undone_run.clone(),
            later_runs: p.later_runs.clone(),
            runs: p.runs.clone(),
            rows_removed: p.changes.rows_removed,
            files_removed: p.changes.files_removed,
            rows_restored: p.changes.rows_restored,
            files_restored: p.changes.files_restored,
            partitions: p.changes.partitions.clone(),
            applied: o.applied,
        }
    }
}

impl From<&pb::RollbackTableResponse> for RollbackOutcome {
    fn from(r: &pb::RollbackTableResponse) -> Self {
        Self {
            plan: RollbackPlan {
                table: r.table.clone(),
                from_snapshot: r.from_snapshot,
                to_snapshot: r.to_snapshot,
                discarded: r.discarded.iter().map(Into::into).collect(),
                undone_run: r.undone_run.clone(),
                later_runs: r.later_runs.clone(),
                runs: r.runs.clone(),
                changes: FileDiff {
                    rows_removed: r.rows_removed,
                    files_removed: r.files_removed,
                    rows_restored: r.rows_restored,
                    files_restored: r.files_restored,
                    partitions: r.partitions.clone(),
                },
            },
            applied: r.applied,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_messages_round_trip() {
        let m = TaskMessage {
            run_id: RunId::new("run-1"),
            task_id: TaskId::new("t-1"),
            contract: Some(ContractRef::of("text")),
            contract_text: String::new(),
            contract_origin: "c.toml".into(),
            inputs: vec!["/b/1.csv".into(), "s3://b/2.csv".into()],
            fingerprints: [
                (
                    "/b/1.csv".to_string(),
                    Fingerprint {
                        bytes: 10,
                        modified_ms: Some(1_700_000_000_123),
                        etag: None,
                    },
                ),
                (
                    "s3://b/2.csv".to_string(),
                    Fingerprint {
                        bytes: 20,
                        modified_ms: None,
                        etag: Some("\"abc\"".into()),
                    },
                ),
            ]
            .into(),
            partition: Some("2025-01-01".into()),
            trace_context: [("traceparent".to_string(), "00-abc-def-01".to_string())].into(),
            gold: Some(floe_common::task::GoldTask {
                model: "daily".into(),
                pins: [("silver.t".to_string(), vec![7, 9])].into(),
            }),
            dedupe: Some(DedupeLink {
                after: Some(TaskId::new("t-0")),
                after_run: Some(RunId::new("run-0")),
                hand_off: true,
            }),
            pass: None,
            append: true,
            ranges: [("/b/1.csv".to_string(), ByteRange { start: 3, end: 10 })].into(),
            staged: true,
        };
        assert_eq!(TaskMessage::from(&pb::TaskAssignment::from(&m)), m);
        for pass in [
            PassTask::Reprocess,
            PassTask::Release {
                approved_by: "alice".into(),
                reason: "fixed upstream".into(),
            },
        ] {
            let p = TaskMessage {
                pass: Some(pass),
                ..m.clone()
            };
            assert_eq!(TaskMessage::from(&pb::TaskAssignment::from(&p)), p);
        }
        let first = TaskMessage {
            dedupe: Some(DedupeLink {
                after: None,
                after_run: None,
                hand_off: true,
            }),
            append: false,
            staged: false,
            ..m.clone()
        };
        assert_eq!(TaskMessage::from(&pb::TaskAssignment::from(&first)), first);
        let inline = TaskMessage {
            contract: None,
            contract_text: "text".into(),
            ..m.clone()
        };
        assert_eq!(
            TaskMessage::from(&pb::TaskAssignment::from(&inline)),
            inline
        );
        let s = TaskStats {
            rows_in: 3,
            valid: 2,
            quarantined: 1,
            commit_ms: 7,
            gold_rows: 4,
            ..Default::default()
        };
        assert_eq!(TaskStats::from(&pb::TaskStats::from(&s)), s);
    }
}
