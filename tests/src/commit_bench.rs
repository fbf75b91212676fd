//! The pieces of `floe-bench-commits`: a bench table shaped like a Silver
//! table (a day partition, a dozen columns with statistics), data files for it
//! that nobody reads, and one timed commit through Floe's commit layer.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_lake::catalog::{GlueCatalog, SqlCatalog, TableCatalog};
use floe_lake::commit::{commit, Claim, CommitObserver, CommitRequest, RetryPolicy};
use floe_lake::{Attempt, RunId, TableName, TaskId};
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, Datum, Literal, NestedField,
    PrimitiveType, Schema, Struct, Transform, Type, UnboundPartitionSpec,
};
use iceberg::TableCreation;

/// Columns besides `ts`, each with statistics in every manifest entry, as a
/// Silver table's columns have.
const VALUE_COLUMNS: i32 = 11;

/// Where the bench commits: the embedded SQLite catalog or Glue (moto).
#[derive(Debug, Clone)]
pub enum BenchCatalog {
    Sqlite { lakehouse: std::path::PathBuf },
    Glue { endpoint: String, bucket: String },
}

impl BenchCatalog {
    pub async fn open(&self) -> Arc<dyn TableCatalog> {
        match self {
            Self::Sqlite { lakehouse } => Arc::new(
                SqlCatalog::open(
                    crate::CATALOG_NAME,
                    &lakehouse.join("catalog.db"),
                    &lakehouse.join("warehouse"),
                )
                .await
                .expect("open the SQLite catalog"),
            ),
            Self::Glue { endpoint, bucket } => Arc::new(
                GlueCatalog::open(
                    crate::CATALOG_NAME,
                    &format!("s3://{bucket}/warehouse"),
                    &crate::moto::sdk_config_at(endpoint).await,
                )
                .await
                .expect("open the Glue catalog"),
            ),
        }
    }

    /// The flags a committer process gets to open the same catalog.
    pub fn flags(&self) -> Vec<String> {
        match self {
            Self::Sqlite { lakehouse } => vec![
                "--catalog".into(),
                "sqlite".into(),
                "--lakehouse".into(),
                lakehouse.display().to_string(),
            ],
            Self::Glue { endpoint, bucket } => vec![
                "--catalog".into(),
                "glue".into(),
                "--endpoint".into(),
                endpoint.clone(),
                "--bucket".into(),
                bucket.clone(),
            ],
        }
    }
}

pub fn bench_table() -> TableName {
    TableName::parse("bench.events").expect("bench table name")
}

/// `bench.events`: `ts` partitioned by day, and [`VALUE_COLUMNS`] longs;
/// `properties` on top of Floe's usual ones.
pub fn bench_creation(properties: HashMap<String, String>) -> TableCreation {
    let mut fields =
        vec![NestedField::required(1, "ts", Type::Primitive(PrimitiveType::Timestamptz)).into()];
    for id in 2..2 + VALUE_COLUMNS {
        fields.push(
            NestedField::optional(id, format!("v{id}"), Type::Primitive(PrimitiveType::Long))
                .into(),
        );
    }
    let schema = Schema::builder()
        .with_fields(fields)
        .build()
        .expect("bench schema");
    let spec = UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(1, "ts_day", Transform::Day)
        .expect("bench partition field")
        .build();
    let mut props = HashMap::from([("write.format.default".to_string(), "parquet".to_string())]);
    props.extend(properties);
    TableCreation::builder()
        .name(bench_table().name)
        .schema(schema)
        .partition_spec(spec)
        .properties(props)
        .build()
}

/// A data file of day `day` (days since the epoch) with statistics for every
/// column. On a local warehouse a placeholder exists at its path (commits make
/// the files they add durable); on S3 nothing is written: nobody reads it.
pub fn data_file(table: &iceberg::table::Table, name: &str, day: i32) -> DataFile {
    let path = format!("{}/data/{name}.parquet", table.metadata().location());
    if let Some(local) = path.strip_prefix("file://") {
        let local = std::path::Path::new(local);
        std::fs::create_dir_all(local.parent().expect("a data folder")).expect("the data folder");
        std::fs::write(local, b"placeholder").expect("write the data file");
    }
    let rows = 100_000u64;
    let ids = 1..2 + VALUE_COLUMNS;
    let day_us = i64::from(day) * 86_400_000_000;
    let mut lower = HashMap::from([(1, Datum::timestamptz_micros(day_us))]);
    let mut upper = HashMap::from([(1, Datum::timestamptz_micros(day_us + 86_399_999_999))]);
    for id in 2..2 + VALUE_COLUMNS {
        lower.insert(id, Datum::long(i64::from(day) * 1_000));
        upper.insert(id, Datum::long(i64::from(day) * 1_000 + 999_999));
    }
    DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path(path)
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::from_iter([Some(Literal::date(day))]))
        .partition_spec_id(table.metadata().default_partition_spec_id())
        .record_count(rows)
        .file_size_in_bytes(64 * 1024 * 1024)
        .column_sizes(ids.clone().map(|id| (id, 4 * 1024 * 1024)).collect())
        .value_counts(ids.clone().map(|id| (id, rows)).collect())
        .null_value_counts(ids.clone().map(|id| (id, 0)).collect())
        .lower_bounds(lower)
        .upper_bounds(upper)
        .build()
        .expect("data file")
}

/// Counts the retries of the commits it observes.
#[derive(Debug, Default)]
pub struct RetryCounter(AtomicU64);

impl RetryCounter {
    pub fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

impl CommitObserver for RetryCounter {
    fn commit_finished(&self, _seconds: f64) {}

    fn commit_retried(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A retry policy that outlasts heavy contention, reporting to `retries`.
pub fn patient_policy(retries: Arc<RetryCounter>) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1_000,
        observer: Some(retries),
        ..RetryPolicy::default()
    }
}

/// One commit's figures.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub latency: Duration,
    pub retries: u64,
}

/// Loads day `day` as run `run`: one data file replacing the partition. The
/// latency is the commit's, from its first table load to the swap.
pub async fn load_day(
    catalog: &dyn TableCatalog,
    policy: &RetryPolicy,
    retries: &RetryCounter,
    run: &str,
    day: i32,
) -> Timed {
    let table = catalog
        .load_table(&bench_table())
        .await
        .expect("load the bench table")
        .expect("the bench table exists");
    let request = CommitRequest {
        table: bench_table(),
        attempt: Attempt::new(RunId::new(run), TaskId::new(format!("day-{day}")), 1),
        contract_version: 1,
        data_files: vec![data_file(&table, &format!("{run}--day-{day}"), day)],
        claim: Claim::Replace(Struct::from_iter([Some(Literal::date(day))])),
        properties: BTreeMap::new(),
        idempotency_key: None,
        branch: None,
    };
    let started = Instant::now();
    commit(catalog, &request, policy)
        .await
        .unwrap_or_else(|e| panic!("commit of day {day} by {run}: {e}"));
    Timed {
        latency: started.elapsed(),
        retries: retries.take(),
    }
}

/// The value at quantile `q` (0..=1) of `sorted`.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
