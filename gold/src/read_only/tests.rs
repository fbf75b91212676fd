use super::*;
use crate::session::{new_session, Limits};

fn ctx() -> SessionContext {
    new_session(&Limits::default())
}

fn refused_kind(sql: &str) -> String {
    match check(&ctx(), sql) {
        Err(Refused::NotAQuery(kind)) => kind,
        other => panic!("`{sql}` was not refused as a non-query: {other:?}"),
    }
}

#[test]
fn plain_queries_pass() {
    for sql in [
        "SELECT 1",
        "select 1 as a union all select 2",
        "WITH t AS (SELECT 1 AS a) SELECT a FROM t",
        "VALUES (1), (2)",
        "SELECT * FROM (VALUES (1)) AS v(a) WHERE a IN (SELECT 1)",
    ] {
        assert!(check(&ctx(), sql).is_ok(), "{sql} was refused");
    }
}

/// Statements that are not read-only queries, each with the kind a refusal
/// names; those that would write do so at `target`.
pub(crate) fn not_queries(target: &std::path::Path) -> Vec<(String, &'static str)> {
    let target = target.display();
    vec![
        (
            format!("COPY (VALUES ('owned')) TO '{target}' STORED AS CSV"),
            "COPY",
        ),
        (
            format!("EXPLAIN ANALYZE COPY (VALUES ('owned')) TO '{target}' STORED AS CSV"),
            "EXPLAIN ANALYZE",
        ),
        ("EXPLAIN ANALYZE SELECT 1".into(), "EXPLAIN ANALYZE"),
        ("EXPLAIN SELECT 1".into(), "EXPLAIN"),
        (
            format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{target}'"),
            "CREATE EXTERNAL TABLE",
        ),
        ("CREATE TABLE t AS SELECT 1 AS day".into(), "CREATE TABLE"),
        ("CREATE VIEW v AS SELECT 1".into(), "CREATE VIEW"),
        (
            "INSERT INTO silver.transactions VALUES (1)".into(),
            "INSERT INTO",
        ),
        ("DROP TABLE t".into(), "DROP TABLE"),
        ("SET datafusion.execution.batch_size = 1".into(), "SET"),
        ("RESET datafusion.execution.batch_size".into(), "RESET"),
    ]
}

#[test]
fn every_other_statement_kind_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = not_queries(&dir.path().join("owned.csv"));
    for (sql, kind) in cases {
        assert_eq!(refused_kind(&sql), kind, "{sql}");
    }
}

#[test]
fn more_than_one_statement_does_not_parse() {
    let two = "SELECT 1; COPY (VALUES (1)) TO '/tmp/x.csv' STORED AS CSV";
    assert!(matches!(check(&ctx(), two), Err(Refused::Sql(_))));
}

#[tokio::test]
async fn refused_sql_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("owned.csv");
    let sql = format!(
        "EXPLAIN ANALYZE COPY (VALUES ('owned')) TO '{}' STORED AS CSV",
        target.display()
    );
    assert!(matches!(
        plan(&ctx(), &sql).await,
        Err(Refused::NotAQuery(_))
    ));
    assert!(!target.exists());
}

/// The second check stands alone: a plan that writes fails verification even
/// when it was built without the statement check.
#[tokio::test]
async fn plan_verification_refuses_copy_under_explain_analyze() {
    let ctx = ctx();
    let sql = "EXPLAIN ANALYZE COPY (VALUES ('owned')) TO '/nonexistent/owned.csv' STORED AS CSV";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let e = options().verify_plan(&plan).unwrap_err();
    assert!(e.to_string().contains("COPY"), "{e}");
}

#[tokio::test]
async fn queries_plan_and_run() {
    let batches = plan(&ctx(), "SELECT 40 + 2 AS answer")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(batches[0].num_rows(), 1);
}

/// Table functions are the other way SQL reaches beyond its tables: the
/// session has only the ones that generate rows, none that read files.
#[test]
fn only_row_generating_table_functions_exist() {
    let mut names: Vec<String> = ctx().state().table_functions().keys().cloned().collect();
    names.sort();
    assert_eq!(names, ["generate_series", "range"]);
}

/// Reading a path as a table (`SELECT * FROM '/etc/passwd'`) needs URL tables,
/// which Gold sessions never enable.
#[tokio::test]
async fn a_path_is_not_a_table() {
    let e = plan(&ctx(), "SELECT * FROM '/etc/hostname'")
        .await
        .unwrap_err();
    assert!(matches!(e, Refused::Sql(_)), "{e:?}");
}
