//! The catalog contract suite: every [`TableCatalog`] implementation must pass it.
//! Each check takes a fresh catalog and a table name that does not exist yet.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::TryStreamExt;
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, Literal, Struct,
    TableMetadataBuilder,
};
use iceberg::MetadataLocation;

use super::{SwapOutcome, TableCatalog};
use crate::commit::{commit, CommitOutcome, CommitRequest, ReplaceScope, RetryPolicy};
use crate::contract::{Contract, TableName};
use crate::ids::{RunId, TaskId};
use crate::table::{table_creation, TableRole};

const CONTRACT: &str = r#"
[pipeline]
name = "contract_suite"
version = 1
[source]
location = "x/{date}/*.csv"
format = "csv"
[target]
table = "suite.events"
partition = "day(ts)"
quarantine_table = "suite.events_quarantine"
condemned_table = "suite.events_condemned"
[[columns]]
name = "ts"
type = "timestamptz"
required = true
"#;

fn contract() -> Contract {
    Contract::parse(CONTRACT, std::path::Path::new("contract-suite.toml")).expect("suite contract")
}

/// Writes a copy of the table's metadata with one property changed, at the next
/// version, and returns its location.
async fn next_metadata(
    catalog: &dyn TableCatalog,
    name: &TableName,
    key: &str,
) -> (String, String) {
    let table = catalog.load_table(name).await.unwrap().unwrap();
    let current = table.metadata_location().unwrap().to_string();
    let meta =
        TableMetadataBuilder::new_from_metadata(table.metadata().clone(), Some(current.clone()))
            .set_properties(HashMap::from([(key.to_string(), "1".to_string())]))
            .unwrap()
            .build()
            .unwrap()
            .metadata;
    let location = current
        .parse::<MetadataLocation>()
        .unwrap()
        .with_next_version()
        .with_new_metadata(&meta);
    meta.write_to(table.file_io(), &location).await.unwrap();
    (current, location.to_string())
}

pub async fn missing_table_loads_as_none(catalog: &dyn TableCatalog) {
    let c = contract();
    assert!(catalog.load_table(&c.target.table).await.unwrap().is_none());
}

pub async fn ensure_table_creates_once(catalog: &dyn TableCatalog) {
    let c = contract();
    let name = &c.target.table;
    let first = catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    let again = catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    assert_eq!(first.metadata_location(), again.metadata_location());
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata().uuid(), first.metadata().uuid());
    assert_eq!(loaded.metadata().default_partition_spec().fields().len(), 1);
}

pub async fn swap_is_compare_and_swap(catalog: &dyn TableCatalog) {
    let c = contract();
    let name = &c.target.table;
    catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    let (old, new) = next_metadata(catalog, name, "a").await;
    assert_eq!(
        catalog.swap_metadata(name, &old, &new).await.unwrap(),
        SwapOutcome::Swapped
    );
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata_location(), Some(new.as_str()));
    // A stale expectation changes nothing.
    let (_, other) = next_metadata(catalog, name, "b").await;
    assert_eq!(
        catalog.swap_metadata(name, &old, &other).await.unwrap(),
        SwapOutcome::Conflict
    );
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata_location(), Some(new.as_str()));
}

/// Many swaps from the same base: exactly one wins.
pub async fn racing_swaps_have_one_winner(catalog: &dyn TableCatalog) {
    let c = contract();
    let name = &c.target.table;
    catalog
        .ensure_table(name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    let mut candidates = Vec::new();
    for i in 0..8 {
        candidates.push(next_metadata(catalog, name, &format!("k{i}")).await);
    }
    let swaps = candidates
        .iter()
        .map(|(old, new)| catalog.swap_metadata(name, old, new));
    let outcomes = futures::future::join_all(swaps).await;
    let winners = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(SwapOutcome::Swapped)))
        .count();
    assert_eq!(winners, 1, "{outcomes:?}");
}

/// A data file entry for the suite's table in day partition `day` (days since
/// the epoch). The commit layer only records it; nothing reads its contents.
fn data_file(table: &iceberg::table::Table, name: &str, day: i32, rows: u64) -> DataFile {
    DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path(format!(
            "{}/data/{name}.parquet",
            table.metadata().location()
        ))
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::from_iter([Some(Literal::date(day))]))
        .partition_spec_id(table.metadata().default_partition_spec_id())
        .record_count(rows)
        .file_size_in_bytes(1024)
        .build()
        .expect("data file")
}

fn request(
    table: &TableName,
    run: &RunId,
    task: &str,
    files: Vec<DataFile>,
    replace_day: Option<i32>,
) -> CommitRequest {
    CommitRequest {
        table: table.clone(),
        run_id: run.clone(),
        task_id: TaskId::new(task),
        attempt: 1,
        contract_version: 1,
        data_files: files,
        replace: replace_day.map(|d| ReplaceScope {
            partition: Struct::from_iter([Some(Literal::date(d))]),
        }),
        properties: BTreeMap::new(),
    }
}

/// The data files `main` holds now, by file name.
async fn live_files(catalog: &dyn TableCatalog, name: &TableName) -> BTreeSet<String> {
    let table = catalog.load_table(name).await.unwrap().unwrap();
    let tasks: Vec<_> = table
        .scan()
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    tasks
        .iter()
        .map(|t| t.data_file_path.rsplit('/').next().unwrap().to_string())
        .collect()
}

async fn created_table(catalog: &dyn TableCatalog) -> (TableName, iceberg::table::Table) {
    let c = contract();
    let name = c.target.table.clone();
    let table = catalog
        .ensure_table(&name, table_creation(TableRole::Silver, &c).unwrap())
        .await
        .unwrap();
    (name, table)
}

/// A commit through the commit layer is visible; committing the same task of the
/// same run again (a redelivery, with other files) changes nothing.
pub async fn recommitting_a_task_is_a_no_op(catalog: &dyn TableCatalog) {
    let (name, table) = created_table(catalog).await;
    let run = RunId::generate();
    let policy = RetryPolicy::default();
    let first = commit(
        catalog,
        &request(&name, &run, "t1", vec![data_file(&table, "a", 1, 10)], None),
        &policy,
    )
    .await
    .unwrap();
    assert!(
        matches!(first, CommitOutcome::Committed { .. }),
        "{first:?}"
    );
    let mut again = request(&name, &run, "t1", vec![data_file(&table, "b", 1, 10)], None);
    again.attempt = 2;
    let second = commit(catalog, &again, &policy).await.unwrap();
    assert_eq!(
        second,
        CommitOutcome::AlreadyCommitted {
            snapshot_id: first.snapshot_id().unwrap()
        }
    );
    assert_eq!(
        live_files(catalog, &name).await,
        BTreeSet::from(["a.parquet".into()])
    );
    let loaded = catalog.load_table(&name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata().snapshots().count(), 1);
}

/// A replacing run's commit removes what other runs wrote in its partition only.
pub async fn a_replace_swaps_one_partition(catalog: &dyn TableCatalog) {
    let (name, table) = created_table(catalog).await;
    let policy = RetryPolicy::default();
    let (old, new) = (RunId::generate(), RunId::generate());
    for (task, file, day) in [("d1", "old-1", 1), ("d2", "old-2", 2)] {
        let req = request(
            &name,
            &old,
            task,
            vec![data_file(&table, file, day, 5)],
            Some(day),
        );
        commit(catalog, &req, &policy).await.unwrap();
    }
    let req = request(
        &name,
        &new,
        "d1",
        vec![data_file(&table, "new-1", 1, 7)],
        Some(1),
    );
    let outcome = commit(catalog, &req, &policy).await.unwrap();
    assert!(
        matches!(outcome, CommitOutcome::Committed { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        live_files(catalog, &name).await,
        BTreeSet::from(["new-1.parquet".into(), "old-2.parquet".into()])
    );
    let loaded = catalog.load_table(&name).await.unwrap().unwrap();
    let current = loaded.metadata().current_snapshot().unwrap();
    assert_eq!(
        current.summary().operation,
        iceberg::spec::Operation::Overwrite
    );
}
