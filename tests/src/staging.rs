//! A synthetic day-partitioned table (`bench.events`) loaded by runs that
//! commit straight to `main` or to their staging branch, and what each branch
//! then holds: the staged-run protocol tests' vocabulary.

use std::collections::{BTreeMap, BTreeSet};

use floe_lake::catalog::TableCatalog;
use floe_lake::commit::files::snapshot_files;
use floe_lake::commit::publish::{publish, staging_branch, PublishOutcome, PublishRequest};
use floe_lake::commit::{commit, Claim, CommitOutcome, CommitRequest, RetryPolicy};
use floe_lake::{Attempt, RunId, TaskId};
use iceberg::spec::{Literal, Struct};

use crate::commit_bench::{bench_creation, bench_table, data_file};
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
