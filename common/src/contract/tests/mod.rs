//! Contract checking: every mistake is a [`ContractError`] (never a panic) whose
//! message names the file, the key, what was found and what was expected.

use std::path::Path;

use super::*;

const ORIGIN: &str = "contracts/orders.toml";

/// A valid contract; tests replace one piece of it.
const BASE: &str = r#"[pipeline]
name = "orders"
version = 1

[source]
location = "orders/date={date}/*.csv"
format = "csv"
compression = "auto"

[source.csv]
delimiter = ","

[target]
table = "silver.orders"
partition = "day(ts)"
quarantine_table = "silver.orders_quarantine"
condemned_table = "silver.orders_condemned"
target_file_size_mb = 128

[dedupe]
key = ["id"]

[[columns]]
name = "id"
type = "string"
required = true

[[columns]]
name = "ts"
type = "timestamptz"
required = true

[[columns]]
name = "amount"
type = "decimal(12,2)"

[[columns]]
name = "qty"
type = "int"

[[columns]]
name = "note"
type = "string"
"#;

fn parse(text: &str) -> Result<Contract, ContractError> {
    Contract::parse(text, Path::new(ORIGIN))
}

/// BASE with `from` (which must occur) replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

/// BASE with extra keys added to the column named `column`.
fn with_column_keys(column: &str, keys: &str) -> String {
    let decl = format!("name = \"{column}\"\n");
    with(&decl, &format!("{decl}{keys}\n"))
}

/// Asserts `text` is rejected as `Invalid` at `key`, with `found` and `expected`
/// in the message; returns the message.
fn assert_invalid(text: &str, key: &str, found: &str, expected: &str) -> String {
    let err = parse(text).expect_err("the contract should be rejected");
    let msg = err.to_string();
    match &err {
        ContractError::Invalid {
            file,
            key: k,
            found: f,
            expected: e,
        } => {
            assert_eq!(file, Path::new(ORIGIN));
            assert_eq!(k, key, "{msg}");
            assert!(f.contains(found), "found {f:?} should contain {found:?}");
            assert!(
                e.contains(expected),
                "expected {e:?} should contain {expected:?}"
            );
        }
        other => panic!("expected an Invalid error, got {other:?}"),
    }
    for part in [ORIGIN, key, found, expected] {
        assert!(
            msg.contains(part),
            "message {msg:?} should contain {part:?}"
        );
    }
    msg
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

/// Asserts `text` is rejected as a TOML syntax error at `line`; returns (column, message).
fn assert_syntax(text: &str, line: usize) -> (usize, String) {
    match parse(text).expect_err("the contract should be rejected") {
        ContractError::Syntax {
            file,
            line: l,
            column,
            message,
        } => {
            assert_eq!(file, Path::new(ORIGIN));
            assert_eq!(l, line, "{message}");
            (column, message)
        }
        other => panic!("expected a Syntax error, got {other:?}"),
    }
}

// ------------------------------------------------------------ valid contracts

#[test]
fn the_base_contract_parses_into_typed_fields() {
    let c = parse(BASE).unwrap();
    assert_eq!((c.name.as_str(), c.version), ("orders", 1));
    assert_eq!(c.source.format, SourceFormat::Csv);
    assert_eq!(c.source.compression, Compression::Auto);
    assert_eq!(
        c.source.csv,
        CsvOptions {
            header: true,
            delimiter: b',',
            quote: b'"',
            newlines_in_values: true,
        }
    );
    assert_eq!(c.target.table.to_string(), "silver.orders");
    assert_eq!(
        c.target.partition,
        Some(PartitionTransform {
            kind: TransformKind::Day,
            column: 1
        })
    );
    assert_eq!(c.target.target_file_size_bytes, 128 * 1024 * 1024);
    assert_eq!(c.dedupe_key, vec![0]);
    assert_eq!(
        c.columns[2].data_type,
        DataType::Decimal {
            precision: 12,
            scale: 2
        }
    );
    assert_eq!(c.max_record_bytes, 16 * 1024 * 1024);
    assert_eq!(c.text, BASE);
}

#[test]
fn the_example_transactions_contract_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/transactions.toml");
    let c = Contract::load(Path::new(path)).unwrap();
    assert_eq!(c.columns.len(), 14);
    let ts = c.column_index("ts").unwrap();
    assert_eq!(
        c.target.partition,
        Some(PartitionTransform {
            kind: TransformKind::Day,
            column: ts
        })
    );
    assert_eq!(
        c.dedupe_key,
        vec![c.column_index("transaction_id").unwrap()]
    );
    let amount = &c.columns[c.column_index("amount").unwrap()];
    assert_eq!(
        (amount.min, amount.max),
        (Some(Bound::Decimal(1)), Some(Bound::Decimal(5_000_000)))
    );
    let currency = &c.columns[c.column_index("currency").unwrap()];
    assert_eq!(currency.allowed.as_ref().unwrap().len(), 5);
}

#[test]
fn bounds_are_stored_in_the_columns_unit() {
    let text = with_column_keys("qty", "min = 1\nmax = 1000");
    let text = text.replace(
        "type = \"timestamptz\"\n",
        "type = \"timestamptz\"\nmin = 2025-01-01T00:00:00Z\n",
    );
    let c = parse(&text).unwrap();
    assert_eq!(
        (c.columns[3].min, c.columns[3].max),
        (Some(Bound::Integer(1)), Some(Bound::Integer(1000)))
    );
    assert_eq!(c.columns[1].min, Some(Bound::Micros(1_735_689_600_000_000)));
}

#[test]
fn a_tab_delimiter_may_be_spelled_backslash_t() {
    let c = parse(&with("delimiter = \",\"", "delimiter = \"\\\\t\"")).unwrap();
    assert_eq!(c.source.csv.delimiter, b'\t');
}

#[test]
fn a_missing_contract_file_is_unreadable_naming_the_file() {
    let err = Contract::load(Path::new("/nonexistent/floe.toml")).unwrap_err();
    assert!(matches!(err, ContractError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/floe.toml"), "{err}");
}

// ------------------------------------------------------------ TOML-level errors

#[test]
fn a_toml_syntax_error_names_its_line_and_column() {
    let (column, message) = assert_syntax(&with("version = 1", "version = = 1"), 3);
    assert_eq!(column, 11, "{message}");
    let msg = parse(&with("version = 1", "version = = 1"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!(
            "contract {ORIGIN} is not valid TOML at line 3, column 11"
        )),
        "{msg}"
    );
}

#[test]
fn an_unknown_key_is_rejected_naming_it_and_the_known_keys() {
    let text = with_column_keys("note", "reqired = true");
    let (column, message) = assert_syntax(&text, line_of(&text, "reqired"));
    assert_eq!(column, 1);
    assert!(message.contains("reqired"), "{message}");
    assert!(
        message.contains("required"),
        "the message lists the expected keys: {message}"
    );
}

#[test]
fn an_unknown_section_is_rejected_naming_it() {
    let text = with("[target]", "[tar]");
    let (_, message) = assert_syntax(&text, line_of(&text, "[tar]"));
    assert!(message.contains("unknown field `tar`"), "{message}");
}

#[test]
fn a_missing_section_is_rejected_naming_it() {
    let start = BASE.find("[target]").unwrap();
    let text = format!(
        "{}{}",
        &BASE[..start],
        &BASE[BASE.find("[dedupe]").unwrap()..]
    );
    let msg = parse(&text).unwrap_err().to_string();
    assert!(
        msg.contains(ORIGIN) && msg.contains("missing field `target`"),
        "{msg}"
    );
}

mod columns;
mod models;
mod names;
mod sources;
