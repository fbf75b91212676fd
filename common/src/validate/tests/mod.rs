//! Validation tests: every rule quarantines with a worded reason, valid rows are
//! typed, dedupe condemns repeats (across batches too), and — as a property —
//! no input makes reading + validating panic or lose a row.

use floe_lake::storage::LocalStore;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate};
use proptest::prelude::*;
use proptest::sample::Index;

use super::{arrow_type, PartitionValue, Validated, Validator, UTC};
use crate::contract::{Contract, TransformKind};
use crate::source::read_file;

fn contract(target_extra: &str, columns: &str) -> Contract {
    let text = format!(
        r#"{columns}
[pipeline]
name = "rules"
version = 1

[source]
location = "in/*"
format = "csv"

[target]
table = "silver.rules"
quarantine_table = "silver.rules_q"
condemned_table = "silver.rules_c"
{target_extra}

[limits]
max_record_bytes = 1024
"#
    );
    Contract::parse(&text, Path::new("rules.toml")).expect("test contract is valid")
}

/// Every column nullable, as the task builds it before filtering.
fn loose_schema(c: &Contract) -> SchemaRef {
    Arc::new(Schema::new(
        c.columns
            .iter()
            .map(|col| Field::new(&col.name, arrow_type(&col.data_type), true))
            .collect::<Vec<_>>(),
    ))
}

/// A validator plus the scratch dir its input files are written to.
struct Harness {
    contract: Arc<Contract>,
    validator: Validator,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new(contract: Contract, owned: Option<PartitionValue>) -> Self {
        let contract = Arc::new(contract);
        let schema = loose_schema(&contract);
        Self {
            validator: Validator::new(contract.clone(), schema, owned),
            contract,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes `text` as `name`, reads and validates it; returns the file path and outputs.
    fn file(&mut self, name: &str, text: &str) -> (String, Vec<Validated>) {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        let validator = &mut self.validator;
        read_file(
            &LocalStore,
            &path.to_string_lossy(),
            &self.contract,
            1024,
            &mut |b| {
                out.push(validator.validate(b).unwrap());
                Ok(())
            },
        )
        .unwrap();
        (path.to_string_lossy().into_owned(), out)
    }

    fn one(&mut self, name: &str, text: &str) -> Validated {
        let (_, mut out) = self.file(name, text);
        assert_eq!(out.len(), 1, "expected a single batch");
        out.pop().unwrap()
    }
}

fn day(label: &str) -> PartitionValue {
    PartitionValue::parse(TransformKind::Day, label).unwrap()
}

// ------------------------------------------------------------ the rules contract

const RULE_COLUMNS: &str = r#"columns = [
  { name = "id", type = "string", required = true },
  { name = "qty", type = "int", min = 1, max = 100 },
  { name = "big", type = "long" },
  { name = "ratio", type = "double" },
  { name = "amount", type = "decimal(12,2)", min = 0.01 },
  { name = "flag", type = "boolean" },
  { name = "day", type = "date" },
  { name = "local", type = "timestamp", formats = ["%Y-%m-%d %H:%M:%S"] },
  { name = "ts", type = "timestamptz", required = true },
  { name = "code", type = "string", regex = "^[A-Z]{2}$" },
  { name = "category", type = "string", allowed = ["a", "b"] },
  { name = "status", type = "enum", values = ["new", "done"] },
  { name = "label", type = "string", max_length = 3 },
]
"#;

/// A valid row, in contract column order.
const VALID: [(&str, &str); 13] = [
    ("id", "r1"),
    ("qty", "5"),
    ("big", "9000000000"),
    ("ratio", "0.5"),
    ("amount", "12.34"),
    ("flag", "true"),
    ("day", "2025-01-05"),
    ("local", "2025-01-05 10:00:00"),
    ("ts", "2025-01-05T12:00:00+02:00"),
    ("code", "FR"),
    ("category", "a"),
    ("status", "new"),
    ("label", "ééé"),
];

fn rules_harness() -> Harness {
    let target = "partition = \"day(ts)\"\n[dedupe]\nkey = [\"id\"]";
    Harness::new(contract(target, RULE_COLUMNS), Some(day("2025-01-05")))
}

/// The valid row with some fields replaced.
fn row(overrides: &[(&str, &str)]) -> String {
    let field = |(k, v): &(&str, &'static str)| {
        overrides
            .iter()
            .find(|(o, _)| o == k)
            .map_or(*v, |(_, v)| *v)
            .to_string()
    };
    VALID.iter().map(field).collect::<Vec<_>>().join(",")
}

fn csv(rows: &[String]) -> String {
    let header = VALID.map(|(k, _)| k).join(",");
    std::iter::once(header)
        .chain(rows.iter().cloned())
        .map(|l| l + "\n")
        .collect()
}

/// The reasons of a single row that must be quarantined.
fn reasons_for(overrides: &[(&str, &str)]) -> Vec<String> {
    let out = rules_harness().one("r.csv", &csv(&[row(overrides)]));
    assert_eq!(
        out.valid.num_rows(),
        0,
        "row {overrides:?} should not be valid"
    );
    assert_eq!(out.quarantined.len(), 1);
    assert_eq!(out.quarantined[0].line, 2);
    out.quarantined[0].reasons.clone()
}

fn assert_one_reason(overrides: &[(&str, &str)], expected: &str) {
    assert_eq!(
        reasons_for(overrides),
        vec![expected.to_string()],
        "for {overrides:?}"
    );
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

fn micros(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_micros()
}

// ------------------------------------------------------------ rules

#[test]
fn the_valid_row_lands_in_valid_with_typed_values() {
    let out = rules_harness().one("v.csv", &csv(&[row(&[])]));
    assert!(out.quarantined.is_empty(), "{:?}", out.quarantined);
    let b = &out.valid;
    assert_eq!(b.num_rows(), 1);
    assert_eq!(col::<StringArray>(b, "id").value(0), "r1");
    assert_eq!(col::<Int32Array>(b, "qty").value(0), 5);
    assert_eq!(col::<Int64Array>(b, "big").value(0), 9_000_000_000);
    assert_eq!(col::<Float64Array>(b, "ratio").value(0), 0.5);
    let amount = col::<Decimal128Array>(b, "amount");
    assert_eq!(
        (amount.value(0), amount.precision(), amount.scale()),
        (1234, 12, 2)
    );
    assert!(col::<BooleanArray>(b, "flag").value(0));
    let days = (NaiveDate::from_ymd_opt(2025, 1, 5).unwrap() - NaiveDate::default()).num_days();
    assert_eq!(col::<Date32Array>(b, "day").value(0) as i64, days);
    assert_eq!(
        col::<TimestampMicrosecondArray>(b, "local").value(0),
        micros("2025-01-05T10:00:00Z")
    );
    let ts = col::<TimestampMicrosecondArray>(b, "ts");
    assert_eq!(
        ts.value(0),
        micros("2025-01-05T10:00:00Z"),
        "the +02:00 offset is taken out"
    );
    assert_eq!(ts.timezone(), Some(UTC));
    assert_eq!(col::<StringArray>(b, "label").value(0), "ééé");
}

#[test]
fn an_empty_required_field_is_quarantined_as_required() {
    assert_one_reason(&[("id", "")], "id: required, but empty");
}

#[test]
fn a_value_that_does_not_parse_is_a_type_error_for_every_type() {
    let cases = [
        ("qty", "abc", "int"),
        ("qty", "3000000000", "int"),
        ("big", "1.5", "long"),
        ("ratio", "x1", "double"),
        ("ratio", "NaN", "double"),
        ("amount", "12.345", "decimal(12,2)"),
        ("amount", "1e3", "decimal(12,2)"),
        ("flag", "maybe", "boolean"),
        ("day", "2025-02-30", "date"),
        ("local", "2025-01-05T10:00", "timestamp"),
        ("ts", "yesterday", "timestamptz"),
        ("ts", "2025-01-05T25:00:00Z", "timestamptz"),
    ];
    for (column, value, ty) in cases {
        assert_one_reason(
            &[(column, value)],
            &format!("{column}: `{value}` is not a valid {ty}"),
        );
    }
}

#[test]
fn values_below_the_minimum_or_above_the_maximum_are_quarantined() {
    assert_one_reason(&[("qty", "0")], "qty: `0` is below the minimum 1");
    assert_one_reason(&[("qty", "101")], "qty: `101` is above the maximum 100");
    let reasons = reasons_for(&[("amount", "0.00")]);
    assert_eq!(reasons.len(), 1);
    assert!(
        reasons[0].starts_with("amount: `0.00` is below the minimum"),
        "{reasons:?}"
    );
}

#[test]
fn the_bounds_themselves_are_allowed() {
    let out = rules_harness().one(
        "b.csv",
        &csv(&[
            row(&[("qty", "1"), ("amount", "0.01")]),
            row(&[("id", "r2"), ("qty", "100")]),
        ]),
    );
    assert_eq!(
        (out.valid.num_rows(), out.quarantined.len()),
        (2, 0),
        "{:?}",
        out.quarantined
    );
}

#[test]
fn a_value_not_matching_the_regex_is_quarantined() {
    assert_one_reason(
        &[("code", "fr")],
        "code: `fr` does not match the pattern ^[A-Z]{2}$",
    );
}

#[test]
fn a_value_outside_allowed_is_quarantined() {
    assert_one_reason(&[("category", "z")], "category: `z` is not one of a, b");
}

#[test]
fn a_value_outside_the_enum_values_is_quarantined() {
    assert_one_reason(
        &[("status", "NEW")],
        "status: `NEW` is not one of new, done",
    );
}

#[test]
fn max_length_counts_characters_not_bytes() {
    assert_one_reason(
        &[("label", "éééé")],
        "label: 4 characters, longer than max_length 3",
    );
    let out = rules_harness().one("l.csv", &csv(&[row(&[("label", "日本語")])]));
    assert_eq!(
        out.valid.num_rows(),
        1,
        "3 characters in 9 bytes fit max_length 3"
    );
}

#[test]
fn a_row_outside_the_owned_partition_is_quarantined() {
    assert_one_reason(
        &[("ts", "2025-01-06T10:00:00Z")],
        "ts: falls in partition 2025-01-06, outside this task's partition 2025-01-05",
    );
}

#[test]
fn the_partition_of_a_timestamptz_is_its_utc_day() {
    let reasons = reasons_for(&[("ts", "2025-01-05T23:30:00-02:00")]);
    assert!(reasons[0].contains("partition 2025-01-06"), "{reasons:?}");
    let out = rules_harness().one(
        "p.csv",
        &csv(&[row(&[("ts", "2025-01-06T00:30:00+02:00")])]),
    );
    assert_eq!(out.valid.num_rows(), 1, "22:30 UTC on the 5th");
}

#[test]
fn a_row_breaking_two_rules_gets_both_reasons() {
    let reasons = reasons_for(&[("qty", "0"), ("code", "fr")]);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("qty: `0`")));
    assert!(reasons.iter().any(|r| r.starts_with("code: `fr`")));
}

#[test]
fn a_type_error_is_not_also_reported_as_a_bound_violation() {
    assert_eq!(reasons_for(&[("qty", "x")]).len(), 1);
}

#[test]
fn good_and_bad_rows_of_one_batch_are_split() {
    let rows = [
        row(&[]),
        row(&[("id", "r2"), ("flag", "maybe")]),
        row(&[("id", "r3")]),
    ];
    let out = rules_harness().one("m.csv", &csv(&rows));
    assert_eq!(out.valid.num_rows(), 2);
    assert_eq!(col::<StringArray>(&out.valid, "id").value(1), "r3");
    assert_eq!(
        (out.quarantined[0].line, out.quarantined[0].raw.clone()),
        (3, rows[1].clone())
    );
}

#[test]

fn an_identity_partition_reason_names_the_rows_value() {
    let columns = "[[columns]]\nname = \"region\"\ntype = \"string\"\nrequired = true\n";
    let owned = PartitionValue::parse(TransformKind::Identity, "eu");
    let mut h = Harness::new(contract("partition = \"identity(region)\"", columns), owned);
    let out = h.one("i.csv", "region\neu\nus\n");
    assert_eq!(out.valid.num_rows(), 1);
    assert!(
        out.quarantined[0].reasons[0].contains("us"),
        "{:?}",
        out.quarantined[0].reasons
    );
}

#[test]

fn a_timestamp_column_accepts_iso_8601_without_an_offset_by_default() {
    let columns = "[[columns]]\nname = \"at\"\ntype = \"timestamp\"\n";
    let out = Harness::new(contract("", columns), None).one("t.csv", "at\n2025-01-05T10:00:00\n");
    assert!(out.quarantined.is_empty(), "{:?}", out.quarantined);
    assert_eq!(
        col::<TimestampMicrosecondArray>(&out.valid, "at").value(0),
        micros("2025-01-05T10:00:00Z")
    );
}

#[test]

fn a_timestamp_min_with_an_offset_compares_like_the_values() {
    let columns =
        "[[columns]]\nname = \"at\"\ntype = \"timestamp\"\nmin = \"2025-01-05T10:00:00+01:00\"\n";
    let out =
        Harness::new(contract("", columns), None).one("t.csv", "at\n2025-01-05T09:30:00+01:00\n");
    assert_eq!(
        out.quarantined.len(),
        1,
        "09:30+01:00 is before the minimum 10:00+01:00"
    );
}

#[test]

fn a_timestamptz_with_an_out_of_range_offset_is_a_type_error() {
    assert_one_reason(
        &[("ts", "2025-01-05T10:00:00+25:00")],
        "ts: `2025-01-05T10:00:00+25:00` is not a valid timestamptz",
    );
}

// ------------------------------------------------------------ dedupe

#[test]
fn dedupe_condemns_the_second_occurrence_and_keeps_the_first() {
    let mut h = rules_harness();
    let rows = [row(&[]), row(&[("id", "r2")]), row(&[("qty", "7")])];
    let (path, out) = h.file("d.csv", &csv(&rows));
    let out = &out[0];
    assert_eq!(out.valid.num_rows(), 2);
    assert_eq!(
        col::<Int32Array>(&out.valid, "qty").value(0),
        5,
        "the first is kept"
    );
    assert_eq!(out.condemned.len(), 1);
    let dup = &out.condemned[0];
    assert_eq!((dup.line, dup.raw.as_str()), (4, rows[2].as_str()));
    assert_eq!(dup.duplicate_of, format!("{path}:2"));
    assert_eq!(&*dup.file, path.as_str());
}

#[test]
fn dedupe_remembers_keys_across_batches_and_files() {
    let mut h = rules_harness();
    let (first, _) = h.file("a.csv", &csv(&[row(&[])]));
    let (_, out) = h.file("b.csv", &csv(&[row(&[("id", "r2")]), row(&[("qty", "9")])]));
    assert_eq!(out[0].valid.num_rows(), 1);
    assert_eq!(out[0].condemned[0].duplicate_of, format!("{first}:2"));
    assert_eq!(out[0].condemned[0].line, 3);
}

#[test]
fn a_quarantined_row_does_not_claim_its_dedupe_key() {
    let mut h = rules_harness();
    let out = h.one("q.csv", &csv(&[row(&[("qty", "0")]), row(&[])]));
    assert_eq!(
        (
            out.quarantined.len(),
            out.valid.num_rows(),
            out.condemned.len()
        ),
        (1, 1, 0)
    );
}

mod mutated;
mod properties;
