//! Proto ⇄ domain conversions, at the edge.

use floe_common::task::TaskStats;
use floe_proto::v1 as pb;

use crate::copies::SkippedCopy;
use crate::ledger::{Overlap, RunRecord, RunState, SnapshotRecord, TaskRecord, TaskState};
use crate::plan::PlannedTask;

pub fn run_state(s: RunState) -> pb::RunState {
    match s {
        RunState::Running => pb::RunState::Running,
        RunState::Publishing => pb::RunState::Publishing,
        RunState::AwaitingApproval => pb::RunState::AwaitingApproval,
        RunState::Discarded => pb::RunState::Discarded,
        RunState::Succeeded => pb::RunState::Succeeded,
        RunState::Failed => pb::RunState::Failed,
        RunState::Cancelled => pb::RunState::Cancelled,
        RunState::Superseded => pb::RunState::Superseded,
    }
}

pub fn task_state(s: TaskState) -> pb::TaskState {
    match s {
        TaskState::Queued => pb::TaskState::Queued,
        TaskState::Running => pb::TaskState::Running,
        TaskState::Succeeded => pb::TaskState::Succeeded,
        TaskState::Failed => pb::TaskState::Failed,
        TaskState::Dead => pb::TaskState::Dead,
        TaskState::Cancelled => pb::TaskState::Cancelled,
        TaskState::Superseded => pb::TaskState::Superseded,
    }
}

pub fn rows(s: &TaskStats) -> pb::RowCounts {
    pb::RowCounts {
        rows_in: s.rows_in,
        valid: s.valid,
        quarantined: s.quarantined,
        condemned: s.condemned,
    }
}

pub fn snapshot_to(s: &SnapshotRecord) -> pb::Snapshot {
    pb::Snapshot {
        table: s.table.clone(),
        snapshot_id: s.snapshot_id,
        already_committed: s.already_committed,
    }
}

pub fn snapshot_from(s: &pb::Snapshot) -> SnapshotRecord {
    SnapshotRecord {
        table: s.table.clone(),
        snapshot_id: s.snapshot_id,
        already_committed: s.already_committed,
    }
}

fn task(t: &TaskRecord) -> pb::Task {
    let stats = t.stats.clone().unwrap_or_default();
    pb::Task {
        task_id: t.task_id.to_string(),
        partition: t.partition.clone().unwrap_or_default(),
        state: task_state(t.state) as i32,
        attempts: t.attempts,
        rows: Some(rows(&stats)),
        bytes: t.bytes,
        bytes_read: stats.bytes_read,
        last_error: t.last_error.clone().unwrap_or_default(),
        snapshots: t.snapshots.iter().map(snapshot_to).collect(),
        inputs: t.inputs.clone(),
        stats: t.stats.as_ref().map(pb::TaskStats::from),
        model: t.gold.as_ref().map(|g| g.model.clone()).unwrap_or_default(),
        superseded_by: t
            .superseded_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

pub fn run(r: &RunRecord) -> pb::Run {
    let totals = r.totals();
    pb::Run {
        run_id: r.run_id.to_string(),
        pipeline: r.pipeline.clone(),
        period: r.period.clone(),
        state: run_state(r.state) as i32,
        created_at_ms: r.created_at_ms,
        finished_at_ms: r.finished_at_ms.unwrap_or(0),
        rows: Some(rows(&totals)),
        bytes_total: r.tasks.iter().map(|t| t.bytes).sum(),
        bytes_read: totals.bytes_read,
        error: r.error.clone().unwrap_or_default(),
        tasks: r.tasks.iter().map(task).collect(),
        rolled_back: r
            .rolled_back
            .iter()
            .map(|b| pb::RolledBack {
                table: b.table.clone(),
                to_snapshot: b.to_snapshot,
                at_ms: b.at_ms,
            })
            .collect(),
        skipped_files: r.skipped.iter().map(skipped).collect(),
        approved_by: r.approved_by.clone().unwrap_or_default(),
        approval_reason: r.approval_reason.clone().unwrap_or_default(),
        audits: r
            .audits
            .iter()
            .map(|a| pb::Audit {
                name: a.name.clone(),
                partition: a.partition.clone(),
                passed: a.passed,
                detail: a.detail.clone(),
            })
            .collect(),
        kind: r.kind.as_str().to_string(),
        trigger: r.trigger.as_str().to_string(),
        scheduled_for_ms: r.trigger.tick_ms().unwrap_or_default(),
        pipeline_version: r.pipeline_version.unwrap_or_default(),
        task_count: r.tasks.len() as u32,
        tasks_succeeded: r
            .tasks
            .iter()
            .filter(|t| t.state == crate::ledger::TaskState::Succeeded)
            .count() as u32,
        next_page_token: String::new(),
    }
}

pub fn skipped(s: &SkippedCopy) -> pb::SkippedFile {
    pb::SkippedFile {
        path: s.path.clone(),
        duplicate_of: s.duplicate_of.clone(),
    }
}

pub fn planned(t: &PlannedTask) -> pb::PlannedTask {
    pb::PlannedTask {
        task_id: t.task_id.to_string(),
        partition: t.partition.clone().unwrap_or_default(),
        inputs: t.inputs.clone(),
        bytes: t.bytes,
        ranges: t
            .ranges
            .iter()
            .map(|(path, r)| {
                let range = pb::ByteRange {
                    start: r.start,
                    end: r.end,
                };
                (path.clone(), range)
            })
            .collect(),
        notes: t.notes.clone(),
    }
}

pub fn overlap(o: &Overlap) -> pb::Overlap {
    pb::Overlap {
        run_id: o.run_id.to_string(),
        period: o.period.clone(),
        partitions: o.partitions.clone(),
        queued: o.queued as u32,
        running: o.running as u32,
    }
}

pub fn run_diff(d: &crate::service::RunDiff) -> pb::RunDiff {
    pb::RunDiff {
        run_id: d.run_id.to_string(),
        state: run_state(d.state) as i32,
        tables: d
            .tables
            .iter()
            .map(|(name, t)| pb::TableDiff {
                table: name.to_string(),
                published: t.published,
                before_snapshot_id: t.before_snapshot.unwrap_or_default(),
                after_snapshot_id: t.after_snapshot,
                partitions: t.partitions.iter().map(partition_diff).collect(),
            })
            .collect(),
    }
}

fn partition_diff(p: &floe_lake::commit::publish_diff::PartitionDiff) -> pb::PartitionDiff {
    let columns: std::collections::BTreeSet<&String> =
        p.before.sums.keys().chain(p.after.sums.keys()).collect();
    let text =
        |s: Option<&floe_lake::data::totals::Sum>| s.map(|s| s.to_string()).unwrap_or_default();
    pb::PartitionDiff {
        partition: p.partition.clone(),
        rows_before: p.before.rows,
        rows_after: p.after.rows,
        sums: columns
            .into_iter()
            .map(|c| pb::ColumnSum {
                column: c.clone(),
                before: text(p.before.sums.get(c)),
                after: text(p.after.sums.get(c)),
            })
            .collect(),
    }
}
