use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{DataType, TimeUnit};
use floe_common::contract::TransformKind;
use floe_lake::catalog::{SqlCatalog, TableCatalog};
use floe_lake::commit::{self, fence, Claim, CommitRequest, RetryPolicy};
use floe_lake::data::{ColumnHints, PartitionWriter};
use floe_lake::{Attempt, RunId, TableName, TaskId};
use iceberg::spec::{
    Literal, NestedField, PrimitiveType, Schema, Struct, Transform, Type, UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::TableCreation;

use super::PartitionFiles;
use crate::partition::{partition_bounds, Bounds};
use crate::session::{new_session, Limits};

const DAY_US: i64 = 86_400_000_000;
/// 2025-01-05 and the two days after it, in days since the epoch.
const DAY: i32 = 20093;

/// `t.events` (`ts`, `v`), partitioned by `transform(ts)`.
async fn events(catalog: &SqlCatalog, name: &str, transform: Transform) -> Table {
    let schema = Schema::builder()
        .with_fields(vec![
            NestedField::required(1, "ts", Type::Primitive(PrimitiveType::Timestamptz)).into(),
            NestedField::optional(2, "v", Type::Primitive(PrimitiveType::Long)).into(),
        ])
        .build()
        .unwrap();
    let spec = UnboundPartitionSpec::builder()
        .with_spec_id(0)
        .add_partition_field(1, "ts_part", transform)
        .unwrap()
        .build();
    let creation = TableCreation::builder()
        .name(name.into())
        .schema(schema)
        .partition_spec(spec)
        .build();
    let table = TableName::parse(&format!("t.{name}")).unwrap();
    catalog.ensure_table(&table, creation).await.unwrap()
}

/// Commits one file of `rows` rows at noon of `day` + the row's index in
/// seconds, with `v` = `value`, replacing `partition`.
async fn load(
    catalog: &SqlCatalog,
    table: &Table,
    partition: Literal,
    day: i32,
    rows: i64,
    value: i64,
) -> i64 {
    let name = TableName::parse(&table.identifier().to_string()).unwrap();
    let attempt = Attempt::new(RunId::new(format!("run-{day}")), TaskId::new("load"), 1);
    let partition = Struct::from_iter([Some(partition)]);
    let prefix = fence::attempt_file_prefix(&attempt, "f");
    let mut writer = PartitionWriter::new(
        table,
        partition.clone(),
        prefix,
        1 << 30,
        &ColumnHints::default(),
    )
    .await
    .unwrap();
    let noon = i64::from(day) * DAY_US + DAY_US / 2;
    let ts: Vec<i64> = (0..rows).map(|i| noon + i * 1_000_000).collect();
    let ts = TimestampMicrosecondArray::from(ts).with_timezone("+00:00");
    let v = Int64Array::from(vec![value; rows as usize]);
    let batch = RecordBatch::try_new(writer.schema(), vec![Arc::new(ts), Arc::new(v)]).unwrap();
    writer.write(batch).await.unwrap();
    let request = CommitRequest {
        table: name.clone(),
        attempt,
        contract_version: 1,
        data_files: writer.close().await.unwrap(),
        claim: Claim::Replace(partition),
        properties: BTreeMap::new(),
        idempotency_key: None,
        branch: None,
    };
    commit::commit(catalog, &request, &RetryPolicy::default())
        .await
        .unwrap();
    let loaded = catalog.load_table(&name).await.unwrap().unwrap();
    loaded.metadata().current_snapshot().unwrap().snapshot_id()
}

fn day_bounds(label: &str) -> Bounds {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
    partition_bounds(TransformKind::Day, &utc, label).unwrap()
}

async fn scalars(files: PartitionFiles, sql: &str) -> Vec<i64> {
    let ctx = new_session(&Limits::default());
    ctx.register_table("events", Arc::new(files)).unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let b = &batches[0];
    (0..b.num_columns())
        .map(|i| {
            let c = arrow_cast::cast(b.column(i), &DataType::Int64).unwrap();
            let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
            assert!(!c.is_null(0));
            c.value(0)
        })
        .collect()
}

/// A day-partitioned table: the day's files are read whole and hold exactly
/// that day's rows, whichever columns the query reads (none, for `COUNT(*)`).
#[tokio::test]
async fn a_days_files_are_read_whole_and_hold_only_that_day() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqlCatalog::open("test", &dir.path().join("c.db"), &dir.path().join("w"))
        .await
        .unwrap();
    let table = events(&catalog, "daily", Transform::Day).await;
    load(&catalog, &table, Literal::date(DAY), DAY, 300, 2).await;
    load(&catalog, &table, Literal::date(DAY + 1), DAY + 1, 500, 7).await;
    let snapshot = load(&catalog, &table, Literal::date(DAY + 2), DAY + 2, 200, 11).await;
    let table = catalog
        .load_table(&TableName::parse("t.daily").unwrap())
        .await
        .unwrap()
        .unwrap();
    let plan = |label: &'static str| {
        let table = table.clone();
        async move {
            PartitionFiles::plan(
                &table,
                snapshot,
                TransformKind::Day,
                "ts",
                &day_bounds(label),
            )
            .await
            .unwrap()
            .expect("each file lies wholly in its day")
        }
    };
    let files = plan("2025-01-06").await;
    assert_eq!(files.files.len(), 1);
    assert!(files.files[0].predicate.is_none());
    assert_eq!(
        scalars(files, "SELECT COUNT(*), SUM(v), MIN(v), MAX(v) FROM events").await,
        [500, 3500, 7, 7]
    );
    assert_eq!(
        scalars(plan("2025-01-05").await, "SELECT COUNT(*) FROM events").await,
        [300]
    );
    let day_start = i64::from(DAY + 2) * DAY_US;
    let sql =
        format!("SELECT COUNT(*), MIN(CAST(ts AS BIGINT)) >= {day_start} FROM events WHERE v = 11");
    assert_eq!(scalars(plan("2025-01-07").await, &sql).await, [200, 1]);
    let empty = plan("2025-01-09").await;
    assert!(empty.files.is_empty());
    assert_eq!(scalars(empty, "SELECT COUNT(*) FROM events").await, [0]);
}

/// A month-partitioned table holds a month's rows in each file: a day of it
/// cannot be read whole, so the caller filters the rows instead.
#[tokio::test]
async fn files_of_a_coarser_partition_are_not_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqlCatalog::open("test", &dir.path().join("c.db"), &dir.path().join("w"))
        .await
        .unwrap();
    let table = events(&catalog, "monthly", Transform::Month).await;
    // January 2025 is month 660 since the epoch.
    let snapshot = load(&catalog, &table, Literal::int(660), DAY, 300, 2).await;
    let table = catalog
        .load_table(&TableName::parse("t.monthly").unwrap())
        .await
        .unwrap()
        .unwrap();
    let files = PartitionFiles::plan(
        &table,
        snapshot,
        TransformKind::Day,
        "ts",
        &day_bounds("2025-01-05"),
    )
    .await
    .unwrap();
    assert!(files.is_none());
}
