//! The pipeline contract: where Bronze files come from, what a valid row is, and
//! which Iceberg tables receive valid, rejected and duplicate rows.

mod audits;
mod build;
mod error;
mod freshness;
mod json_path;
mod model;
mod names;
mod policy;
mod raw;
mod schedule;
mod source;
mod store;
mod types;

use std::path::{Path, PathBuf};

pub use audits::Audits;
pub use error::ContractError;
pub use freshness::{Freshness, FreshnessCheck};
pub use json_path::{JsonPath, Step};
pub use model::{ModelPartition, ModelSpec, ModelTest};
pub use names::MAX_NAME_CHARS;
pub use policy::parse_age;
pub use schedule::{Schedule, ScheduleLoad};
#[cfg(any(test, feature = "test-support"))]
pub use store::contract_tests;
pub use store::{ContractCache, ContractRef, ContractStore, MemoryContracts, WarehouseContracts};
pub use types::{Bound, DataType, PartitionTransform, TransformKind};
// Tables and their maintenance are the table layer's; a contract names and configures them.
pub use floe_lake::maintenance::MaintenancePolicy;
pub use floe_lake::TableName;

/// A checked, typed contract. Build it with [`Contract::load`] or [`Contract::parse`].
#[derive(Debug, Clone)]
pub struct Contract {
    pub name: String,
    /// Recorded in every snapshot summary as `floe.contract-version`.
    pub version: u32,
    pub source: SourceSpec,
    pub target: TargetSpec,
    /// Column indices of the dedupe key; empty when the contract declares none.
    pub dedupe_key: Vec<usize>,
    pub columns: Vec<ColumnSpec>,
    /// A record longer than this is quarantined without being parsed.
    pub max_record_bytes: usize,
    /// The circuit breaker: a task that quarantines more than this share of its
    /// rows (once it has read `rejection_min_rows`) fails without committing.
    pub max_rejection_rate: Option<f64>,
    pub rejection_min_rows: u64,
    /// A compressed file that decompresses to more than this many times its
    /// size (past the first 64 MiB) is taken for a decompression bomb.
    pub max_expansion: u64,
    /// How the coordinator maintains the pipeline's tables; `None`: it does not.
    pub maintenance: Option<MaintenancePolicy>,
    /// When the coordinator loads the pipeline by itself (registered
    /// pipelines only); `None`: only when asked.
    pub schedule: Option<Schedule>,
    /// How fresh the pipeline's data is expected to be; `None`: no expectation.
    pub freshness: Option<Freshness>,
    /// Gold models over the Silver table, in the order declared.
    pub models: Vec<ModelSpec>,
    /// What a staged run must show before it is published.
    pub audits: Audits,
    /// Where the contract was read from (for messages).
    pub origin: PathBuf,
    /// The contract's text, so a task can carry the exact contract it was planned with.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// One JSON array of objects.
    JsonArray,
    /// Apache Parquet; columns are matched by name.
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Chosen per file by its extension (`.gz`, `.zst`).
    Auto,
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    /// Whether a quoted value may hold a line break (the default). Only a
    /// file whose values never do can be cut at newlines into byte ranges.
    pub newlines_in_values: bool,
}

#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// A location template with `{date}`, `{year}`, `{month}`, `{day}` placeholders.
    pub location: String,
    pub format: SourceFormat,
    pub compression: Compression,
    pub csv: CsvOptions,
    /// Registered pipelines only: new files are found and appended as they
    /// land; `None`: only runs load the pipeline.
    pub continuous: Option<Continuous>,
}

/// How a continuous pipeline finds new Bronze files (`source.poll`,
/// `source.events`, `source.poll_days`, `source.window`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuous {
    /// How often the newest days' folders are listed, if they are.
    pub poll: Option<std::time::Duration>,
    /// The name of the SQS queue of the Bronze bucket's S3 notifications.
    pub events: Option<String>,
    /// How many days back, today (UTC) included, are listed.
    pub poll_days: u32,
    /// New files gather this long, then one append run loads them.
    pub window: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub table: TableName,
    pub partition: Option<PartitionTransform>,
    pub schema_version: u32,
    pub quarantine_table: TableName,
    pub condemned_table: TableName,
    pub target_file_size_bytes: u64,
    /// Silver rows carry their origin (Bronze file and line, run, task,
    /// attempt) in the `_floe_*` lineage columns.
    pub lineage: bool,
    /// When a run's rows become visible on the tables' `main`.
    pub publish: Publish,
}

/// When a run's rows become visible to readers of the tables' `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Each task's commits go to `main` as the task finishes.
    Direct,
    /// The run's tasks commit to its own branch (`floe/<run id>`) of each
    /// table; when every task succeeded, the coordinator publishes the run's
    /// partitions to `main`, one snapshot per table, Silver first and Gold last.
    /// The default.
    Auto,
    /// Staged as `Auto`, audited, then held until an operator approves the
    /// publish (`floe-coordinator publish RUN --approve`) or discards the run.
    Manual,
}

impl Publish {
    /// True when runs commit to their own branch, not to `main`.
    pub fn staged(&self) -> bool {
        !matches!(self, Publish::Direct)
    }
}

#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub data_type: DataType,
    pub required: bool,
    pub min: Option<Bound>,
    pub max: Option<Bound>,
    pub regex: Option<regex::Regex>,
    /// Allowed values (for enums, the enum's values).
    pub allowed: Option<Vec<String>>,
    /// Maximum length in characters.
    pub max_length: Option<usize>,
    /// chrono format strings for date and timestamp columns; empty means ISO 8601.
    pub formats: Vec<String>,
    /// JSON sources: where the value sits in a nested record; None reads the
    /// top-level key `name`.
    pub path: Option<JsonPath>,
    /// What the column means: the Iceberg field's doc, which Glue shows as the
    /// column's comment (the data dictionary Athena users read).
    pub description: Option<String>,
    /// The column's name in the table before this contract version: it keeps
    /// its Iceberg field id, so its data stays with it.
    pub renamed_from: Option<String>,
}

impl Contract {
    /// Reads and checks a contract file.
    pub fn load(path: &Path) -> Result<Self, ContractError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Unreadable {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Checks contract text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ContractError> {
        build::build(text, origin)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests;
