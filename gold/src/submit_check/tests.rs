use std::path::Path;

use floe_common::contract::Contract;

use super::*;

const EXAMPLE: &str = include_str!("../../../examples/transactions.toml");

/// The example contract without its models, plus `models`.
fn with_models(models: &str) -> Contract {
    let base = EXAMPLE.split("\n[[models]]").next().unwrap();
    let text = format!("{base}\n{models}");
    Contract::parse(&text, Path::new("t.toml")).unwrap()
}

fn model(name: &str, table: &str, sql: &str) -> String {
    format!(
        "[[models]]\nname = \"{name}\"\ntable = \"{table}\"\npartition = \"identity(day)\"\nsql = \"\"\"\n{sql}\n\"\"\"\n"
    )
}

async fn error(models: &str) -> String {
    check_models(&with_models(models))
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn the_example_models_plan_in_dependency_order() {
    let contract = Contract::parse(EXAMPLE, Path::new("examples/transactions.toml")).unwrap();
    let checked = check_models(&contract).await.unwrap();
    let names: Vec<&str> = checked.iter().map(|c| c.spec.name.as_str()).collect();
    assert_eq!(names, ["daily_revenue", "daily_currency_totals"]);
    assert_eq!(checked[1].upstream, ["daily_revenue"]);
    let revenue = checked[0].output.field_with_name("revenue").unwrap();
    assert!(
        matches!(revenue.data_type(), DataType::Decimal128(_, 2)),
        "{revenue:?}"
    );
}

#[tokio::test]
async fn a_model_declared_before_the_model_it_reads_runs_after_it() {
    let b = model(
        "b",
        "gold.b",
        "SELECT day, SUM(n) AS n FROM gold.a GROUP BY day",
    );
    let a = model(
        "a",
        "gold.a",
        "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS n FROM silver.transactions GROUP BY 1",
    );
    let checked = check_models(&with_models(&format!("{b}\n{a}")))
        .await
        .unwrap();
    let names: Vec<&str> = checked.iter().map(|c| c.spec.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test]
async fn a_syntax_error_names_its_line_and_column_in_the_sql_and_the_contract() {
    let e = error(&model(
        "bad",
        "gold.bad",
        "SELECT CAST(ts AS DATE) AS day,\n  COUNT(* AS n\nFROM silver.transactions",
    ))
    .await;
    assert!(e.contains("model `bad`"), "{e}");
    assert!(e.contains("line 2, column"), "{e}");
    // The SQL starts on the line after `sql = """`, 6 lines into the model.
    let base_lines = EXAMPLE
        .split("\n[[models]]")
        .next()
        .unwrap()
        .lines()
        .count();
    assert!(
        e.contains(&format!("(line {} of the contract)", base_lines + 6 + 1)),
        "{e}"
    );
    assert!(
        e.contains("Expected: ), found: AS (line 2"),
        "the parser's words, without its wrapping: {e}"
    );
}

#[tokio::test]
async fn an_unknown_column_is_named_with_its_position() {
    let e = error(&model(
        "bad",
        "gold.bad",
        "SELECT CAST(ts AS DATE) AS day,\n       SUM(amout) AS revenue\nFROM silver.transactions GROUP BY 1",
    ))
    .await;
    assert!(e.contains("amout"), "{e}");
    assert!(e.contains("line 2, column 12"), "{e}");
}

#[tokio::test]
async fn a_type_mismatch_is_rejected() {
    let e = error(&model(
        "bad",
        "gold.bad",
        "SELECT CAST(ts AS DATE) AS day, SUM(merchant_id) AS s FROM silver.transactions GROUP BY 1",
    ))
    .await;
    assert!(
        e.contains("model `bad`") && e.to_lowercase().contains("sum"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unknown_table_is_rejected() {
    let e = error(&model(
        "bad",
        "gold.bad",
        "SELECT CAST(ts AS DATE) AS day FROM silver.transactionz",
    ))
    .await;
    assert!(
        e.contains("silver.transactionz") && e.contains("neither"),
        "{e}"
    );
}

#[tokio::test]
async fn models_reading_each_other_are_a_cycle() {
    let a = model("a", "gold.a", "SELECT day FROM gold.b");
    let b = model("b", "gold.b", "SELECT day FROM gold.a");
    let e = error(&format!("{a}\n{b}")).await;
    assert!(e.contains("cycle"), "{e}");
}

#[tokio::test]
async fn the_partition_column_must_be_a_date_in_the_result() {
    let e = error(&model(
        "bad",
        "gold.bad",
        "SELECT merchant_id FROM silver.transactions",
    ))
    .await;
    assert!(e.contains("partition column `day` is not a column"), "{e}");
    let e = error(&model(
        "bad",
        "gold.bad",
        "SELECT merchant_id AS day FROM silver.transactions",
    ))
    .await;
    assert!(e.contains("does not fit"), "{e}");
}

#[tokio::test]
async fn a_test_on_an_unknown_column_is_rejected() {
    let m = model(
        "m",
        "gold.m",
        "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS n FROM silver.transactions GROUP BY 1",
    );
    let e = error(&format!(
        "{m}\n[[models.tests]]\ntype = \"not_null\"\ncolumns = [\"nn\"]\n"
    ))
    .await;
    assert!(e.contains("not_null(nn)"), "{e}");
    let e = error(&format!(
        "{m}\n[[models.tests]]\ntype = \"reconcile\"\ngold = \"SUM(n)\"\nsilver = \"SUM(amont)\"\n"
    ))
    .await;
    assert!(e.contains("reconcile") && e.contains("amont"), "{e}");
}

/// Every statement kind but a query is refused by the check that runs at
/// submit and again on the worker (which checks the models of every Gold task
/// it is given), naming the model and the kind, and nothing is written.
#[tokio::test]
async fn a_model_that_is_not_a_read_only_query_is_refused_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let cases = crate::read_only::tests::not_queries(&dir.path().join("owned.csv"));
    for (sql, kind) in cases {
        let e = check_models(&with_models(&model("owned", "gold.owned", &sql)))
            .await
            .unwrap_err();
        assert!(matches!(e, GoldError::NotReadOnly { .. }), "{sql}: {e}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("model `owned`: its SQL is a {kind} statement")),
            "{sql}: {text}"
        );
        assert!(!e.is_retryable());
    }
    assert!(!dir.path().join("owned.csv").exists());
}

/// A reconcile test splices its expressions into a query: they cannot turn it
/// into two statements.
#[tokio::test]
async fn a_model_test_cannot_smuggle_a_statement() {
    let m = model(
        "m",
        "gold.m",
        "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS n FROM silver.transactions GROUP BY 1",
    );
    let e = error(&format!(
        "{m}\n[[models.tests]]\ntype = \"reconcile\"\ngold = \"SUM(n)) FROM gold.m; COPY (VALUES (1)) TO '/tmp/x.csv' STORED AS CSV; SELECT (1\"\nsilver = \"SUM(amount)\"\n"
    ))
    .await;
    assert!(e.contains("reconcile"), "{e}");
    assert!(!std::path::Path::new("/tmp/x.csv").exists());
}

/// A contract version that renames or drops a column a model reads is refused
/// at submit, naming the column: the models are planned against the new Silver.
#[tokio::test]
async fn a_model_reading_a_renamed_column_is_refused_at_submit() {
    let renamed = EXAMPLE.replace(
        "name = \"merchant_id\"",
        "name = \"merchant\"\nrenamed_from = \"merchant_id\"",
    );
    let contract = Contract::parse(&renamed, Path::new("v2.toml")).unwrap();
    let e = check_models(&contract).await.unwrap_err().to_string();
    assert!(e.contains("daily_revenue"), "{e}");
    assert!(e.contains("merchant_id"), "{e}");
    // With the model following the rename, it plans, and sees the lineage columns.
    let fixed = renamed.replace("merchant_id", "merchant").replace(
        "renamed_from = \"merchant\"",
        "renamed_from = \"merchant_id\"",
    );
    let contract = Contract::parse(&fixed, Path::new("v2.toml")).unwrap();
    check_models(&contract).await.unwrap();
    let lineage = with_models(&model(
        "lineage",
        "gold.lineage",
        "SELECT CAST(ts AS DATE) AS day, COUNT(DISTINCT _floe_source_file) AS files\nFROM silver.transactions GROUP BY 1",
    ));
    check_models(&lineage).await.unwrap();
}
