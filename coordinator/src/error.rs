use floe_common::FloeError;
use floe_lake::{RunId, TaskId};

/// Errors of the coordinator library. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("period `{0}` is not valid: use YYYY-MM for a month (--backfill), YYYY-MM-DD for a day (--date), or --from/--to with two days")]
    BadPeriod(String),

    #[error("period {period} covers {days} days, more than the {max} a run may cover: split it into several runs (e.g. one --backfill per month), or start the coordinator with a larger --max-period-days")]
    PeriodTooLong {
        period: String,
        days: usize,
        max: usize,
    },

    #[error("no input files for {pipeline} in {period}: nothing matched {pattern}. Check --bronze and source.location in the contract")]
    NoInput {
        pipeline: String,
        period: String,
        pattern: String,
    },

    #[error("{0}")]
    OutsideBronze(String),

    #[error("cannot list Bronze files with pattern {pattern}: {message}")]
    Listing { pattern: String, message: String },

    #[error("cannot use the run ledger {path}: {message}. Check that its folder exists and is writable and that the file is a Floe ledger, or point the coordinator at another ledger file")]
    Ledger { path: String, message: String },

    #[error("the run ledger {path} is at schema version {found}, newer than this coordinator understands ({supported}): upgrade the coordinator or point it at another ledger file")]
    LedgerTooNew {
        path: String,
        found: i64,
        supported: i64,
    },

    #[error("run {0} is not in the ledger: check the run id (list the runs to see which exist)")]
    UnknownRun(RunId),

    #[error(
        "task {task_id} is not part of run {run_id}: check the task id against the run's plan"
    )]
    UnknownTask { run_id: RunId, task_id: TaskId },

    #[error("run {0} is already in the ledger: submit the run with a new run id")]
    RunExists(RunId),

    #[error("run {run_id} failed before any task was queued: {error}")]
    Unqueueable { run_id: RunId, error: String },

    #[error("the run ledger holds an unknown {kind} `{found}` (expected one of {expected}): it was written by another program or a newer Floe; upgrade the coordinator or use another ledger file")]
    BadState {
        kind: &'static str,
        found: String,
        expected: String,
    },

    #[error("the gRPC server stopped: {0}. Check that the listen address is free and reachable")]
    Serve(String),

    /// A pass over days an unfinished run still writes.
    #[error(
        "a {pass} of {days} would race {holders}: nothing was submitted. Wait until they finish \
         (`floe-coordinator status RUN`), then submit the {pass} again"
    )]
    DaysBusy {
        pass: &'static str,
        days: String,
        /// `run run-… (2025-01), which is still loading 2025-01-05, 2025-01-06`.
        holders: String,
    },

    /// A pass that cannot be planned as asked.
    #[error("{0}")]
    BadPass(String),

    #[error(
        "approving a publish needs --approved-by NAME and --reason TEXT: both are recorded \
         in the ledger and in every publish snapshot"
    )]
    ApprovalIncomplete,

    #[error(
        "run {run_id} is {state}: {action} only a staged run held for approval (publish = \
         \"manual\" in the contract's [target], or submitted with --explain --diff) {when}. \
         Check it with `floe-coordinator status {run_id}`"
    )]
    NotPublishable {
        run_id: RunId,
        state: String,
        action: &'static str,
        when: &'static str,
    },

    #[error(
        "run {0} is not staged: its tasks committed to main directly, so there is no publish \
         to diff. `floe-coordinator history --table TABLE` shows what it changed; submit with \
         --explain --diff (or publish = \"auto\" | \"manual\" in the contract's [target]) to \
         stage a run"
    )]
    NotStaged(RunId),

    #[error(
        "no table of run {run_id} has a column `{column}` to sum (numeric columns: {available})"
    )]
    UnknownSumColumn {
        run_id: RunId,
        column: String,
        available: String,
    },

    /// A Gold model that does not plan (see `floe_gold::check_models`).
    #[error("contract's Gold {0}")]
    Model(#[source] floe_gold::GoldError),

    #[error(
        "this coordinator was started without a catalog; start it with the workers' --catalog flags"
    )]
    NoCatalog,

    #[error(
        "no pipeline `{name}` is registered (registered: {registered}). Register it with \
         `floe-coordinator pipeline apply CONTRACT.toml`, or pass the contract file itself with \
         --pipeline PATH.toml"
    )]
    UnknownPipeline { name: String, registered: String },

    #[error(
        "pipeline `{name}` has no version {version}: `floe-coordinator pipeline show {name}` \
         shows its latest"
    )]
    UnknownPipelineVersion { name: String, version: u32 },

    #[error(
        "say which pipeline to run: --pipeline NAME (or FLOE_PIPELINE), or --pipeline \
         PATH.toml for a contract file. Registered pipelines: {registered} (a submit without \
         --pipeline needs exactly one; `floe-coordinator pipeline apply CONTRACT.toml` registers \
         one)"
    )]
    NoPipelineChosen { registered: String },

    #[error(transparent)]
    Floe(#[from] FloeError),
}

impl CoordinatorError {
    /// True for errors that may pass on their own: the caller may try again.
    pub fn is_retryable(&self) -> bool {
        match self {
            CoordinatorError::Floe(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Table layer errors reach the coordinator as they reach the data path.
impl From<floe_lake::LakeError> for CoordinatorError {
    fn from(e: floe_lake::LakeError) -> Self {
        CoordinatorError::Floe(e.into())
    }
}

/// Queue errors reach the coordinator as they reach the data path.
impl From<floe_queue::QueueError> for CoordinatorError {
    fn from(e: floe_queue::QueueError) -> Self {
        CoordinatorError::Floe(e.into())
    }
}
