//! A model's tests, run on its result before the commit. Each test is a query
//! that returns the failing rows; any row fails the task.

use arrow_array::RecordBatch;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{col, Expr};
use floe_common::contract::{Contract, ModelSpec, ModelTest};

use crate::error::{GoldError, Result};
use crate::read_only::{self, Refused};
use crate::submit_check::{quoted, refused};

/// Rows shown in a failing test's message.
const SAMPLE_ROWS: usize = 5;

/// Runs `m`'s tests over its result, registered in `ctx` as the model's table
/// (the inputs are registered as the partition's rows only).
pub async fn run_tests(
    ctx: &SessionContext,
    contract: &Contract,
    m: &ModelSpec,
    partition: &str,
) -> Result<()> {
    for t in &m.tests {
        let failing = failing_rows(ctx, contract, m, t).await?;
        let count: usize = failing.iter().map(RecordBatch::num_rows).sum();
        if count > 0 {
            return Err(GoldError::TestFailed {
                model: m.name.clone(),
                partition: partition.to_string(),
                test: t.name(),
                failing: count as u64,
                sample: sample(&failing),
            });
        }
    }
    Ok(())
}

/// Fails when a result row lies outside the partition being rebuilt (its
/// partition column says another partition): it would be lost on replace.
pub async fn check_in_partition(
    ctx: &SessionContext,
    m: &ModelSpec,
    inside: Expr,
    partition: &str,
) -> Result<()> {
    let Some(p) = &m.partition else {
        return Ok(());
    };
    let column = col(format!("\"{}\"", p.column.replace('"', "\"\"")));
    let outside = ctx
        .table(m.table.to_string())
        .await
        .and_then(|df| df.filter(column.is_null().or(inside.is_not_true())))
        .map_err(GoldError::engine("checking the result's partition"))?
        .collect()
        .await
        .map_err(GoldError::engine("checking the result's partition"))?;
    let count: usize = outside.iter().map(RecordBatch::num_rows).sum();
    if count > 0 {
        return Err(GoldError::TestFailed {
            model: m.name.clone(),
            partition: partition.to_string(),
            test: format!("in_partition({})", p.column),
            failing: count as u64,
            sample: sample(&outside),
        });
    }
    Ok(())
}

async fn failing_rows(
    ctx: &SessionContext,
    contract: &Contract,
    m: &ModelSpec,
    t: &ModelTest,
) -> Result<Vec<RecordBatch>> {
    let table = &m.table;
    let sql = match t {
        ModelTest::NotNull { columns } => {
            let any_null: Vec<String> = columns
                .iter()
                .map(|c| format!("{} IS NULL", quoted(std::slice::from_ref(c))))
                .collect();
            format!("SELECT * FROM {table} WHERE {}", any_null.join(" OR "))
        }
        ModelTest::Unique { columns } => {
            let cols = quoted(columns);
            format!(
                "SELECT {cols}, COUNT(*) AS copies FROM {table} GROUP BY {cols} HAVING COUNT(*) > 1"
            )
        }
        ModelTest::AcceptedValues { column, values } => {
            let c = quoted(std::slice::from_ref(column));
            let list: Vec<String> = values
                .iter()
                .map(|v| format!("'{}'", v.replace('\'', "''")))
                .collect();
            format!(
                "SELECT * FROM {table} WHERE {c} IS NOT NULL AND CAST({c} AS VARCHAR) NOT IN ({})",
                list.join(", ")
            )
        }
        ModelTest::Reconcile { gold, silver } => format!(
            "SELECT g.v AS gold, s.v AS silver FROM (SELECT ({gold}) AS v FROM {table}) AS g \
             CROSS JOIN (SELECT ({silver}) AS v FROM {}) AS s WHERE COALESCE(g.v, 0) IS DISTINCT FROM COALESCE(s.v, 0)",
            contract.target.table
        ),
    };
    let context = format!("running test {} of model `{}`", t.name(), m.name);
    // A reconcile test splices the author's expressions into the SQL.
    read_only::plan(ctx, &sql)
        .await
        .map_err(|e| match e {
            Refused::Sql(e) => GoldError::engine(context.clone())(e),
            not_a_query => refused(m, not_a_query),
        })?
        .collect()
        .await
        .map_err(GoldError::engine(context))
}

fn sample(batches: &[RecordBatch]) -> String {
    let mut rows = Vec::new();
    let mut left = SAMPLE_ROWS;
    for b in batches {
        if left == 0 {
            break;
        }
        let take = b.num_rows().min(left);
        rows.push(b.slice(0, take));
        left -= take;
    }
    datafusion::arrow::util::pretty::pretty_format_batches(&rows)
        .map(|t| t.to_string())
        .unwrap_or_else(|e| format!("(rows could not be shown: {e})"))
}
