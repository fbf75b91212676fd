//! The error enum of the table layer. Each message says what to do about it.

pub type Result<T, E = LakeError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// A file in storage could not be read (it is a task's input when it is a Bronze file).
    #[error("cannot read input file {path}: {source}. Check that the file exists and is readable")]
    Input {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot list {pattern}: {message}. Check the location and the access to it")]
    Listing { pattern: String, message: String },

    #[error(
        "cannot create the warehouse folder {path}: {message}. Check the path and its permissions"
    )]
    Warehouse { path: String, message: String },

    #[error(
        "cannot make {path} durable (fsync): {source}. Nothing was committed; check the disk \
         holding the warehouse"
    )]
    Durability {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The catalog flags (or their `FLOE_*` variables) do not describe a catalog.
    #[error("{0}")]
    CatalogSettings(String),

    #[error("catalog error on table {table}: {message}")]
    Catalog { table: String, message: String },

    #[error("iceberg error while {context}: {source}")]
    Iceberg {
        context: String,
        #[source]
        source: Box<iceberg::Error>,
    },

    /// The table's metadata is not what Floe can commit on (format, specs).
    #[error("table {table}: {message}")]
    UnsupportedTable { table: String, message: String },

    /// Rows handed to a data file writer do not have the table's columns.
    #[error("rows do not fit the table schema: {0}")]
    SchemaMismatch(String),

    #[error(
        "commit of task {task} to table {table} gave up after {attempts} attempts: {last_error}. \
         The task can be retried safely; its data files are not visible"
    )]
    CommitExhausted {
        table: String,
        task: String,
        attempts: u32,
        last_error: String,
    },

    #[error(
        "row accounting failed for task {task}: {detail}. This is a bug in Floe; please report it"
    )]
    Accounting { task: String, detail: String },

    #[error("cannot roll back table {table}: {message}")]
    Rollback { table: String, message: String },

    #[error(
        "run {run} was rolled back on table {table}: its tasks may not commit to it again. \
         Submit a new run to load the data again"
    )]
    RunRolledBack { table: String, run: String },

    /// A staged run's branch was removed before the run was published.
    #[error(
        "run {run} staged {partitions} partition(s) of table {table} but its branch {branch} \
         is gone (snapshot expiry removes staging branches older than its age); nothing was \
         published: submit the run again"
    )]
    StagingBranchGone {
        table: String,
        run: String,
        branch: String,
        partitions: usize,
    },

    /// The partition's fence refused the commit: a newer run loaded it (or, for
    /// a quarantine pass, another load replaced the one the pass read).
    #[error(
        "run {run} may no longer write partition `{partition}` of table {table}: {}. \
         Nothing more of this task is committed: the newer load stands",
        by.as_deref().map_or("its load changed since this task read it".to_string(), |b| format!("run {b} loaded it since"))
    )]
    Superseded {
        table: String,
        partition: String,
        run: String,
        /// The run that owns the partition now.
        by: Option<String>,
    },

    /// An append's partition went to another load since its files were
    /// written for the one before; its files are written again on retry.
    #[error(
        "partition `{partition}` of table {table} went to run {owner} while this append \
         wrote its files for the load before; the task is retried and adds to the new load"
    )]
    PartitionChangedHands {
        table: String,
        partition: String,
        owner: String,
    },

    #[error(
        "partition {partition} of table {table} holds delete files another engine wrote \
         (an Athena DELETE or UPDATE, Spark merge-on-read): Floe does not rewrite rows under \
         deletes, as they would come back. Rewrite the partition with that engine first \
         (Spark's rewrite_data_files, Athena's OPTIMIZE ... REWRITE DATA), then run this again"
    )]
    DeletesPresent { table: String, partition: String },

    #[error(
        "{operation} at an age of {age_secs}s is below the safe minimum of {floor_hours}h: \
         {risk}. Use an age of at least {floor_hours}h (the opt-out, `allow_unsafe_ages` in the \
         contract or --allow-unsafe-age, is for tests only)"
    )]
    UnsafeAge {
        operation: &'static str,
        age_secs: u64,
        floor_hours: u64,
        risk: &'static str,
    },

    #[error("maintenance of table {table}: {message}")]
    Maintenance { table: String, message: String },
}

impl LakeError {
    pub fn iceberg(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> Self {
        let context = context.into();
        move |source| LakeError::Iceberg {
            context,
            source: Box::new(source),
        }
    }

    /// True for errors that may pass on their own (a busy catalog, a lost
    /// connection, a listing race): the caller may try again.
    pub fn is_retryable(&self) -> bool {
        match self {
            LakeError::Catalog { .. }
            | LakeError::CommitExhausted { .. }
            | LakeError::PartitionChangedHands { .. } => true,
            LakeError::Iceberg { source, .. } => source.retryable(),
            // A missing or unreadable file may be a listing race or a transient
            // storage fault.
            LakeError::Input { .. } => true,
            _ => false,
        }
    }
}
