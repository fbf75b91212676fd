//! The ledger's records: run and task states and what is known about each.

use std::collections::BTreeMap;

use floe_common::source::ByteRange;
use floe_common::task::{DedupeLink, PassTask, TaskStats};
use floe_lake::storage::Fingerprint;
use floe_lake::{RunId, TaskId};
use serde::{Deserialize, Serialize};

pub use crate::copies::SkippedCopy;
use crate::error::CoordinatorError;
pub use crate::plan::GoldPlan;

/// Where a run stands. `Running` until every task is terminal (or the run is cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunState {
    Running,
    /// A staged run whose tasks all ended well: the coordinator is putting its
    /// partitions on the tables' `main`.
    Publishing,
    /// A staged run of a `publish = "manual"` pipeline whose audits passed:
    /// it waits for an operator to approve the publish or discard it.
    AwaitingApproval,
    /// A staged run an operator discarded: never published, its branches removed.
    Discarded,
    Succeeded,
    Failed,
    Cancelled,
    /// Every task succeeded or lost its partition to a newer run; none failed.
    Superseded,
}

impl RunState {
    pub const ALL: [RunState; 8] = [
        RunState::Running,
        RunState::Publishing,
        RunState::AwaitingApproval,
        RunState::Discarded,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Cancelled,
        RunState::Superseded,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Publishing => "publishing",
            RunState::AwaitingApproval => "awaiting_approval",
            RunState::Discarded => "discarded",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Superseded => "superseded",
        }
    }

    /// The inverse of [`RunState::as_str`].
    pub fn parse(s: &str) -> Result<Self, CoordinatorError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| CoordinatorError::BadState {
                kind: "run",
                found: s.to_string(),
                expected: Self::ALL.map(|v| v.as_str()).join(", "),
            })
    }

    pub fn is_finished(&self) -> bool {
        !matches!(
            self,
            RunState::Running | RunState::Publishing | RunState::AwaitingApproval
        )
    }
}

/// Where a task stands. Terminal: `Succeeded`, `Failed`, `Dead`, `Cancelled`,
/// `Superseded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskState {
    /// Waiting in the queue (never started, or failed with a retryable error).
    Queued,
    Running,
    Succeeded,
    /// Failed with an error a retry cannot fix.
    Failed,
    /// Dead-lettered by the queue after too many deliveries.
    Dead,
    Cancelled,
    /// A newer run loaded the task's partition (see `TaskRecord::superseded_by`):
    /// the task commits nothing more and is not retried.
    Superseded,
}

impl TaskState {
    pub const ALL: [TaskState; 7] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Dead,
        TaskState::Cancelled,
        TaskState::Superseded,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Dead => "dead",
            TaskState::Cancelled => "cancelled",
            TaskState::Superseded => "superseded",
        }
    }

    /// The inverse of [`TaskState::as_str`].
    pub fn parse(s: &str) -> Result<Self, CoordinatorError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| CoordinatorError::BadState {
                kind: "task",
                found: s.to_string(),
                expected: Self::ALL.map(|v| v.as_str()).join(", "),
            })
    }

    pub fn is_terminal(&self) -> bool {
        !matches!(self, TaskState::Queued | TaskState::Running)
    }
}

/// What a run does: a load from Bronze, or a pass over what the tables hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunKind {
    Load,
    /// New files of a continuous pipeline, added to the loads that own their
    /// partitions.
    Append,
    Reprocess,
    Release,
    Rebuild,
}

impl RunKind {
    pub const ALL: [RunKind; 5] = [
        RunKind::Load,
        RunKind::Append,
        RunKind::Reprocess,
        RunKind::Release,
        RunKind::Rebuild,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RunKind::Load => "load",
            RunKind::Append => "append",
            RunKind::Reprocess => "reprocess",
            RunKind::Release => "release",
            RunKind::Rebuild => "rebuild",
        }
    }

    /// The inverse of [`RunKind::as_str`].
    pub fn parse(s: &str) -> Result<Self, CoordinatorError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| CoordinatorError::BadState {
                kind: "run kind",
                found: s.to_string(),
                expected: Self::ALL.map(|v| v.as_str()).join(", "),
            })
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunTrigger {
    /// Someone asked (a submit, a pass).
    Manual,
    /// The pipeline's `[schedule]`, at this tick (the latest one when the run
    /// catches up missed ticks).
    Schedule { tick_ms: i64 },
    /// New Bronze files of a continuous pipeline.
    NewFiles,
}

impl RunTrigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunTrigger::Manual => "manual",
            RunTrigger::Schedule { .. } => "schedule",
            RunTrigger::NewFiles => "new-files",
        }
    }

    /// The inverse of [`RunTrigger::as_str`] with the scheduled tick.
    pub fn parse(s: &str, tick_ms: Option<i64>) -> Result<Self, CoordinatorError> {
        match (s, tick_ms) {
            ("manual", _) => Ok(RunTrigger::Manual),
            ("new-files", _) => Ok(RunTrigger::NewFiles),
            ("schedule", Some(tick_ms)) => Ok(RunTrigger::Schedule { tick_ms }),
            _ => Err(CoordinatorError::BadState {
                kind: "run trigger",
                found: s.to_string(),
                expected: "manual, schedule (with its tick), new-files".into(),
            }),
        }
    }

    pub fn tick_ms(&self) -> Option<i64> {
        match self {
            RunTrigger::Manual | RunTrigger::NewFiles => None,
            RunTrigger::Schedule { tick_ms } => Some(*tick_ms),
        }
    }
}

/// A run to record, before any task has started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub run_id: RunId,
    pub pipeline: String,
    pub period: String,
    /// The contract's full TOML text, so a restarted coordinator runs the same contract.
    pub contract_text: String,
    /// Where the contract came from (a path), for messages.
    pub contract_origin: String,
    /// The run's trace context, for tasks enqueued after submit (Gold tasks).
    pub trace_context: BTreeMap<String, String>,
    /// Files the run leaves out as byte-identical copies of others.
    pub skipped: Vec<SkippedCopy>,
    pub kind: RunKind,
    pub trigger: RunTrigger,
    /// The registered pipeline version it runs, when it named one.
    pub pipeline_version: Option<u32>,
    /// Its tasks commit to the run's branch of each table, published to
    /// `main` once they all ended well (`publish = "auto"`).
    pub staged: bool,
    pub publish: PublishOptions,
}

/// How a submit asked its run to be published, beside the contract's mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Stage the run and hold it for approval whatever the contract says: a
    /// dry run whose diff is read before it is published or discarded.
    pub hold: bool,
    /// The row change audit passes partitions that shrink (it still fails
    /// growth past `max_row_change`).
    pub allow_shrink: bool,
}

/// One snapshot a task committed (or found already committed by an earlier attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub table: String,
    pub snapshot_id: i64,
    pub already_committed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub task_id: TaskId,
    pub partition: Option<String>,
    pub inputs: Vec<String>,
    /// What each input was at planning.
    pub fingerprints: BTreeMap<String, Fingerprint>,
    /// Inputs the task reads only a byte range of.
    pub ranges: BTreeMap<String, ByteRange>,
    pub bytes: u64,
    pub state: TaskState,
    /// The highest attempt (delivery) number seen; 0 until the task first starts.
    pub attempts: u32,
    /// Set once the task succeeded.
    pub stats: Option<TaskStats>,
    pub snapshots: Vec<SnapshotRecord>,
    /// Set for a Gold task: its model and the tasks it waits for.
    pub gold: Option<GoldPlan>,
    /// The most recent reported error (kept after a later success, for history).
    pub last_error: Option<String>,
    pub updated_at_ms: i64,
    /// The run that took the task's partition (state `Superseded`), when known.
    pub superseded_by: Option<RunId>,
    /// Set for a chained task of a split partition (see `chain`).
    pub dedupe: Option<DedupeLink>,
    /// Set for a quarantine pass task.
    pub pass: Option<PassTask>,
}

impl TaskRecord {
    /// One line naming the task, its partition, its state and why, e.g.
    /// `task tx-2025-01-05-000 (2025-01-05) dead after 3 attempts: cannot read ...`.
    pub fn describe(&self) -> String {
        let partition = match &self.partition {
            Some(p) => format!(" ({p})"),
            None => String::new(),
        };
        let plural = if self.attempts == 1 { "" } else { "s" };
        let what = match self.state {
            TaskState::Dead => format!("dead after {} attempt{plural}", self.attempts),
            TaskState::Failed => format!("failed after {} attempt{plural}", self.attempts),
            TaskState::Superseded => match &self.superseded_by {
                Some(by) => format!("superseded by run {by}"),
                None => "superseded".to_string(),
            },
            other => other.as_str().to_string(),
        };
        let why = match (&self.last_error, self.state) {
            (Some(e), _) => format!(": {e}"),
            (None, TaskState::Dead) => {
                ": no error was reported (the worker may have crashed or timed out each time)"
                    .to_string()
            }
            (None, _) => String::new(),
        };
        format!("task {}{partition} {what}{why}", self.task_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub run_id: RunId,
    pub pipeline: String,
    pub period: String,
    pub state: RunState,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Why the run failed (or was cancelled), naming each failed or dead task.
    pub error: Option<String>,
    pub contract_text: String,
    pub contract_origin: String,
    pub trace_context: BTreeMap<String, String>,
    /// In plan order.
    pub tasks: Vec<TaskRecord>,
    /// The tables this run was rolled back on, oldest first.
    pub rolled_back: Vec<RolledBack>,
    /// Files the run left out as byte-identical copies of others.
    pub skipped: Vec<SkippedCopy>,
    pub kind: RunKind,
    pub trigger: RunTrigger,
    /// The registered pipeline version it ran, when it named one.
    pub pipeline_version: Option<u32>,
    /// See [`NewRun::staged`].
    pub staged: bool,
    pub publish: PublishOptions,
    /// When its partitions were published to `main` (staged runs).
    pub published_at_ms: Option<i64>,
    /// The audits run before publishing, once they ran.
    pub audits: Vec<AuditResult>,
    /// Who approved the publish of a `publish = "manual"` run, and why.
    pub approved_by: Option<String>,
    pub approval_reason: Option<String>,
}

/// One audit of a staged run, for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResult {
    /// The contract key (`max_quarantine_rate`, `max_row_change`).
    pub name: String,
    pub partition: String,
    pub passed: bool,
    /// What was measured against what was allowed.
    pub detail: String,
}

/// A run's snapshots were rolled back off a table's `main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    pub table: String,
    /// Where `main` was moved to.
    pub to_snapshot: i64,
    pub at_ms: i64,
}

impl RunRecord {
    /// The stats of every succeeded task, summed.
    pub fn totals(&self) -> TaskStats {
        let mut t = TaskStats::default();
        for s in self.tasks.iter().filter_map(|t| t.stats.as_ref()) {
            t.rows_in += s.rows_in;
            t.valid += s.valid;
            t.quarantined += s.quarantined;
            t.condemned += s.condemned;
            t.files_read += s.files_read;
            t.bytes_read += s.bytes_read;
            t.data_files_written += s.data_files_written;
            t.work_ms += s.work_ms;
            t.commit_ms += s.commit_ms;
        }
        t
    }

    /// How many tasks are in state `s`.
    pub fn count(&self, s: TaskState) -> usize {
        self.tasks.iter().filter(|t| t.state == s).count()
    }

    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }

    pub fn task(&self, task_id: &TaskId) -> Option<&TaskRecord> {
        self.tasks.iter().find(|t| &t.task_id == task_id)
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
