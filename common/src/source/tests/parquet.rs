//! Parquet input: typed values read as the text validation parses, columns by
//! name, struct paths, row groups, and files that are not Parquet.

use ::parquet::arrow::ArrowWriter;
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{StringBuilder, StructBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array,
    ListArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType as ArrowType, Fields};

use super::*;

/// `columns` as one Parquet file, in row groups of `group_rows`.
fn parquet(columns: Vec<(&str, ArrayRef)>, group_rows: usize) -> Vec<u8> {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn arc<A: arrow_array::Array + 'static>(a: A) -> ArrayRef {
    Arc::new(a)
}

const TYPED: &str = r#"
[[columns]]
name = "id"
type = "long"
required = true

[[columns]]
name = "amount"
type = "decimal(12,2)"

[[columns]]
name = "day"
type = "date"
formats = ["%d/%m/%Y"]

[[columns]]
name = "at"
type = "timestamptz"

[[columns]]
name = "ok"
type = "boolean"

[[columns]]
name = "label"
type = "string"

[[columns]]
name = "count"
type = "int"
"#;

fn typed_file() -> Vec<u8> {
    // Written in another order than the contract's: columns match by name.
    parquet(
        vec![
            (
                "label",
                arc(BinaryArray::from(vec![Some(&b"caf\xc3\xa9"[..]), None])),
            ),
            ("ok", arc(BooleanArray::from(vec![Some(true), Some(false)]))),
            ("id", arc(Int64Array::from(vec![1, 2]))),
            (
                "amount",
                arc(Decimal128Array::from(vec![Some(1234), None])
                    .with_precision_and_scale(12, 2)
                    .unwrap()),
            ),
            ("day", arc(Date32Array::from(vec![20089, 20090]))),
            (
                "at",
                arc(TimestampMicrosecondArray::from(vec![
                    1_735_689_600_000_000,
                    1_735_689_600_250_000,
                ])
                .with_timezone("UTC")),
            ),
            ("extra", arc(StringArray::from(vec!["not", "read"]))),
            ("count", arc(Int32Array::from(vec![Some(7), None]))),
        ],
        1024,
    )
}

#[test]
fn typed_values_become_text_the_validator_reads_back_exactly() {
    let contract = contract("parquet", TYPED);
    let batches = read(&contract, "typed.parquet", &typed_file());
    let got = rows(&batches);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].line, 1);
    assert_eq!(got[1].line, 2);
    assert_eq!(
        got[0].fields[0..3],
        f(&[Some("1"), Some("12.34"), Some("01/01/2025")])
    );
    assert_eq!(got[1].fields[1], None);
    assert_eq!(got[0].fields[5], Some("café".to_string()));

    let schema = crate::validate::contract_columns(&contract);
    let mut validator = Validator::new(Arc::new(contract), schema, None);
    let out = validator
        .validate(batches.into_iter().next().unwrap())
        .unwrap();
    assert!(out.quarantined.is_empty(), "{:?}", out.quarantined);
    let valid = out.valid;
    assert_eq!(valid.num_rows(), 2);
    let col = |name: &str| valid.column_by_name(name).unwrap().clone();
    let amount = col("amount");
    assert_eq!(
        amount
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap()
            .value(0),
        1234
    );
    let day = col("day");
    assert_eq!(
        day.as_any().downcast_ref::<Date32Array>().unwrap().value(1),
        20090
    );
    let at = col("at");
    let at = at
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(
        (at.value(0), at.value(1)),
        (1_735_689_600_000_000, 1_735_689_600_250_000)
    );
    let ok = col("ok");
    assert!(!ok.as_any().downcast_ref::<BooleanArray>().unwrap().value(1));
    let count = col("count");
    let count = count.as_any().downcast_ref::<Int32Array>().unwrap();
    assert_eq!((count.value(0), count.is_null(1)), (7, true));
}

#[test]
fn a_row_keeps_its_values_as_a_json_object_for_quarantine() {
    let got = rows(&read(
        &contract("parquet", TYPED),
        "typed.parquet",
        &typed_file(),
    ));
    let raw: serde_json::Value = serde_json::from_str(&got[1].raw).unwrap();
    assert_eq!(raw["id"], "2");
    assert_eq!(raw["amount"], serde_json::Value::Null);
    assert_eq!(raw["day"], "02/01/2025");
    assert!(raw.get("extra").is_none(), "{raw}");
}

#[test]
fn every_row_group_is_read_and_lines_count_rows_across_them() {
    let n = 2_500i64;
    let ids: Vec<i64> = (0..n).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
    // A wide column the contract does not name, that compression cannot shrink.
    let mut state = 1u64;
    let wide: Vec<String> = (0..n)
        .map(|_| {
            (0..16)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("{:016x}", state)
                })
                .collect()
        })
        .collect();
    let bytes = parquet(
        vec![
            ("id", arc(Int64Array::from(ids.clone()))),
            ("wide", arc(StringArray::from(wide))),
            ("name", arc(StringArray::from(names))),
        ],
        300,
    );
    let (_dir, path) = write("groups.parquet", &bytes);
    let (batches, stats) = read_path(&path, &contract("parquet", COLUMNS));
    assert_eq!(stats.records, n as u64);
    assert!(
        stats.bytes < bytes.len() as u64 / 4,
        "only the contract's columns are read: {} of {} bytes",
        stats.bytes,
        bytes.len()
    );
    let got = rows(&batches);
    assert_eq!(got.len(), n as usize);
    for (i, row) in got.iter().enumerate() {
        assert_eq!(row.line, i as u64 + 1);
        assert_eq!(
            row.fields,
            f(&[Some(&i.to_string()), Some(&format!("n{i}")), None])
        );
    }
    // The absent optional column is reported as missing, like a CSV header without it.
    assert_eq!(
        batches[0].missing_columns,
        vec![None, None, Some("note".to_string())]
    );
}

const NESTED: &str = r#"
[[columns]]
name = "id"
type = "long"
required = true

[[columns]]
name = "method"
type = "string"
path = "payment.method"

[[columns]]
name = "tags"
type = "string"
"#;

fn payments() -> ArrayRef {
    let fields = Fields::from(vec![Field::new("method", ArrowType::Utf8, true)]);
    let mut builder = StructBuilder::from_fields(fields, 3);
    for (method, present) in [(Some("card"), true), (None, false), (Some("cash"), true)] {
        let field = builder.field_builder::<StringBuilder>(0).unwrap();
        field.append_option(method);
        builder.append(present);
    }
    Arc::new(builder.finish())
}

#[test]
fn a_path_reads_struct_fields_and_a_nested_leaf_is_rejected() {
    let tags = ListArray::from_iter_primitive::<arrow_array::types::Int32Type, _, _>(vec![
        None,
        None,
        Some(vec![Some(1)]),
    ]);
    let bytes = parquet(
        vec![
            ("id", arc(Int64Array::from(vec![1, 2, 3]))),
            ("payment", payments()),
            ("tags", arc(tags)),
        ],
        1024,
    );
    let batches = read(&contract("parquet", NESTED), "nested.parquet", &bytes);
    let got = rows(&batches);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].fields, f(&[Some("1"), Some("card"), None]));
    // A null struct makes its fields null.
    assert_eq!(got[1].fields, f(&[Some("2"), None, None]));
    let rej = rejects(&batches);
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].line, 3);
    assert_reason(&rej[0], &["column `tags` holds a nested List"]);
}

#[test]
fn a_binary_value_that_is_not_utf8_is_rejected_with_its_row() {
    let bytes = parquet(
        vec![
            ("id", arc(Int64Array::from(vec![1, 2]))),
            (
                "name",
                arc(BinaryArray::from(vec![&b"ok"[..], &b"\xff\xfe"[..]])),
            ),
        ],
        1024,
    );
    let batches = read(&contract("parquet", COLUMNS), "bin.parquet", &bytes);
    assert_eq!(rows(&batches).len(), 1);
    let rej = rejects(&batches);
    assert_eq!(rej[0].line, 2);
    assert_reason(&rej[0], &["column `name`: invalid UTF-8"]);
}

fn read_err(name: &str, bytes: &[u8]) -> FloeError {
    let (_dir, path) = write(name, bytes);
    read_file(
        &LocalStore,
        &path.to_string_lossy(),
        &contract("parquet", COLUMNS),
        1024,
        &mut |_| Ok(()),
    )
    .expect_err("not Parquet")
}

#[test]
fn a_file_that_is_not_parquet_fails_its_task_clearly() {
    let err = read_err("text.parquet", b"id,name,note\n1,a,b\n");
    assert!(matches!(err, FloeError::NotParquet { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("text.parquet is not valid Parquet"), "{text}");
    assert!(text.contains("PAR1"), "{text}");

    let ids: Vec<i64> = (0..1000).collect();
    let whole = parquet(vec![("id", arc(Int64Array::from(ids)))], 100);
    let mut cut = whole[..whole.len() / 2].to_vec();
    cut.extend_from_slice(b"PAR1");
    let err = read_err("cut.parquet", &cut);
    assert!(matches!(err, FloeError::NotParquet { .. }), "{err:?}");
}

#[test]
fn a_missing_parquet_file_is_an_input_error_worth_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.parquet");
    let err = read_file(
        &LocalStore,
        &path.to_string_lossy(),
        &contract("parquet", COLUMNS),
        1024,
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("gone.parquet"), "{err}");
}
