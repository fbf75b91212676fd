use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array};
use iceberg::spec::{
    DataContentType, DataFileFormat, Literal, NestedField, PrimitiveType, Struct, Type,
};

use super::*;

fn schema() -> Schema {
    Schema::builder()
        .with_fields(vec![
            NestedField::optional(1, "n", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "run", Type::Primitive(PrimitiveType::String)).into(),
            NestedField::optional(3, "file", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .build()
        .unwrap()
}

fn batch(run: &str, file: &str) -> RecordBatch {
    RecordBatch::try_from_iter([
        ("n", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        (
            "run",
            Arc::new(StringArray::from(vec![run, run])) as ArrayRef,
        ),
        (
            "file",
            Arc::new(StringArray::from(vec![file, file])) as ArrayRef,
        ),
    ])
    .unwrap()
}

/// A data file as iceberg's writer returns it, with every optional field set.
fn written() -> DataFile {
    DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path("s3://w/t/data/a.parquet".into())
        .file_format(DataFileFormat::Parquet)
        .partition(Struct::from_iter([Some(Literal::int(20000))]))
        .record_count(4)
        .file_size_in_bytes(900)
        .column_sizes([(1, 40), (2, 30), (3, 30)].into())
        .value_counts([(1, 4), (2, 4), (3, 4)].into())
        .null_value_counts([(1, 0)].into())
        .nan_value_counts([(1, 0)].into())
        .lower_bounds([(1, Datum::long(1))].into())
        .upper_bounds([(1, Datum::long(2))].into())
        .key_metadata(Some(vec![7]))
        .split_offsets(Some(vec![4, 400]))
        .equality_ids(None)
        .sort_order_id(0)
        .partition_spec_id(3)
        .build()
        .unwrap()
}

#[test]
fn a_value_every_batch_declared_becomes_the_files_bounds() {
    let mut constants = Constants::new(&schema(), &["run", "file"]);
    constants.record(&batch("r1", "a.csv"), &[("run", "r1"), ("file", "a.csv")]);
    constants.record(&batch("r1", "a.csv"), &[("run", "r1"), ("file", "a.csv")]);
    let file = constants.apply(written(), 3);
    for (id, value) in [(2, "r1"), (3, "a.csv")] {
        assert_eq!(file.lower_bounds()[&id], Datum::string(value));
        assert_eq!(file.upper_bounds()[&id], Datum::string(value));
        assert_eq!(file.null_value_counts()[&id], 0);
    }
    // The writer's own metrics for the other columns stay.
    assert_eq!(file.lower_bounds()[&1], Datum::long(1));
    assert_eq!(file.null_value_counts()[&1], 0);
}

#[test]
fn two_values_or_an_undeclared_batch_leave_the_bounds_unknown() {
    let mut constants = Constants::new(&schema(), &["run", "file"]);
    constants.record(&batch("r1", "a.csv"), &[("run", "r1"), ("file", "a.csv")]);
    constants.record(&batch("r1", "b.csv"), &[("run", "r1"), ("file", "b.csv")]);
    let file = constants.apply(written(), 3);
    assert_eq!(file.lower_bounds()[&2], Datum::string("r1"));
    assert!(!file.lower_bounds().contains_key(&3));
    assert!(!file.upper_bounds().contains_key(&3));
    assert!(!file.null_value_counts().contains_key(&3));

    let mut constants = Constants::new(&schema(), &["run"]);
    constants.record(&batch("r1", "a.csv"), &[("run", "r1")]);
    constants.record(&batch("r1", "a.csv"), &[]);
    constants.record(&batch("r1", "a.csv"), &[("run", "r1")]);
    assert_eq!(constants.apply(written(), 3), written());
}

#[test]
fn nothing_recorded_or_a_column_the_table_lacks_changes_nothing() {
    let constants = Constants::new(&schema(), &["run", "no_such_column"]);
    assert_eq!(constants.names().collect::<Vec<_>>(), ["run"]);
    assert_eq!(constants.apply(written(), 3), written());
}

#[test]
fn new_metrics_keep_every_other_field_of_the_file() {
    let file = written();
    let same = with_metrics(
        &file,
        3,
        file.lower_bounds().clone(),
        file.upper_bounds().clone(),
        file.null_value_counts().clone(),
    );
    // DataFile's equality covers every field, the partition spec id included.
    assert_eq!(same, file);
    assert_ne!(
        with_metrics(&file, 0, HashMap::new(), HashMap::new(), HashMap::new()),
        file
    );
}

#[test]
fn a_declared_value_is_checked_against_the_rows_in_debug_builds() {
    let b = batch("r1", "a.csv");
    assert!(holds_only(&b, "run", "r1"));
    assert!(!holds_only(&b, "run", "r2"));
    assert!(!holds_only(&b, "n", "1"));
    assert!(!holds_only(&b, "missing", "r1"));
    let nulls = RecordBatch::try_from_iter([(
        "run",
        Arc::new(StringArray::from(vec![Some("r1"), None])) as ArrayRef,
    )])
    .unwrap();
    assert!(!holds_only(&nulls, "run", "r1"));
}
