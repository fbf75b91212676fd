//! Checks a contract's Gold models before anything runs: each model's SQL is
//! planned by DataFusion against the schemas it reads (Silver's from the
//! contract, an upstream model's from its own plan), so a syntax error, an
//! unknown table or column, or a type mismatch is reported at submit, with its
//! position in the SQL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_schema::{DataType, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use floe_common::contract::{Contract, ModelSpec, ModelTest, TableName, TransformKind};

use crate::error::{model_error, GoldError, Result};
use crate::read_only::{self, Refused};
use crate::schema::{iceberg_type, silver_arrow_schema};
use crate::session::{new_session, register, Limits};

/// A model that plans, with what it reads and what it produces.
#[derive(Debug, Clone)]
pub struct CheckedModel {
    pub spec: ModelSpec,
    /// The tables its SQL reads.
    pub reads: Vec<TableName>,
    /// The models whose tables it reads: their tasks run first.
    pub upstream: Vec<String>,
    /// The result's columns as the engine produces them.
    pub output: SchemaRef,
}

/// Checks every model of `contract`; returns them in dependency order (a model
/// after every model it reads).
pub async fn check_models(contract: &Contract) -> Result<Vec<CheckedModel>> {
    if contract.models.is_empty() {
        return Ok(Vec::new());
    }
    // Planning over empty tables needs little memory.
    let ctx = new_session(&Limits::default());
    let silver = &contract.target.table;
    register(&ctx, silver, empty(silver_arrow_schema(contract)?)?)?;
    let mut reads = BTreeMap::new();
    for m in &contract.models {
        reads.insert(m.name.clone(), tables_read(&ctx, contract, m)?);
    }
    let mut checked = Vec::with_capacity(contract.models.len());
    for m in dependency_order(contract, &reads)? {
        let output = plan_output(&ctx, m).await?;
        check_output(contract, m, &output)?;
        register(&ctx, &m.table, empty(output.clone())?)?;
        check_tests(&ctx, contract, m).await?;
        let model_tables: BTreeMap<&TableName, &str> = contract
            .models
            .iter()
            .map(|o| (&o.table, o.name.as_str()))
            .collect();
        let read = reads.remove(&m.name).unwrap_or_default();
        checked.push(CheckedModel {
            upstream: read
                .iter()
                .filter_map(|t| model_tables.get(t).map(|n| n.to_string()))
                .collect(),
            reads: read,
            spec: m.clone(),
            output,
        });
    }
    Ok(checked)
}

fn empty(schema: SchemaRef) -> Result<Arc<MemTable>> {
    MemTable::try_new(schema, vec![vec![]])
        .map(Arc::new)
        .map_err(GoldError::engine("creating an empty table"))
}

/// The tables `m`'s SQL names: each must be the Silver table or a model's table.
fn tables_read(ctx: &SessionContext, contract: &Contract, m: &ModelSpec) -> Result<Vec<TableName>> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    read_only::check(ctx, &m.sql).map_err(|e| refused(m, e))?;
    let statement = state
        .sql_to_statement(&m.sql, &dialect)
        .map_err(|e| sql_error(m, &e))?;
    let references = state
        .resolve_table_references(&statement)
        .map_err(|e| sql_error(m, &e))?;
    let mut tables = BTreeSet::new();
    for r in references {
        let spelled = r.to_string();
        let name = r
            .schema()
            .and_then(|ns| TableName::parse(&format!("{ns}.{}", r.table())));
        let known = name.as_ref().is_some_and(|n| {
            *n == contract.target.table || contract.models.iter().any(|o| o.table == *n)
        });
        match name {
            Some(n) if n == m.table => {
                return Err(model_error(m, format!("reads its own table `{n}`")));
            }
            Some(n) if known => {
                tables.insert(n);
            }
            _ => {
                return Err(model_error(
                    m,
                    format!(
                        "reads `{spelled}`, which is neither this pipeline's Silver table `{}` \
                         nor another model's table; a model reads only those, named as namespace.table",
                        contract.target.table
                    ),
                ))
            }
        }
    }
    Ok(tables.into_iter().collect())
}

/// Models ordered so each comes after the models whose tables it reads.
fn dependency_order<'a>(
    contract: &'a Contract,
    reads: &BTreeMap<String, Vec<TableName>>,
) -> Result<Vec<&'a ModelSpec>> {
    let mut done: Vec<&ModelSpec> = Vec::new();
    let mut left: Vec<&ModelSpec> = contract.models.iter().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|m| {
            reads[&m.name]
                .iter()
                .all(|t| *t == contract.target.table || done.iter().any(|d| d.table == *t))
        });
        match ready {
            Some(i) => done.push(left.remove(i)),
            None => {
                let names: Vec<&str> = left.iter().map(|m| m.name.as_str()).collect();
                return Err(model_error(
                    left[0],
                    format!(
                        "models {} read each other's tables in a cycle; one of them must read Silver instead",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(done)
}

async fn plan_output(ctx: &SessionContext, m: &ModelSpec) -> Result<SchemaRef> {
    let plan = read_only::logical_plan(ctx, &m.sql)
        .await
        .map_err(|e| refused(m, e))?;
    let schema = plan.schema().inner().clone();
    // Type checking happens in the analyzer; physical planning runs it all.
    ctx.state()
        .create_physical_plan(&plan)
        .await
        .map_err(|e| sql_error(m, &e))?;
    Ok(schema)
}

fn check_output(contract: &Contract, m: &ModelSpec, output: &SchemaRef) -> Result<()> {
    let mut seen = BTreeSet::new();
    for f in output.fields() {
        if !seen.insert(f.name().as_str()) {
            return Err(model_error(
                m,
                format!(
                    "its result has two columns named `{}`; give each an alias",
                    f.name()
                ),
            ));
        }
        if iceberg_type(f.data_type()).is_none() {
            return Err(model_error(
                m,
                format!(
                    "its result column `{}` has type {}, which a Gold table cannot hold; CAST it to \
                     a string, number, decimal, boolean, date or timestamp",
                    f.name(),
                    f.data_type()
                ),
            ));
        }
    }
    let (Some(p), Some(silver)) = (&m.partition, &contract.target.partition) else {
        return Ok(());
    };
    let Ok(field) = output.field_with_name(&p.column) else {
        return Err(model_error(
            m,
            format!(
                "its partition column `{}` is not a column of its result (columns: {})",
                p.column,
                names(output)
            ),
        ));
    };
    let t = field.data_type();
    let temporal = matches!(t, DataType::Date32 | DataType::Timestamp(..));
    let fits = match (p.kind, silver.kind) {
        (TransformKind::Identity, TransformKind::Day) => *t == DataType::Date32,
        (TransformKind::Identity, _) => {
            let silver_col = &contract.columns[silver.column];
            let silver_type = silver_arrow_schema(contract)?
                .field_with_name(&silver_col.name)
                .map(|f| f.data_type().clone())
                .ok();
            silver_type.as_ref() == Some(t)
                || (is_string(t) && silver_type.as_ref().is_some_and(is_string))
        }
        _ => temporal,
    };
    if !fits {
        return Err(model_error(
            m,
            format!(
                "its partition column `{}` has type {t}, which does not fit `{:?}({})` over Silver's {:?} partitions; \
                 return a DATE (or a timestamp for day, month and year)",
                p.column, p.kind, p.column, silver.kind
            ),
        ));
    }
    Ok(())
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn names(schema: &SchemaRef) -> String {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names.join(", ")
}

/// Each test names existing columns, and a reconcile's expressions plan.
async fn check_tests(ctx: &SessionContext, contract: &Contract, m: &ModelSpec) -> Result<()> {
    for t in &m.tests {
        let planned = match t {
            ModelTest::NotNull { columns } | ModelTest::Unique { columns } => {
                plan_sql(ctx, &format!("SELECT {} FROM {}", quoted(columns), m.table)).await
            }
            ModelTest::AcceptedValues { column, .. } => {
                let columns = quoted(std::slice::from_ref(column));
                plan_sql(ctx, &format!("SELECT {columns} FROM {}", m.table)).await
            }
            ModelTest::Reconcile { gold, silver } => {
                let silver_table = &contract.target.table;
                match plan_sql(ctx, &format!("SELECT ({gold}) FROM {}", m.table)).await {
                    Ok(()) => {
                        plan_sql(ctx, &format!("SELECT ({silver}) FROM {silver_table}")).await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        planned.map_err(|e| {
            let e = match e {
                Refused::NotAQuery(kind) => {
                    return model_error(
                        m,
                        format!("its test {} {}", t.name(), read_only::refusal(&kind)),
                    )
                }
                Refused::Sql(e) => e,
            };
            model_error(
                m,
                format!(
                    "its test {} does not fit its result: {}",
                    t.name(),
                    first_line(&e)
                ),
            )
        })?;
    }
    Ok(())
}

async fn plan_sql(ctx: &SessionContext, sql: &str) -> std::result::Result<(), Refused> {
    let plan = read_only::logical_plan(ctx, sql).await?;
    ctx.state().create_physical_plan(&plan).await?;
    Ok(())
}

/// A model whose SQL was refused: not a query, or not valid SQL.
pub(crate) fn refused(m: &ModelSpec, e: Refused) -> GoldError {
    match e {
        Refused::NotAQuery(kind) => GoldError::NotReadOnly {
            model: m.name.clone(),
            kind,
        },
        Refused::Sql(e) => sql_error(m, &e),
    }
}

/// Column names quoted for SQL, so that case and odd characters survive.
pub(crate) fn quoted(columns: &[String]) -> String {
    let q: Vec<String> = columns
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    q.join(", ")
}

fn first_line(e: &DataFusionError) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}

/// A planning error with the position the engine gives: the diagnostic's span
/// when there is one, else the parser's `Line: L, Column: C`.
pub(crate) fn sql_error(m: &ModelSpec, e: &DataFusionError) -> GoldError {
    let from_span = e
        .iter()
        .find_map(|e| e.diagnostic())
        .and_then(|d| d.span)
        .filter(|s| s.start.line > 0)
        .map(|s| (s.start.line as usize, s.start.column as usize));
    let position = from_span.or_else(|| parser_position(&e.to_string()));
    let message = match e.iter().find_map(|e| e.diagnostic()) {
        Some(d) => d.message.clone(),
        None => unwrapped(&first_line(e)),
    };
    let position = match position {
        Some((line, column)) => {
            let in_file = m
                .sql_first_line
                .map(|first| format!(" (line {} of the contract)", first + line - 1))
                .unwrap_or_default();
            format!("line {line}, column {column} of its SQL{in_file}")
        }
        None => "no position given".to_string(),
    };
    GoldError::Sql {
        model: m.name.clone(),
        message,
        position,
    }
}

/// The parser's own words: `SQL error: ParserError("Expected: ), found: AS at
/// Line: 2, Column: 11")` becomes `Expected: ), found: AS` (the position is
/// reported on its own).
fn unwrapped(message: &str) -> String {
    let m = message.strip_prefix("SQL error: ").unwrap_or(message);
    let m = m
        .strip_prefix("ParserError(\"")
        .and_then(|m| m.strip_suffix("\")"))
        .unwrap_or(m);
    let m = m.find(" at Line: ").map_or(m, |i| &m[..i]);
    m.to_string()
}

/// `... at Line: 3, Column: 14` in sqlparser's messages.
fn parser_position(text: &str) -> Option<(usize, usize)> {
    let at = text.find("Line: ")?;
    let rest = &text[at + 6..];
    let line: usize = rest.split(',').next()?.trim().parse().ok()?;
    let col_at = rest.find("Column: ")?;
    let column: String = rest[col_at + 8..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((line, column.parse().ok()?))
}

#[cfg(test)]
mod tests;
