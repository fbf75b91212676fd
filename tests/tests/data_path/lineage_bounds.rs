//! Silver's lineage columns hold one run and task id per task (and one file
//! when the task reads one): their data file bounds come from those values,
//! not from Parquet statistics, and must still hold every row and let a scan
//! filtered on them find exactly its rows.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::{Array, StringArray};
use futures::TryStreamExt;
use iceberg::expr::Reference;
use iceberg::spec::{Datum, PrimitiveLiteral};
use iceberg::table::Table;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::*;

const LINEAGE_TEXT: [&str; 3] = ["_floe_run_id", "_floe_task_id", "_floe_source_file"];

fn text(d: &Datum) -> String {
    match d.literal() {
        PrimitiveLiteral::String(s) => s.clone(),
        other => panic!("a string bound, got {other:?}"),
    }
}

/// Each lineage value of one Parquet file, as its rows hold them.
fn values_in(path: &str, name: &str) -> BTreeSet<String> {
    let path = path.trim_start_matches("file://");
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut out = BTreeSet::new();
    for batch in reader {
        let batch = batch.unwrap();
        let values = column::<StringArray>(&batch, name);
        assert_eq!(values.null_count(), 0, "{path}: {name}");
        out.extend(values.iter().flatten().map(str::to_string));
    }
    out
}

/// Whether Parquet kept statistics for `column` in every row group of `path`.
fn parquet_has_statistics(path: &str, column: &str) -> bool {
    let path = path.trim_start_matches("file://");
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let i = (0..schema.num_columns())
        .find(|&i| schema.column(i).name() == column)
        .unwrap();
    meta.row_groups()
        .iter()
        .all(|g| g.column(i).statistics().is_some())
}

async fn rows_where(table: &Table, column: &str, value: &str) -> usize {
    let scan = table
        .scan()
        .with_filter(Reference::new(column).equal_to(Datum::string(value)))
        .build()
        .unwrap();
    let batches: Vec<_> = scan.to_arrow().await.unwrap().try_collect().await.unwrap();
    batches.iter().map(|b| b.num_rows()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_bounds_hold_every_row_and_scans_filtered_on_them_find_their_rows() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let run = RunId::generate();
    // One day read from its two files, another from only its first file.
    let two_files = day_task(&lake, &contract, &truth, DAYS[0], &run);
    let mut one_file = day_task(&lake, &contract, &truth, DAYS[1], &run);
    one_file.inputs.truncate(1);
    assert_eq!(two_files.inputs.len(), 2);
    for spec in [&two_files, &one_file] {
        run_task(&env, spec).await.unwrap();
    }

    let table =
        floe_lake::catalog::TableCatalog::load_table(lake.catalog.as_ref(), &contract.target.table)
            .await
            .unwrap()
            .unwrap();
    let snapshot = table.metadata().current_snapshot().unwrap().clone();
    let files = floe_lake::commit::files::snapshot_files(&table, &snapshot)
        .await
        .unwrap();
    let ids: BTreeMap<&str, i32> = LINEAGE_TEXT
        .iter()
        .map(|n| {
            (
                *n,
                table
                    .metadata()
                    .current_schema()
                    .field_by_name(n)
                    .unwrap()
                    .id,
            )
        })
        .collect();
    let mut rows_per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut checked = 0;
    for live in files.data.values() {
        let f = &live.data_file;
        for (&name, id) in &ids {
            let held = values_in(f.file_path(), name);
            let constant = held.len() == 1;
            let bounds = (f.lower_bounds().get(id), f.upper_bounds().get(id));
            if constant {
                // The value itself, however long: exact, never a truncated prefix.
                let value = held.first().unwrap();
                let (lower, upper) = (text(bounds.0.unwrap()), text(bounds.1.unwrap()));
                assert_eq!((&lower, &upper), (value, value), "{name}");
            } else if let (Some(lower), Some(upper)) = bounds {
                // Parquet's own statistics, kept only when exact (values up to 64 bytes).
                let (lower, upper) = (text(lower), text(upper));
                assert!(
                    held.iter().all(|v| lower <= *v && *v <= upper),
                    "{name}: {held:?} outside [{lower}, {upper}]"
                );
            }
            assert_eq!(f.null_value_counts().get(id), Some(&0), "{name}");
            let file_read_once = name != "_floe_source_file" || constant;
            // Bounds taken from the declared value: Parquet skipped its statistics.
            assert_eq!(
                parquet_has_statistics(f.file_path(), name),
                !file_read_once,
                "{name} in {}",
                f.file_path()
            );
        }
        for file in values_in(f.file_path(), "_floe_source_file") {
            *rows_per_file.entry(file).or_default() += 0;
        }
        checked += 1;
    }
    assert!(checked >= 2, "a data file per day");

    // Scans filtered on the lineage columns find exactly their rows.
    let silver = scan(lake.catalog.as_ref(), &contract.target.table).await;
    let total: usize = silver.iter().map(|b| b.num_rows()).sum();
    for b in &silver {
        for file in column::<StringArray>(b, "_floe_source_file")
            .iter()
            .flatten()
        {
            *rows_per_file.get_mut(file).unwrap() += 1;
        }
    }
    assert_eq!(rows_per_file.len(), 3, "two files, then one");
    assert_eq!(
        rows_where(&table, "_floe_run_id", run.as_str()).await,
        total
    );
    assert_eq!(rows_where(&table, "_floe_run_id", "run-other").await, 0);
    for spec in [&two_files, &one_file] {
        let day = spec.partition.as_deref().unwrap();
        let expected = silver_by_day(lake.catalog.as_ref(), &contract.target.table).await[day].0;
        let task = spec.attempt.task_id.as_str();
        assert_eq!(
            rows_where(&table, "_floe_task_id", task).await as u64,
            expected
        );
    }
    for (file, rows) in &rows_per_file {
        assert!(*rows > 0);
        assert_eq!(
            rows_where(&table, "_floe_source_file", file).await,
            *rows,
            "{file}"
        );
    }
}
