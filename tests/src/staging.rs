//! The staged-run tests' vocabulary: a synthetic day-partitioned table
//! (`bench.events`) loaded by runs that commit straight to `main` or to their
//! staging branch, and what each branch then holds; for the end-to-end tests,
//! the example contract with a publish mode, and `main`'s and branches' heads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::files::snapshot_files;
use floe_lake::commit::publish::{publish, staging_branch, PublishOutcome, PublishRequest};
use floe_lake::commit::{commit, Claim, CommitOutcome, CommitRequest, RetryPolicy};
use floe_lake::{Attempt, RunId, TaskId};
use iceberg::spec::{Literal, Struct};
use serde_json::Value;

use crate::checks::contract_path;
use crate::cluster::Cluster;
use crate::commit_bench::{bench_creation, bench_table, data_file};
use crate::readers::cents;
use crate::Lakehouse;

/// Days (since the epoch) the tests load.
pub const DAY_1: i32 = 20_000;
pub const DAY_2: i32 = 20_001;
pub const DAY_3: i32 = 20_002;

/// A lakehouse holding the empty `bench.events` table.
pub async fn lakehouse() -> Lakehouse {
    let lake = Lakehouse::new().await;
    lake.catalog
        .ensure_table(&bench_table(), bench_creation(Default::default()))
        .await
        .expect("create the table");
    lake
}

/// A load of `day` by `run`'s task `task`: one file, replacing the partition;
/// on the run's staging branch when `staged`.
pub async fn load_request(
    catalog: &dyn TableCatalog,
    run: &RunId,
    task: &str,
    day: i32,
    staged: bool,
) -> CommitRequest {
    let table = catalog.load_table(&bench_table()).await.unwrap().unwrap();
    let name = format!("{run}--{task}-{}", uuid::Uuid::new_v4());
    CommitRequest {
        table: bench_table(),
        attempt: Attempt::new(run.clone(), TaskId::new(task), 1),
        contract_version: 1,
        data_files: vec![data_file(&table, &name, day)],
        claim: Claim::Replace(Struct::from_iter([Some(Literal::date(day))])),
        properties: BTreeMap::new(),
        idempotency_key: None,
        branch: staged.then(|| staging_branch(run)),
    }
}

/// Commits [`load_request`].
pub async fn load(
    catalog: &dyn TableCatalog,
    run: &RunId,
    task: &str,
    day: i32,
    staged: bool,
) -> floe_lake::Result<CommitOutcome> {
    let req = load_request(catalog, run, task, day, staged).await;
    commit(catalog, &req, &RetryPolicy::default()).await
}

/// Publishes `run` on `bench.events`, recording a passed audit.
pub async fn publish_run(catalog: &dyn TableCatalog, run: &RunId) -> PublishOutcome {
    let req = PublishRequest {
        table: bench_table(),
        run: run.clone(),
        properties: BTreeMap::from([("floe.audits".to_string(), "passed".to_string())]),
    };
    publish(catalog, &req, &RetryPolicy::default())
        .await
        .expect("publish")
}

/// Day → the runs owning the files live there, on `branch`.
pub async fn owners_by_day(
    catalog: &dyn TableCatalog,
    branch: &str,
) -> BTreeMap<i32, BTreeSet<String>> {
    let table = catalog.load_table(&bench_table()).await.unwrap().unwrap();
    let Some(head) = table.metadata().snapshot_for_ref(branch) else {
        return BTreeMap::new();
    };
    let files = snapshot_files(&table, head).await.unwrap();
    let mut out: BTreeMap<i32, BTreeSet<String>> = BTreeMap::new();
    for f in files.data.values() {
        let day = match f.partition.fields().first() {
            Some(Some(Literal::Primitive(iceberg::spec::PrimitiveLiteral::Int(d)))) => *d,
            other => panic!("unexpected partition {other:?}"),
        };
        let owner = floe_lake::commit::fence::file_owner(f.data_file.file_path()).unwrap();
        out.entry(day).or_default().insert(owner.to_string());
    }
    out
}

/// The owners [`owners_by_day`] returns for one run a day.
pub fn days(entries: &[(i32, &RunId)]) -> BTreeMap<i32, BTreeSet<String>> {
    entries
        .iter()
        .map(|(d, r)| (*d, BTreeSet::from([r.to_string()])))
        .collect()
}

/// The example contract with `publish = mode`, and `extra` at its end.
pub fn contract_publishing(lake: &Lakehouse, mode: &str, extra: &str) -> PathBuf {
    let setting = format!("publish = \"{mode}\"");
    let example = std::fs::read_to_string(contract_path()).unwrap();
    let default = "\npublish = \"auto\"\n";
    assert!(example.contains(default), "the example contract changed");
    let text = example.replacen(default, &format!("\n{setting}\n"), 1);
    let text = format!("{text}\n{extra}\n");
    let path = lake.dir.path().join(format!("{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// `main`'s current snapshot of `table`.
pub async fn main_head(lake: &Lakehouse, table: &str) -> Option<i64> {
    let name = floe_common::contract::TableName::parse(table).unwrap();
    let t = lake.catalog.load_table(&name).await.unwrap()?;
    t.metadata().current_snapshot_id()
}

pub async fn has_branch(lake: &Lakehouse, table: &str, run: &str) -> bool {
    let name = floe_common::contract::TableName::parse(table).unwrap();
    let t = lake.catalog.load_table(&name).await.unwrap().unwrap();
    let branch = staging_branch(&RunId::new(run));
    t.metadata().snapshot_for_ref(&branch).is_some()
}

/// `history`'s entry of `table`'s current snapshot.
pub fn current_snapshot(lake: &Lakehouse, table: &str) -> Value {
    let history = lake.cli_json(&["history", "--table", table, "--json"]);
    history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["current"] == true)
        .expect("a current snapshot")
        .clone()
}

/// `floe-coordinator` with `args`: its stdout when it succeeded, else its stderr.
pub fn cli(cluster: &Cluster, args: &[&str]) -> Result<String, String> {
    let out = cluster.cli(args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if out.status.success() {
        Ok(text(&out.stdout))
    } else {
        Err(text(&out.stderr))
    }
}

/// Waits until a task of the run succeeded while the run is still going.
pub fn wait_for_a_committed_task(cluster: &Cluster, run_id: &str, timeout: Duration) {
    let started = Instant::now();
    loop {
        let run = cluster.status(run_id).expect("the run");
        assert_eq!(run["state"], "running", "the run ended early: {run:#}");
        if run["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["state"] == "succeeded")
        {
            return;
        }
        assert!(started.elapsed() < timeout, "no task succeeded: {run:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Per day of `table` on `main`, by DuckDB: rows and the sum of `column`.
pub fn duckdb_by_day(
    lake: &Lakehouse,
    table: &str,
    day: &str,
    column: &str,
) -> Vec<(String, u64, String)> {
    let sql = format!(
        "SELECT CAST({day} AS VARCHAR) AS day, COUNT(*) AS n, CAST(SUM({column}) AS VARCHAR) AS total \
         FROM {table} GROUP BY ALL ORDER BY day"
    );
    crate::gold::duckdb(lake, &[table], &sql)
        .iter()
        .map(|r| {
            let n = r["n"].as_u64().unwrap();
            (
                r["day"].as_str().unwrap().to_string(),
                n,
                r["total"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A table's diff as [`duckdb_by_day`] rows, for the state before or after.
pub fn diff_by_day(
    diff: &Value,
    table: &str,
    column: &str,
    after: bool,
) -> Vec<(String, u64, String)> {
    let side = if after { "after" } else { "before" };
    let t = diff["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("{table} in the diff: {diff:#}"));
    t["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[format!("rows_{side}")].as_u64() > Some(0))
        .map(|p| {
            let day = p["partition"].as_str().unwrap().rsplit('=').next().unwrap();
            let sum = p["sums"][column][side].as_str().unwrap().to_string();
            (
                day.to_string(),
                p[format!("rows_{side}")].as_u64().unwrap(),
                sum,
            )
        })
        .collect()
}

pub fn money(rows: Vec<(String, u64, String)>) -> Vec<(String, u64, i64)> {
    rows.into_iter()
        .map(|(d, n, s)| (d, n, cents(&s)))
        .collect()
}
