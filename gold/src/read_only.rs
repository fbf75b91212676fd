//! Gold runs SQL written by contract authors (and `floe-coordinator sql` runs
//! SQL typed by anyone with a token) on shared machines, so it runs one kind of
//! statement only: a read-only query (`SELECT`, `WITH`, `VALUES`).
//!
//! DataFusion's `SessionContext::sql` also runs DDL, DML, `COPY … TO` and `SET`,
//! and `EXPLAIN ANALYZE` executes what it explains: each would let a model write
//! files on a worker or change the session. Two independent checks refuse them:
//! the parsed statement must be a plain query (which also names the kind of what
//! was refused), and the logical plan is verified with [`SQLOptions`] that allow
//! no DDL, DML or statements, so a plan that still held one (through a subquery
//! or a future syntax) fails too.

use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;

/// Why SQL was not planned.
#[derive(Debug)]
pub(crate) enum Refused {
    /// It parsed, but is not a read-only query: the kind of statement it is
    /// (`COPY`, `CREATE EXTERNAL TABLE`, `EXPLAIN ANALYZE`, `INSERT INTO`, …).
    NotAQuery(String),
    /// It does not parse or plan.
    Sql(DataFusionError),
}

impl From<DataFusionError> for Refused {
    fn from(e: DataFusionError) -> Self {
        Refused::Sql(e)
    }
}

/// The statement options every Gold plan is verified with.
pub(crate) fn options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Parses `sql` (one statement) and refuses it unless it is a read-only query.
pub(crate) fn check(ctx: &SessionContext, sql: &str) -> Result<(), Refused> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect)?;
    match kind_unless_query(&statement) {
        None => Ok(()),
        Some(kind) => Err(Refused::NotAQuery(kind)),
    }
}

/// Plans `sql` after [`check`], verifying the plan with [`options`].
pub(crate) async fn plan(ctx: &SessionContext, sql: &str) -> Result<DataFrame, Refused> {
    check(ctx, sql)?;
    Ok(ctx.sql_with_options(sql, options()).await?)
}

/// The logical plan of `sql` after [`check`], verified with [`options`].
pub(crate) async fn logical_plan(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan, Refused> {
    check(ctx, sql)?;
    let plan = ctx.state().create_logical_plan(sql).await?;
    options().verify_plan(&plan)?;
    Ok(plan)
}

/// None for a plain query; otherwise the statement's kind, as its leading
/// keywords.
fn kind_unless_query(statement: &DfStatement) -> Option<String> {
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            Statement::Query(_) => None,
            Statement::Explain { analyze: true, .. } => Some("EXPLAIN ANALYZE".into()),
            other => Some(leading_keywords(&other.to_string())),
        },
        DfStatement::CreateExternalTable(_) => Some("CREATE EXTERNAL TABLE".into()),
        DfStatement::CopyTo(_) => Some("COPY".into()),
        DfStatement::Explain(e) if e.analyze => Some("EXPLAIN ANALYZE".into()),
        DfStatement::Explain(_) => Some("EXPLAIN".into()),
        DfStatement::Reset(_) => Some("RESET".into()),
    }
}

/// `INSERT INTO t VALUES (1)` → `INSERT INTO`: up to two upper-case words, as
/// sqlparser prints keywords, so names and values are never quoted back.
fn leading_keywords(statement: &str) -> String {
    let words: Vec<&str> = statement
        .split_whitespace()
        .take(2)
        .take_while(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    if words.is_empty() {
        "non-query".into()
    } else {
        words.join(" ")
    }
}

/// What a refusal says: the kind, and what is allowed instead.
pub(crate) fn refusal(kind: &str) -> String {
    format!(
        "is a {kind} statement, and only one read-only query (SELECT, WITH or VALUES) may run; \
         nothing else (DDL, DML, COPY, EXPLAIN ANALYZE, SET, CREATE EXTERNAL TABLE) is allowed"
    )
}

#[cfg(test)]
pub(crate) mod tests;
