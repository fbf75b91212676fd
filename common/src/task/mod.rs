//! One task's work, end to end: read the inputs, validate every row, write the
//! three tables' data files, and commit them (quarantine, condemned, then Silver).
//!
//! # A task's life, and the shape it has at each step
//!
//! 1. **Planned**: `floe_coordinator::plan` turns a submit into `PlannedTask`s
//!    (inputs, partition, dedupe links), a pure function.
//! 2. **Recorded**: the ledger stores each as a `TaskRecord` with its state
//!    (queued, running, succeeded, failed, superseded, ...). Gold and chained
//!    tasks wait there until what they depend on has succeeded.
//! 3. **Sent**: `floe_coordinator::service::messages` builds the one
//!    [`TaskMessage`] of a task (a reference to the run's stored contract, the
//!    trace context and the task's own fields). It is the queue message body, and travels as
//!    `pb::TaskAssignment` when a worker leases it over gRPC.
//! 4. **Run**: a worker turns a delivery into a [`TaskSpec`] with
//!    [`TaskMessage::into_spec`], adding the delivery number and the contract
//!    ([`TaskMessage::contract`], read once per worker), and runs it ([`run_task`], or a Gold task or a pass). From
//!    here on the run, task and delivery travel together as one
//!    [`floe_lake::Attempt`]: it keys the commit, the data file names and the
//!    fail points.
//! 5. **Reported**: the [`TaskReport`] (row counts, commits) goes back to the
//!    coordinator, which moves the `TaskRecord` on; the commits themselves
//!    carry the run, task and attempt in their snapshot summaries, from which
//!    the ledger can be rebuilt.

mod append;
mod chain;
mod execute;
mod failpoint;
pub mod handoff;
pub mod line_handoff;
mod message;
mod scope;
pub mod signing;
mod written;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use append::APPENDED_FILES;
pub use execute::{run_task, write_task, TaskEnv};
pub use failpoint::{FailAction, FailAt, FailPoint};
pub use handoff::DedupeLink;
pub use message::TaskMessage;
pub use scope::BronzeRoots;
pub use signing::{Refusal, SigningKeys, TaskCodec};
pub use written::WrittenTask;

use crate::contract::Contract;
use crate::table::TableRole;
use floe_lake::commit::CommitOutcome;
use floe_lake::Attempt;

/// Everything a worker needs to run a task.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The run, the task, and which delivery of it this is.
    pub attempt: Attempt,
    pub contract: Arc<Contract>,
    /// Absolute locations: local paths or `s3://` URLs.
    pub inputs: Vec<String>,
    /// What each input was when the run was planned; an input listed here is
    /// read only while it is still that version. Inputs not listed are read as
    /// they are.
    pub fingerprints: std::collections::BTreeMap<String, floe_lake::storage::Fingerprint>,
    /// Inputs of which the task reads only a byte range (the records that start
    /// in it): one large file is then several tasks. Inputs not listed are read whole.
    pub ranges: std::collections::BTreeMap<String, crate::source::ByteRange>,
    /// The partition label the task owns (`2025-01-05` for `day(ts)`); required
    /// when the Silver table is partitioned.
    pub partition: Option<String>,
    /// The run's trace context: the task's span joins the run's trace.
    pub trace_context: std::collections::BTreeMap<String, String>,
    /// Set for a Gold task (run by `floe-gold`, not by [`run_task`]).
    pub gold: Option<GoldTask>,
    /// Set for a task of a split partition under a dedupe key: the task whose
    /// keys it starts from, and whether it hands its own on (see [`handoff`]).
    pub dedupe: Option<DedupeLink>,
    /// Set for a quarantine pass (run by `crate::quarantine::run_pass`).
    pub pass: Option<PassTask>,
    /// An append of new files (a continuous pipeline's): the task adds its
    /// rows to the load that owns its partition instead of replacing it.
    pub append: bool,
    /// A task of a staged run: it commits to the run's branch of each table
    /// ([`floe_lake::commit::publish::staging_branch`]), not to `main`;
    /// readers see its rows when the coordinator publishes the run.
    pub staged: bool,
}

impl TaskSpec {
    /// The branch the task commits to: `None` for `main`.
    pub fn branch(&self) -> Option<String> {
        self.staged
            .then(|| floe_lake::commit::publish::staging_branch(&self.attempt.run_id))
    }

    /// The same task delivered again, as attempt `number`.
    pub fn redelivered(&self, number: u32) -> TaskSpec {
        let mut again = self.clone();
        again.attempt.number = number;
        again
    }
}

/// A quarantine pass over the task's partition, as a task of a pass run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PassTask {
    /// Quarantined rows against the run's contract (see `crate::quarantine`).
    Reprocess,
    /// Condemned rows back to quarantine, with the recorded approval.
    Release { approved_by: String, reason: String },
}

/// What makes a task a Gold task: the model it rebuilds for its partition, and
/// the snapshots it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldTask {
    pub model: String,
    /// Per table the model reads (`namespace.table`): the snapshots the run's
    /// earlier tasks committed to it for this partition. The query reads the
    /// newest of them, so a later run's commit cannot leak into this run's Gold.
    /// A table without pins is read at its current snapshot.
    #[serde(default)]
    pub pins: BTreeMap<String, Vec<i64>>,
}

/// What a task did. `rows_in == valid + quarantined + condemned` always.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStats {
    pub rows_in: u64,
    pub valid: u64,
    pub quarantined: u64,
    pub condemned: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    pub data_files_written: u64,
    /// Time spent reading, validating and writing data files.
    #[serde(default)]
    pub work_ms: u64,
    /// Time spent committing (all three tables, retries included).
    #[serde(default)]
    pub commit_ms: u64,
    /// Rows a Gold task wrote to its model's partition (Bronze rows are not
    /// involved: a Gold task's `rows_in` is 0).
    #[serde(default)]
    pub gold_rows: u64,
}

impl TaskStats {
    pub fn is_balanced(&self) -> bool {
        self.rows_in == self.valid + self.quarantined + self.condemned
    }

    /// The counts a commit recorded in its snapshot summary (see `to_properties`);
    /// None when the summary is not a Floe task's.
    pub fn from_properties(props: &std::collections::HashMap<String, String>) -> Option<Self> {
        let get = |k: &str| props.get(k).and_then(|v| v.parse::<u64>().ok());
        Some(Self {
            rows_in: get("floe.rows-in")?,
            valid: get("floe.rows-valid")?,
            quarantined: get("floe.rows-quarantined")?,
            condemned: get("floe.rows-condemned")?,
            bytes_read: get("floe.bytes-read").unwrap_or(0),
            ..Self::default()
        })
    }

    pub(crate) fn to_properties(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("floe.rows-in".into(), self.rows_in.to_string()),
            ("floe.rows-valid".into(), self.valid.to_string()),
            ("floe.rows-quarantined".into(), self.quarantined.to_string()),
            ("floe.rows-condemned".into(), self.condemned.to_string()),
            ("floe.bytes-read".into(), self.bytes_read.to_string()),
        ])
    }
}

/// Where the time went, for benchmarks and logs.
#[derive(Debug, Clone, Default)]
pub struct TaskTimings {
    pub read_validate_write: std::time::Duration,
    pub commit: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct TaskReport {
    pub stats: TaskStats,
    pub commits: BTreeMap<TableRole, CommitOutcome>,
    /// Commits to tables outside the pipeline's three (a Gold model's table),
    /// by `namespace.table`.
    pub model_commits: BTreeMap<String, CommitOutcome>,
    pub timings: TaskTimings,
}
