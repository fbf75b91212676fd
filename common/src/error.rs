//! The error enum of the common library. Each message says what to do about it.

use crate::contract::ContractError;

pub type Result<T, E = FloeError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum FloeError {
    #[error(transparent)]
    Contract(#[from] ContractError),

    #[error("cannot read input file {path}: {source}. Check that the file exists and is readable")]
    Input {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "input file {path} changed after the run was planned (planned: {planned}; now: {found}). \
         Nothing from this task was committed. Submit the run again to load the file as it is now"
    )]
    InputChanged {
        path: String,
        planned: String,
        found: String,
    },

    #[error(
        "input file {path} looks like a decompression bomb: {detail}, past the contract's \
         limits.max_expansion. Nothing from this task was committed. Remove the file, or raise \
         limits.max_expansion if it is genuine"
    )]
    DecompressionBomb { path: String, detail: String },

    #[error(
        "input file {path} is not text: {detail}. Nothing from this task was committed. Remove \
         or convert the file, or fix the contract's source settings, and submit again"
    )]
    NotText { path: String, detail: String },

    #[error(
        "input file {path} is not valid Parquet: {detail}. Nothing from this task was committed. \
         Remove or replace the file, or fix the contract's source.format, and submit again"
    )]
    NotParquet { path: String, detail: String },

    #[error(
        "the task's contract (sha256 {sha256}) is not at {location}. The coordinator stores a \
         run's contract there before queueing its tasks: check that the coordinator and the \
         workers use the same warehouse (--lakehouse, or --catalog glue with --warehouse)"
    )]
    ContractMissing { sha256: String, location: String },

    #[error(
        "the contract at {location} does not match its name (its SHA-256 differs): it was \
         changed in storage. Delete the file and submit the run again"
    )]
    ContractCorrupt { location: String },

    #[error(
        "Silver table {table} does not fit the contract: {detail}. Load into the table with the \
         contract version that created it, or name a new table in target.table"
    )]
    SilverMismatch { table: String, detail: String },

    #[error("Silver table {table} cannot take this contract: {detail}. Nothing was changed")]
    SchemaRefused { table: String, detail: String },

    #[error("iceberg error while {context}: {source}")]
    Iceberg {
        context: String,
        #[source]
        source: Box<iceberg::Error>,
    },

    #[error(
        "row accounting failed for task {task}: {detail}. This is a bug in Floe; please report it"
    )]
    Accounting { task: String, detail: String },

    #[error(
        "task {task} stopped: it quarantined {rejected} of the first {rows} rows ({percent:.1}%), \
         over the contract's limit of {limit_percent:.1}% (limits.max_rejection_rate): the input \
         no longer fits the contract, e.g. a column was renamed upstream. Nothing was committed. \
         Top reasons: {reasons}. Samples: {samples}. Fix the contract or the input and submit again"
    )]
    RejectionRate {
        task: String,
        rejected: u64,
        rows: u64,
        percent: f64,
        limit_percent: f64,
        reasons: String,
        samples: String,
    },

    /// The dedupe keys one task of a split partition hands the next.
    #[error(
        "cannot hand on the dedupe keys of a split partition at {location}: {message}. The task \
         is retried; if this persists, check the warehouse storage"
    )]
    Handoff { location: String, message: String },

    /// Dedupe keys past the worker's memory budget go to local disk.
    #[error(
        "cannot spill dedupe keys to {dir}: {message}. Free space there, point the worker's \
         --spill-dir (FLOE_SPILL_DIR) at a larger local disk, or raise --dedupe-memory-mb; the \
         task is retried"
    )]
    KeySpill { dir: String, message: String },

    #[error(
        "an earlier reprocess of partition {partition} read the same quarantined rows under \
         contract version {version} and committed part of its result to {table} without \
         finishing. Nothing was changed. Run reprocess for {partition} with that contract to \
         finish it, then again with the edited one"
    )]
    PassInterrupted {
        partition: String,
        table: String,
        version: String,
    },

    /// The table layer's errors, worded there.
    #[error(transparent)]
    Lake(floe_lake::LakeError),

    #[error(transparent)]
    Queue(#[from] floe_queue::QueueError),

    /// A queue message that does not parse as a task.
    #[error(
        "a queue message is not a Floe task ({0}); it was sent by something else or an \
         incompatible version"
    )]
    NotATask(String),

    /// A task that reads outside the worker's Bronze roots or names what its
    /// contract does not hold (see `TaskSpec::check_scope`).
    #[error("{0}; the task is refused without reading anything")]
    OutOfScope(String),

    /// A task handed to the runner of another kind.
    #[error("task {task} is not a {kind}")]
    WrongTaskKind { task: String, kind: &'static str },

    /// A task whose partition does not fit its table.
    #[error("task {task} {problem}")]
    TaskPartition { task: String, problem: String },

    /// A partition label that does not fit the table's partitioning.
    #[error("partition `{label}` {problem}")]
    BadPartition { label: String, problem: String },

    /// A stage of a task's pipeline (the reader thread, re-validation) stopped.
    #[error("{stage} failed: {message}")]
    Stage {
        stage: &'static str,
        message: String,
    },

    /// The rows a quarantine pass read changed under it.
    #[error(
        "partition {partition} of {table} changed while it was being processed (a run reloaded \
         it?). Run the command again once no run loads these days"
    )]
    PassInputChanged { table: String, partition: String },

    /// A quarantine or condemned table without the columns Floe writes.
    #[error("the table does not have Floe's quarantine layout: {0}")]
    QuarantineLayout(String),

    #[error("releasing condemned rows needs who approved it and why")]
    ApprovalMissing,

    /// A Gold task's failure, already worded by `floe-gold`.
    #[error("{source}")]
    Gold {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        retryable: bool,
    },

    #[error("injected failure at {0} (FLOE_FAILPOINT)")]
    Injected(String),

    #[error(
        "the task panicked: {message}. This is a bug in Floe or a library it uses; the \
         attempt failed and the task is retried. Please report it with the worker's log"
    )]
    TaskPanicked { message: String },

    #[error(
        "the task ran longer than the worker's time limit of {}s and was abandoned; it is \
         retried, and dead-lettered after its last attempt. If tasks this large are expected, \
         raise the workers' --task-time-limit (FLOE_TASK_TIME_LIMIT), or lower the \
         coordinator's --target-task-mb to split them",
        limit.as_secs()
    )]
    TaskTimedOut { limit: std::time::Duration },
}

/// A storage read that failed is the task's input failing: it becomes
/// [`FloeError::Input`], the variant the data path reports and matches for
/// every unreadable input. Every other table layer error is wrapped as it is.
impl From<floe_lake::LakeError> for FloeError {
    fn from(e: floe_lake::LakeError) -> Self {
        match e {
            floe_lake::LakeError::Input { path, source } => FloeError::Input { path, source },
            other => FloeError::Lake(other),
        }
    }
}

impl FloeError {
    /// True for a queue's stale receipt: the caller lost the message to another delivery.
    pub fn is_stale_receipt(&self) -> bool {
        matches!(self, FloeError::Queue(e) if e.is_stale())
    }

    pub(crate) fn iceberg(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> Self {
        let context = context.into();
        move |source| FloeError::Iceberg {
            context,
            source: Box::new(source),
        }
    }

    /// True for errors that may pass on their own (a busy catalog, a lost connection):
    /// the worker retries the task rather than failing the run.
    pub fn is_retryable(&self) -> bool {
        match self {
            FloeError::Handoff { .. } | FloeError::Injected(_) => true,
            // Another worker, or this one later, may have the disk space.
            FloeError::KeySpill { .. } => true,
            // The next attempt may run on another worker, or not hit the cause.
            FloeError::TaskPanicked { .. } | FloeError::TaskTimedOut { .. } => true,
            FloeError::Lake(e) => e.is_retryable(),
            FloeError::Iceberg { source, .. } => source.retryable(),
            FloeError::Queue(e) => e.is_retryable(),
            // A missing or unreadable file may be a listing race or a transient
            // storage fault: retried until the queue dead-letters the task.
            FloeError::Input { .. } => true,
            FloeError::Gold { retryable, .. } => *retryable,
            _ => false,
        }
    }
}
