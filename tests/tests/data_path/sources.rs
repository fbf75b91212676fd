//! Sources other than the flat CSV of the sample: nested JSON read through
//! column paths, and Parquet.

use super::*;

/// Nested NDJSON through the whole data path: columns read from paths into
/// objects and arrays, rows whose path breaks or whose required value is
/// missing quarantined with the reason, the rest in Silver with their values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_json_loads_through_column_paths() {
    use arrow_array::{Decimal128Array, Int64Array, StringArray};
    let lake = Lakehouse::new().await;
    let contract_text = r#"
[pipeline]
name = "orders"
version = 1
[source]
location = "orders/*.ndjson"
format = "ndjson"
compression = "auto"
[target]
table = "silver.orders"
partition = "none"
quarantine_table = "silver.orders_quarantine"
condemned_table = "silver.orders_condemned"
[[columns]]
name = "order_id"
type = "long"
required = true
[[columns]]
name = "method"
type = "string"
required = true
path = "payment.method"
[[columns]]
name = "amount"
type = "decimal(12,2)"
required = true
path = "payment.amount"
[[columns]]
name = "first_sku"
type = "string"
path = "items[0].sku"
"#;
    let contract = Arc::new(
        floe_common::contract::Contract::parse(contract_text, std::path::Path::new("orders.toml"))
            .unwrap(),
    );
    let (mut lines, mut valid_cents, mut valid, mut broken, mut missing) =
        (Vec::new(), 0i128, 0, 0, 0);
    for i in 0..300i64 {
        let line = if i % 10 == 0 {
            broken += 1;
            format!(r#"{{"order_id": {i}, "payment": "card"}}"#)
        } else if i % 7 == 0 {
            missing += 1;
            format!(r#"{{"order_id": {i}, "items": []}}"#)
        } else {
            valid += 1;
            valid_cents += i as i128 * 100 + 25;
            format!(
                r#"{{"order_id": {i}, "payment": {{"method": "card", "amount": {i}.25}}, "items": [{{"sku": "sku-{i}"}}, {{"sku": "other"}}]}}"#
            )
        };
        lines.push(line);
    }
    let file = lake.bronze().join("orders/part-0.ndjson");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let spec = floe_common::task::TaskSpec {
        attempt: floe_lake::Attempt::first(RunId::generate(), floe_lake::TaskId::new("orders-all")),
        contract: contract.clone(),
        inputs: vec![file.display().to_string()],
        fingerprints: Default::default(),
        ranges: Default::default(),
        partition: None,
        trace_context: Default::default(),
        gold: None,
        dedupe: None,
        pass: None,
        append: false,
        staged: false,
    };
    let env = TaskEnv::new(lake.catalog.clone());
    let report = run_task(&env, &spec).await.unwrap();
    assert_eq!(report.stats.rows_in, 300);
    assert_eq!(report.stats.valid, valid);
    assert_eq!(report.stats.quarantined, broken + missing);

    let silver = scan(lake.catalog.as_ref(), &contract.target.table).await;
    let (mut cents, mut rows) = (0i128, 0u64);
    for b in &silver {
        let ids = column::<Int64Array>(b, "order_id");
        let skus = column::<StringArray>(b, "first_sku");
        let amounts = column::<Decimal128Array>(b, "amount");
        for r in 0..b.num_rows() {
            assert_eq!(skus.value(r), format!("sku-{}", ids.value(r)));
            assert_eq!(column::<StringArray>(b, "method").value(r), "card");
            cents += amounts.value(r);
        }
        rows += b.num_rows() as u64;
    }
    assert_eq!((rows, cents), (valid, valid_cents));
    let quarantine = scan(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    let reasons: Vec<String> = quarantine
        .iter()
        .flat_map(|b| {
            let col = column::<StringArray>(b, "reasons");
            (0..b.num_rows()).map(move |r| col.value(r).to_string())
        })
        .collect();
    let broke = reasons
        .iter()
        .filter(|r| r.contains("path `payment.method` expects an object at `payment`"))
        .count();
    assert_eq!(broke as u64, broken, "{reasons:?}");
}

const PAYMENTS: &str = r#"
[pipeline]
name = "payments"
version = 1
[source]
location = "payments/*.parquet"
format = "parquet"
[target]
table = "silver.payments"
partition = "none"
quarantine_table = "silver.payments_quarantine"
condemned_table = "silver.payments_condemned"
[dedupe]
key = ["payment_id"]
[[columns]]
name = "payment_id"
type = "long"
required = true
[[columns]]
name = "paid_at"
type = "timestamptz"
required = true
[[columns]]
name = "amount"
type = "decimal(12,2)"
required = true
min = 0.01
[[columns]]
name = "currency"
type = "enum"
values = ["EUR", "USD"]
required = true
[[columns]]
name = "method"
type = "string"
path = "card.method"
"#;

/// What a generated payment row is, and so where it must land.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Valid,
    /// A negative amount or an unknown currency: quarantined.
    Bad,
    /// The previous row's id again: condemned.
    Duplicate,
}

fn kind(i: i64) -> Kind {
    match i {
        i if i > 0 && i % 101 == 0 => Kind::Duplicate,
        // The row a duplicate repeats is always valid.
        i if (i + 1) % 101 == 0 => Kind::Valid,
        i if i % 37 == 0 || i % 53 == 0 => Kind::Bad,
        _ => Kind::Valid,
    }
}

/// Rows `from..to` as a typed Parquet file in row groups of 700; returns the
/// valid rows' count and amount in cents.
fn payments_file(path: &std::path::Path, from: i64, to: i64) -> (u64, i128) {
    use arrow_array::builder::{StringBuilder, StructBuilder};
    use arrow_array::{ArrayRef, Decimal128Array, Int64Array, StringArray};
    use arrow_array::{RecordBatch, TimestampMicrosecondArray};
    use arrow_schema::{DataType, Field, Fields};
    let (mut ids, mut at, mut cents, mut currency) = (vec![], vec![], vec![], vec![]);
    let fields = Fields::from(vec![Field::new("method", DataType::Utf8, true)]);
    let mut card = StructBuilder::from_fields(fields, (to - from) as usize);
    let (mut valid, mut valid_cents) = (0u64, 0i128);
    for i in from..to {
        let k = kind(i);
        let amount = 100 + i as i128 * 7 % 90_000;
        ids.push(if k == Kind::Duplicate { i - 1 } else { i });
        at.push(1_735_689_600_000_000 + i * 1_000_000);
        let broken_amount = k == Kind::Bad && i % 37 == 0;
        cents.push(if broken_amount { -amount } else { amount });
        currency.push(if k == Kind::Bad && !broken_amount {
            "XXX"
        } else {
            "EUR"
        });
        card.field_builder::<StringBuilder>(0)
            .unwrap()
            .append_option((i % 3 != 0).then_some("visa"));
        card.append(i % 3 != 0);
        if k == Kind::Valid {
            valid += 1;
            valid_cents += amount;
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("currency", Arc::new(StringArray::from(currency))),
        ("payment_id", Arc::new(Int64Array::from(ids))),
        ("card", Arc::new(card.finish())),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(cents)
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ),
        ),
        (
            "paid_at",
            Arc::new(TimestampMicrosecondArray::from(at).with_timezone("UTC")),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    (valid, valid_cents)
}

/// A lakehouse with a `payments` Bronze folder, and the payments contract.
async fn payments_lake() -> (
    Lakehouse,
    Arc<floe_common::contract::Contract>,
    std::path::PathBuf,
) {
    let lake = Lakehouse::new().await;
    let contract = floe_common::contract::Contract::parse(PAYMENTS, std::path::Path::new("p.toml"));
    let dir = lake.bronze().join("payments");
    std::fs::create_dir_all(&dir).unwrap();
    (lake, Arc::new(contract.unwrap()), dir)
}

fn payments_task(
    contract: &Arc<floe_common::contract::Contract>,
    inputs: Vec<String>,
) -> floe_common::task::TaskSpec {
    floe_common::task::TaskSpec {
        attempt: floe_lake::Attempt::first(
            RunId::generate(),
            floe_lake::TaskId::new("payments-all"),
        ),
        contract: contract.clone(),
        inputs,
        fingerprints: Default::default(),
        ranges: Default::default(),
        partition: None,
        trace_context: Default::default(),
        gold: None,
        dedupe: None,
        pass: None,
        append: false,
        staged: false,
    }
}

/// Typed Parquet through the whole data path, in several files and row groups:
/// every row accounted for against the generator's truth, typed values land
/// exactly, a struct field is read by path, and the file is read by column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_loads_against_ground_truth() {
    use arrow_array::{Array, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray};
    let (lake, contract, dir) = payments_lake().await;
    let (mut inputs, mut valid, mut valid_cents) = (vec![], 0u64, 0i128);
    for (n, (from, to)) in [(0i64, 2_500i64), (2_500, 6_000)].into_iter().enumerate() {
        let path = dir.join(format!("part-{n}.parquet"));
        let (v, c) = payments_file(&path, from, to);
        (valid, valid_cents) = (valid + v, valid_cents + c);
        inputs.push(path.display().to_string());
    }
    let duplicates = (1..6_000).filter(|i| kind(*i) == Kind::Duplicate).count() as u64;
    let bad = (0..6_000).filter(|i| kind(*i) == Kind::Bad).count() as u64;
    let env = TaskEnv::new(lake.catalog.clone());
    let report = run_task(&env, &payments_task(&contract, inputs))
        .await
        .unwrap();
    let s = &report.stats;
    assert_eq!(
        (s.rows_in, s.valid, s.quarantined, s.condemned),
        (6_000, valid, bad, duplicates)
    );

    let silver = scan(lake.catalog.as_ref(), &contract.target.table).await;
    let (mut rows, mut cents) = (0u64, 0i128);
    for b in &silver {
        let ids = column::<Int64Array>(b, "payment_id");
        let at = column::<TimestampMicrosecondArray>(b, "paid_at");
        let methods = column::<StringArray>(b, "method");
        for r in 0..b.num_rows() {
            let id = ids.value(r);
            assert_eq!(at.value(r), 1_735_689_600_000_000 + id * 1_000_000, "{id}");
            assert_eq!(methods.is_null(r), id % 3 == 0, "{id}");
        }
        cents += column::<Decimal128Array>(b, "amount")
            .iter()
            .flatten()
            .sum::<i128>();
        rows += b.num_rows() as u64;
    }
    assert_eq!((rows, cents), (valid, valid_cents));

    let quarantine = scan(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    let mut seen = 0;
    for b in &quarantine {
        let (raws, reasons) = (
            column::<StringArray>(b, "raw_line"),
            column::<StringArray>(b, "reasons"),
        );
        let lines = column::<Int64Array>(b, "line_number");
        for r in 0..b.num_rows() {
            // The row as a JSON object of its values, at its position in its file.
            let raw: serde_json::Value = serde_json::from_str(raws.value(r)).unwrap();
            let id: i64 = raw["payment_id"].as_str().unwrap().parse().unwrap();
            let file_start = if id < 2_500 { 0 } else { 2_500 };
            assert_eq!(lines.value(r), id - file_start + 1);
            let why = reasons.value(r);
            assert!(why.contains("amount") || why.contains("currency"), "{why}");
            seen += 1;
        }
    }
    assert_eq!(seen, bad);
}

/// A file named .parquet that is not Parquet fails its task with a message
/// naming it, and nothing is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_parquet_fails_its_task_and_commits_nothing() {
    let (lake, contract, dir) = payments_lake().await;
    let good = dir.join("part-0.parquet");
    payments_file(&good, 0, 100);
    let bad = dir.join("part-1.parquet");
    std::fs::write(&bad, "payment_id,amount\n1,2\n").unwrap();
    let inputs = vec![good.display().to_string(), bad.display().to_string()];
    let env = TaskEnv::new(lake.catalog.clone());
    let err = run_task(&env, &payments_task(&contract, inputs))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("part-1.parquet is not valid Parquet"),
        "{text}"
    );
    assert!(!err.is_retryable());
    assert!(scan(lake.catalog.as_ref(), &contract.target.table)
        .await
        .is_empty());
}
