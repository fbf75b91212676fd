//! `[[models]]`: the shape of each Gold model (its SQL is planned by `floe-gold`).

use super::*;

fn model(partition: &str, extra: &str) -> String {
    format!(
        "{BASE}\n[[models]]\nname = \"daily\"\ntable = \"gold.daily\"\npartition = \"{partition}\"\nsql = \"\"\"\nSELECT CAST(ts AS DATE) AS day, SUM(amount) AS total\nFROM silver.orders GROUP BY 1\n\"\"\"\n{extra}"
    )
}

#[test]
fn a_model_parses_with_its_tests_and_the_line_its_sql_starts_on() {
    let text = model(
        "identity(day)",
        "[[models.tests]]\ntype = \"unique\"\ncolumns = [\"day\"]\n\n[[models.tests]]\ntype = \"reconcile\"\ngold = \"SUM(total)\"\nsilver = \"SUM(amount)\"\n",
    );
    let c = parse(&text).unwrap();
    let m = &c.models[0];
    assert_eq!(m.table.to_string(), "gold.daily");
    assert_eq!(m.partition.as_ref().unwrap().column, "day");
    assert!(m.sql.starts_with("SELECT CAST"));
    let first = text
        .lines()
        .position(|l| l.starts_with("SELECT CAST"))
        .unwrap()
        + 1;
    assert_eq!(m.sql_first_line, Some(first));
    assert_eq!(m.tests.len(), 2);
    assert_eq!(m.tests[1].name(), "reconcile(SUM(total) = SUM(amount))");
}

#[test]
fn a_model_partition_must_match_silver() {
    assert_invalid(
        &model("month(day)", ""),
        "models[0].partition",
        "does not match",
        "same transform",
    );
    assert_invalid(
        &model("none", ""),
        "models[0].partition",
        "none while Silver is partitioned",
        "granularity",
    );
    assert_invalid(
        &model("bucket(day)", ""),
        "models[0].partition",
        "bucket(day)",
        "identity(col)",
    );
    assert!(parse(&model("day(day)", "")).is_ok());
}

#[test]
fn a_model_needs_its_own_table_and_a_unique_name() {
    let text =
        model("identity(day)", "").replace("table = \"gold.daily\"", "table = \"silver.orders\"");
    assert_invalid(
        &text,
        "models[0].table",
        "silver.orders",
        "a table of its own",
    );
    let twice = format!(
        "{}\n{}",
        model("identity(day)", ""),
        model("identity(day)", "").replace(BASE, "")
    );
    assert_invalid(&twice, "models[1].name", "daily", "no other model");
}

#[test]
fn a_test_of_an_unknown_type_or_with_no_columns_is_refused() {
    let err = parse(&model(
        "identity(day)",
        "[[models.tests]]\ntype = \"positive\"\ncolumns = [\"day\"]\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("positive"), "{err}");
    assert_invalid(
        &model(
            "identity(day)",
            "[[models.tests]]\ntype = \"not_null\"\ncolumns = []\n",
        ),
        "models[0].tests[0].columns",
        "empty",
        "column names",
    );
}
