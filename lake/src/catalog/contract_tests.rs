//! The catalog contract suite: every [`TableCatalog`] implementation must pass it.
//! Each check takes a fresh catalog and a table name that does not exist yet.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::TryStreamExt;
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, Literal, NestedField,
    PrimitiveType, Schema, Struct, TableMetadataBuilder, Transform, Type, UnboundPartitionSpec,
};
use iceberg::MetadataLocation;
use iceberg::TableCreation;

use super::{SwapOutcome, TableCatalog};
use crate::commit::{commit, fence, Claim, CommitOutcome, CommitRequest, RetryPolicy};
use crate::error::LakeError;
use crate::ids::{Attempt, RunId, TaskId};
use crate::TableName;

/// The suite's table: `suite.events`, one required `ts` column, partitioned by `day(ts)`.
fn suite_table() -> TableName {
    TableName::parse("suite.events").expect("suite table name")
}

fn suite_creation() -> TableCreation {
    let schema = Schema::builder()
        .with_fields(vec![NestedField::required(
            1,
            "ts",
            Type::Primitive(PrimitiveType::Timestamptz),
        )
        .into()])
        .build()
        .expect("suite schema");
    let spec = UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(1, "ts_day", Transform::Day)
        .expect("suite partition field")
        .build();
    TableCreation::builder()
        .name(suite_table().name)
        .schema(schema)
        .partition_spec(spec)
        .properties(HashMap::from([(
            "write.format.default".to_string(),
            "parquet".to_string(),
        )]))
        .build()
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
    assert!(catalog.load_table(&suite_table()).await.unwrap().is_none());
}

pub async fn ensure_table_creates_once(catalog: &dyn TableCatalog) {
    let name = &suite_table();
    let first = catalog.ensure_table(name, suite_creation()).await.unwrap();
    let again = catalog.ensure_table(name, suite_creation()).await.unwrap();
    assert_eq!(first.metadata_location(), again.metadata_location());
    let loaded = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(loaded.metadata().uuid(), first.metadata().uuid());
    assert_eq!(loaded.metadata().default_partition_spec().fields().len(), 1);
}

pub async fn swap_is_compare_and_swap(catalog: &dyn TableCatalog) {
    let name = &suite_table();
    catalog.ensure_table(name, suite_creation()).await.unwrap();
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
    let name = &suite_table();
    catalog.ensure_table(name, suite_creation()).await.unwrap();
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
/// A data file of the suite's table. Its bytes are a placeholder (the suite
/// reads no rows); on a local warehouse it exists, as a commit makes every
/// file it adds durable first (object stores are not asked).
fn data_file(table: &iceberg::table::Table, name: &str, day: i32, rows: u64) -> DataFile {
    let path = format!("{}/data/{name}.parquet", table.metadata().location());
    if let Some(local) = path.strip_prefix("file://") {
        let local = std::path::Path::new(local);
        std::fs::create_dir_all(local.parent().unwrap()).expect("the data folder");
        std::fs::write(local, b"placeholder").expect("write the data file");
    }
    DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path(path)
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
        attempt: Attempt::new(run.clone(), TaskId::new(task), 1),
        contract_version: 1,
        data_files: files,
        claim: replace_day.map_or(Claim::None, |d| {
            Claim::Replace(Struct::from_iter([Some(Literal::date(d))]))
        }),
        properties: BTreeMap::new(),
        idempotency_key: None,
        branch: None,
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
    let name = suite_table();
    let table = catalog.ensure_table(&name, suite_creation()).await.unwrap();
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
    again.attempt.number = 2;
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

/// A file of `run`'s load, named as the data path names them.
fn owned_file(table: &iceberg::table::Table, run: &RunId, name: &str, day: i32) -> DataFile {
    data_file(table, &fence::file_prefix(run, name), day, 5)
}

fn names(run: &RunId, files: &[&str]) -> BTreeSet<String> {
    files
        .iter()
        .map(|f| format!("{}.parquet", fence::file_prefix(run, f)))
        .collect()
}

/// Two runs' tasks of one split partition interleave (A1, B1, A2, B2) and a
/// straggler of the older run comes last: the partition holds exactly the
/// newer run's load, the older run's late commits are refused, and the fence
/// names the owner on the table itself.
pub async fn a_newer_run_fences_its_partition(catalog: &dyn TableCatalog) {
    let (name, table) = created_table(catalog).await;
    let policy = RetryPolicy::default();
    let (a, b) = (RunId::generate(), RunId::generate());
    let load = |run: &RunId, task: &str, day: i32| {
        request(
            &name,
            run,
            task,
            vec![owned_file(&table, run, task, day)],
            Some(day),
        )
    };
    commit(catalog, &load(&a, "a1", 1), &policy).await.unwrap();
    commit(catalog, &load(&b, "b1", 1), &policy).await.unwrap();
    let refused = commit(catalog, &load(&a, "a2", 1), &policy).await;
    match refused {
        Err(LakeError::Superseded { by, run, .. }) => {
            assert_eq!(by.as_deref(), Some(b.as_str()));
            assert_eq!(run, a.to_string());
        }
        other => panic!("the older run's commit must be refused: {other:?}"),
    }
    commit(catalog, &load(&b, "b2", 1), &policy).await.unwrap();
    // The older run still loads partitions nobody newer has claimed.
    commit(catalog, &load(&a, "a3", 2), &policy).await.unwrap();
    let straggler = commit(catalog, &load(&a, "a4", 1), &policy).await;
    assert!(
        matches!(straggler, Err(LakeError::Superseded { .. })),
        "{straggler:?}"
    );
    let mut expected = names(&b, &["b1", "b2"]);
    expected.extend(names(&a, &["a3"]));
    assert_eq!(live_files(catalog, &name).await, expected);
    let loaded = catalog.load_table(&name).await.unwrap().unwrap();
    let meta = loaded.metadata();
    let day1 = fence::partition_key(meta, &Struct::from_iter([Some(Literal::date(1))]));
    assert_eq!(fence::owner(meta, &day1), Some(b.clone()));
    let day2 = fence::partition_key(meta, &Struct::from_iter([Some(Literal::date(2))]));
    assert_eq!(fence::owner(meta, &day2), Some(a.clone()));
}

/// The tasks of one run's split partition add to each other, even when the
/// snapshot of the first was expired before the second commits: ownership is
/// read from the files, not from snapshot summaries.
pub async fn split_tasks_keep_each_others_files_after_expiry(catalog: &dyn TableCatalog) {
    let (name, table) = created_table(catalog).await;
    let policy = RetryPolicy::default();
    let (old, run) = (RunId::generate(), RunId::generate());
    let load = |run: &RunId, task: &str, day: i32| {
        request(
            &name,
            run,
            task,
            vec![owned_file(&table, run, task, day)],
            Some(day),
        )
    };
    commit(catalog, &load(&old, "o1", 1), &policy)
        .await
        .unwrap();
    let first = commit(catalog, &load(&run, "t1", 1), &policy)
        .await
        .unwrap();
    commit(catalog, &load(&run, "t-other-day", 2), &policy)
        .await
        .unwrap();
    let expire = crate::maintenance::expire::ExpireOptions {
        snapshot_ids: vec![first.snapshot_id().unwrap()],
        retain_last: 1,
        ..Default::default()
    };
    let report = crate::maintenance::expire::expire_snapshots(catalog, &name, &expire, &policy)
        .await
        .unwrap();
    assert_eq!(report.expired, vec![first.snapshot_id().unwrap()]);
    commit(catalog, &load(&run, "t2", 1), &policy)
        .await
        .unwrap();
    assert_eq!(
        live_files(catalog, &name).await,
        names(&run, &["t1", "t2", "t-other-day"])
    );
}

/// A pass adds to the load it read and is refused once another load replaced it.
pub async fn a_commit_within_a_load_needs_that_load(catalog: &dyn TableCatalog) {
    let (name, table) = created_table(catalog).await;
    let policy = RetryPolicy::default();
    let (load_run, pass, newer) = (RunId::generate(), RunId::generate(), RunId::generate());
    let day = Struct::from_iter([Some(Literal::date(1))]);
    let load = request(
        &name,
        &load_run,
        "l1",
        vec![owned_file(&table, &load_run, "l1", 1)],
        Some(1),
    );
    commit(catalog, &load, &policy).await.unwrap();
    let within = |task: &str| {
        let mut r = request(
            &name,
            &pass,
            task,
            vec![owned_file(&table, &load_run, task, 1)],
            None,
        );
        r.claim = Claim::Within {
            partition: day.clone(),
            owner: Some(load_run.clone()),
        };
        r
    };
    commit(catalog, &within("p1"), &policy).await.unwrap();
    let reload = request(
        &name,
        &newer,
        "n1",
        vec![owned_file(&table, &newer, "n1", 1)],
        Some(1),
    );
    commit(catalog, &reload, &policy).await.unwrap();
    let refused = commit(catalog, &within("p2"), &policy).await;
    assert!(
        matches!(refused, Err(LakeError::Superseded { .. })),
        "{refused:?}"
    );
    assert_eq!(live_files(catalog, &name).await, names(&newer, &["n1"]));
}

/// Workers racing to make the same schema change agree: every call succeeds,
/// one change is made, and a later call finds nothing to do.
pub async fn racing_schema_changes_agree(catalog: &dyn TableCatalog) {
    use crate::commit::evolve::{evolve_schema, SchemaChange};
    let name = &suite_table();
    catalog.ensure_table(name, suite_creation()).await.unwrap();
    let plan = |meta: &iceberg::spec::TableMetadata| -> crate::Result<Option<SchemaChange>> {
        if meta.current_schema().field_by_name("note").is_some() {
            return Ok(None);
        }
        let mut fields: Vec<_> = meta.current_schema().as_struct().fields().to_vec();
        let id = meta.last_column_id() + 1;
        let note = NestedField::optional(id, "note", Type::Primitive(PrimitiveType::String));
        fields.push(note.with_doc("What happened").into());
        let schema = Schema::builder().with_fields(fields).build().unwrap();
        let properties = HashMap::from([("suite.evolved".to_string(), "yes".to_string())]);
        Ok(Some(SchemaChange { schema, properties }))
    };
    let policy = RetryPolicy {
        max_attempts: 20,
        ..RetryPolicy::default()
    };
    let racers = (0..4).map(|_| evolve_schema(catalog, name, &policy, None, plan));
    for table in futures::future::join_all(racers).await {
        let table = table.unwrap();
        let note = table
            .metadata()
            .current_schema()
            .field_by_name("note")
            .cloned();
        assert_eq!(note.map(|f| f.id), Some(2));
    }
    let table = catalog.load_table(name).await.unwrap().unwrap();
    assert_eq!(
        table.metadata().schemas_iter().count(),
        2,
        "one change was made"
    );
    assert_eq!(table.metadata().properties()["suite.evolved"], "yes");
    let again = evolve_schema(catalog, name, &policy, Some(table.clone()), plan)
        .await
        .unwrap();
    assert_eq!(again.metadata_location(), table.metadata_location());
}
