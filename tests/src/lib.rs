//! Shared harness for Floe's integration tests: a throwaway lakehouse (Bronze
//! folder, warehouse, SQLite catalog), sample data, and readers that count what
//! the tables hold.

pub mod bench_run;
pub mod chaos;
pub mod checks;
pub mod cluster;
pub mod commit_bench;
pub mod fresh;
pub mod gold;
pub mod interleave;
pub mod loads;
pub mod moto;
pub mod readers;
pub mod scrape;
pub mod splittable;
pub mod staging;
pub mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Decimal128Array, StringArray, TimestampMicrosecondArray};
use floe_common::contract::{Contract, TableName};
use floe_common::task::TaskSpec;
use floe_lake::catalog::{SqlCatalog, TableCatalog};
use floe_lake::{RunId, TaskId};
use floe_sample::{GroundTruth, SampleConfig};
use futures::TryStreamExt;

pub const CATALOG_NAME: &str = "floe";

/// A lakehouse in a temporary folder, removed when dropped.
pub struct Lakehouse {
    pub dir: tempfile::TempDir,
    pub catalog: Arc<SqlCatalog>,
}

impl Lakehouse {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Arc::new(open_catalog(dir.path()).await);
        Self { dir, catalog }
    }

    pub fn bronze(&self) -> PathBuf {
        self.dir.path().join("bronze")
    }

    pub fn warehouse(&self) -> PathBuf {
        self.dir.path().join("warehouse")
    }

    pub fn catalog_db(&self) -> PathBuf {
        self.dir.path().join("catalog.db")
    }

    /// A second, independent connection to the same catalog (as another worker has).
    pub async fn another_catalog(&self) -> Arc<SqlCatalog> {
        Arc::new(open_catalog(self.dir.path()).await)
    }

    /// Generates a month of sample Bronze data.
    pub fn generate(&self, cfg: &SampleConfig) -> GroundTruth {
        floe_sample::generate(&self.bronze(), cfg).expect("generate sample data")
    }

    /// Runs a `floe-coordinator` command that prints JSON on this lakehouse's
    /// catalog (`--lakehouse`); panics with its stderr if it fails.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let out = std::process::Command::new(cluster::binary("floe-coordinator"))
            .args(args)
            .arg("--lakehouse")
            .arg(self.dir.path())
            .output()
            .expect("run floe-coordinator");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }
}

async fn open_catalog(root: &Path) -> SqlCatalog {
    SqlCatalog::open(
        CATALOG_NAME,
        &root.join("catalog.db"),
        &root.join("warehouse"),
    )
    .await
    .expect("open catalog")
}

/// The `--name N` flags of a suite binary, each with its default; panics with
/// the flags it knows on anything else.
pub fn suite_flags<const N: usize>(defaults: [(&str, u64); N]) -> [u64; N] {
    let mut values = defaults.map(|(_, v)| v);
    let known: Vec<String> = defaults.iter().map(|(f, _)| format!("--{f} N")).collect();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let Some(i) = defaults.iter().position(|(f, _)| flag == format!("--{f}")) else {
            panic!("unknown flag {flag}; flags: {}", known.join(" "));
        };
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        values[i] = value
            .parse()
            .unwrap_or_else(|_| panic!("{flag} takes a number"));
    }
    values
}

/// The example contract shipped in the repository.
pub fn example_contract() -> Arc<Contract> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/transactions.toml");
    Arc::new(Contract::load(&path).expect("example contract"))
}

/// A small sample month: few rows, high defect rates so every kind appears.
pub fn small_sample(rows: u64) -> SampleConfig {
    SampleConfig {
        rows,
        files_per_day: 2,
        bad_row_rate: 0.05,
        duplicate_rate: 0.02,
        ..SampleConfig::default()
    }
}

/// The task that loads one day of the sample, as the planner would make it.
pub fn day_task(
    lake: &Lakehouse,
    contract: &Arc<Contract>,
    truth: &GroundTruth,
    day: &str,
    run: &RunId,
) -> TaskSpec {
    TaskSpec {
        attempt: floe_lake::Attempt::first(
            run.clone(),
            TaskId::new(format!("{}-{day}", contract.name)),
        ),
        contract: contract.clone(),
        inputs: truth.days[day]
            .files
            .iter()
            .map(|f| lake.bronze().join(f).display().to_string())
            .collect(),
        fingerprints: Default::default(),
        ranges: Default::default(),
        partition: Some(day.to_string()),
        trace_context: Default::default(),
        gold: None,
        dedupe: None,
        pass: None,
        append: false,
        staged: false,
    }
}

/// Rows and sum of `amount` (in cents) per UTC day of `ts`, read back through iceberg.
pub async fn silver_by_day(
    catalog: &dyn TableCatalog,
    table: &TableName,
) -> BTreeMap<String, (u64, i64)> {
    silver_by_day_at(catalog, table, None).await
}

/// [`silver_by_day`] as of a snapshot (`None`: `main`'s current one).
pub async fn silver_by_day_at(
    catalog: &dyn TableCatalog,
    table: &TableName,
    snapshot: Option<i64>,
) -> BTreeMap<String, (u64, i64)> {
    let mut out = BTreeMap::new();
    for batch in scan_at(catalog, table, snapshot).await {
        let ts = column::<TimestampMicrosecondArray>(&batch, "ts");
        let amount = column::<Decimal128Array>(&batch, "amount");
        for i in 0..batch.num_rows() {
            let day = chrono_day(ts.value(i));
            let e = out.entry(day).or_insert((0u64, 0i64));
            e.0 += 1;
            e.1 += amount.value(i) as i64;
        }
    }
    out
}

/// What the three tables of a contract hold on `main`: Silver rows and cents
/// per day, and quarantined and condemned rows per day.
pub type Tables = (
    BTreeMap<String, (u64, i64)>,
    BTreeMap<String, u64>,
    BTreeMap<String, u64>,
);

pub async fn three_tables(catalog: &dyn TableCatalog, contract: &Contract) -> Tables {
    (
        silver_by_day(catalog, &contract.target.table).await,
        rows_by_source_partition(catalog, &contract.target.quarantine_table).await,
        rows_by_source_partition(catalog, &contract.target.condemned_table).await,
    )
}

/// Rows per `source_partition` of a quarantine or condemned table.
pub async fn rows_by_source_partition(
    catalog: &dyn TableCatalog,
    table: &TableName,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for batch in scan(catalog, table).await {
        let p = column::<StringArray>(&batch, "source_partition");
        for i in 0..batch.num_rows() {
            *out.entry(p.value(i).to_string()).or_insert(0) += 1;
        }
    }
    out
}

pub async fn scan(catalog: &dyn TableCatalog, table: &TableName) -> Vec<arrow_array::RecordBatch> {
    scan_at(catalog, table, None).await
}

/// Every row of `table` as of `snapshot` (`None`: `main`'s current snapshot).
pub async fn scan_at(
    catalog: &dyn TableCatalog,
    table: &TableName,
    snapshot: Option<i64>,
) -> Vec<arrow_array::RecordBatch> {
    let Some(t) = catalog.load_table(table).await.expect("load") else {
        return Vec::new();
    };
    if snapshot.is_none() && t.metadata().current_snapshot().is_none() {
        return Vec::new();
    }
    let scan = t.scan().select_all();
    let scan = match snapshot {
        Some(id) => scan.snapshot_id(id),
        None => scan,
    };
    scan.build()
        .expect("scan")
        .to_arrow()
        .await
        .expect("to_arrow")
        .try_collect()
        .await
        .expect("read batches")
}

pub fn column<'a, T: 'static>(batch: &'a arrow_array::RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
}

fn chrono_day(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .expect("timestamp in range")
        .date_naive()
        .to_string()
}

/// Loads a table that must exist.
#[async_trait::async_trait]
pub trait LoadExisting {
    async fn load_table_ok(&self, table: &TableName) -> iceberg::table::Table;
}

#[async_trait::async_trait]
impl<C: TableCatalog + ?Sized> LoadExisting for C {
    async fn load_table_ok(&self, table: &TableName) -> iceberg::table::Table {
        self.load_table(table)
            .await
            .expect("load")
            .expect("table exists")
    }
}

/// A catalog whose pointer swaps take effect and then report an error, as a
/// timeout after the request was sent would: the outcome is unknown to the caller.
#[derive(Debug)]
pub struct SwapThenFail {
    inner: Arc<SqlCatalog>,
    failures: std::sync::atomic::AtomicUsize,
}

impl SwapThenFail {
    pub fn new(inner: Arc<SqlCatalog>) -> Self {
        Self {
            inner,
            failures: Default::default(),
        }
    }

    pub fn failures(&self) -> usize {
        self.failures.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl TableCatalog for SwapThenFail {
    async fn load_table(
        &self,
        name: &TableName,
    ) -> floe_lake::Result<Option<iceberg::table::Table>> {
        self.inner.load_table(name).await
    }

    async fn ensure_table(
        &self,
        name: &TableName,
        creation: iceberg::TableCreation,
    ) -> floe_lake::Result<iceberg::table::Table> {
        self.inner.ensure_table(name, creation).await
    }

    async fn swap_metadata(
        &self,
        name: &TableName,
        expected: &str,
        new: &str,
    ) -> floe_lake::Result<floe_lake::catalog::SwapOutcome> {
        self.inner.swap_metadata(name, expected, new).await?;
        self.failures
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(floe_lake::LakeError::Catalog {
            table: name.to_string(),
            message: "connection reset after the request was sent".into(),
        })
    }

    async fn schema_changed(
        &self,
        name: &TableName,
        metadata: &iceberg::spec::TableMetadata,
    ) -> floe_lake::Result<()> {
        self.inner.schema_changed(name, metadata).await
    }
}

/// Peak resident set size in MiB of a process (`"self"` or a pid), from /proc (Linux).
pub fn peak_rss_mib(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}
