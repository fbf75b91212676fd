//! The contract file as written: plain serde structs, checked and typed by `super::build`.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContract {
    pub pipeline: RawPipeline,
    pub source: RawSource,
    pub target: RawTarget,
    #[serde(default)]
    pub dedupe: Option<RawDedupe>,
    #[serde(default)]
    pub limits: Option<RawLimits>,
    #[serde(default)]
    pub maintenance: Option<RawMaintenance>,
    #[serde(default)]
    pub schedule: Option<super::schedule::RawSchedule>,
    #[serde(default)]
    pub freshness: Option<super::freshness::RawFreshness>,
    #[serde(default)]
    pub audits: Option<super::audits::RawAudits>,
    pub columns: Vec<RawColumn>,
    #[serde(default)]
    pub models: Vec<RawModel>,
}

/// A Gold model (`[[models]]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub name: String,
    pub table: String,
    #[serde(default)]
    pub partition: Option<String>,
    /// Spanned: an error in the SQL is reported at its line in the contract.
    pub sql: toml::Spanned<String>,
    #[serde(default)]
    pub tests: Vec<RawModelTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "snake_case")]
pub enum RawModelTest {
    NotNull { columns: Vec<String> },
    Unique { columns: Vec<String> },
    AcceptedValues { column: String, values: Vec<String> },
    Reconcile { gold: String, silver: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub every: String,
    #[serde(default)]
    pub compact_min_files: Option<i64>,
    #[serde(default)]
    pub expire_older_than: Option<String>,
    #[serde(default)]
    pub retain_last: Option<i64>,
    #[serde(default)]
    pub orphan_older_than: Option<String>,
    /// Accept ages below the safe minimums (tests only).
    #[serde(default)]
    pub allow_unsafe_ages: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub name: String,
    pub version: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub location: String,
    pub format: String,
    #[serde(default)]
    pub compression: Option<String>,
    #[serde(default)]
    pub csv: Option<RawCsv>,
    /// Continuous loads (registered pipelines): list for new files this often.
    #[serde(default)]
    pub poll: Option<String>,
    /// Continuous loads from the Bronze bucket's S3 notifications on this SQS queue.
    #[serde(default)]
    pub events: Option<String>,
    #[serde(default)]
    pub poll_days: Option<i64>,
    #[serde(default)]
    pub window: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCsv {
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub quote: Option<String>,
    #[serde(default)]
    pub newlines_in_values: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub table: String,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub schema_version: Option<i64>,
    pub quarantine_table: String,
    pub condemned_table: String,
    #[serde(default)]
    pub target_file_size_mb: Option<i64>,
    #[serde(default)]
    pub lineage: Option<bool>,
    #[serde(default)]
    pub publish: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDedupe {
    pub key: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default)]
    pub max_record_bytes: Option<i64>,
    #[serde(default)]
    pub max_rejection_rate: Option<f64>,
    #[serde(default)]
    pub rejection_min_rows: Option<i64>,
    #[serde(default)]
    pub max_expansion: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default)]
    pub required: Option<bool>,
    #[serde(default)]
    pub min: Option<toml::Value>,
    #[serde(default)]
    pub max: Option<toml::Value>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
    #[serde(default)]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub max_length: Option<i64>,
    #[serde(default)]
    pub formats: Option<Vec<String>>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub renamed_from: Option<String>,
}
