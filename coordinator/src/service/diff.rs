//! A staged run's diff: what publishing it changes (or, once published,
//! changed) on each of its tables, partition by partition — rows and column
//! sums on `main` before and after. An operator reads it before approving a
//! `publish = "manual"` run, or after a dry run (`submit --explain --diff`).

use std::path::Path;

use floe_common::contract::{Contract, TableName};
use floe_lake::commit::publish_diff::{publish_diff, PublishDiff};
use floe_lake::data::totals::{decimal_columns, summable_columns};
use floe_lake::RunId;

use super::publish::publish_order;
use super::{Coordinator, Result};
use crate::ledger::RunState;
use crate::CoordinatorError;

/// One run's diff, its tables in publish order.
#[derive(Debug, Clone)]
pub struct RunDiff {
    pub run_id: RunId,
    pub state: RunState,
    /// The tables the run changes; a table it changes nothing on is left out.
    pub tables: Vec<(TableName, PublishDiff)>,
}

impl Coordinator {
    /// The diff of staged run `run_id`, summing `sum_columns` where a table has
    /// them (none given: every decimal column).
    pub async fn diff_run(&self, run_id: &RunId, sum_columns: &[String]) -> Result<RunDiff> {
        let run = self.get_run(run_id).await?;
        if !run.staged {
            return Err(CoordinatorError::NotStaged(run_id.clone()));
        }
        let Some(catalog) = self.catalog().await? else {
            return Err(CoordinatorError::NoCatalog);
        };
        let contract = Contract::parse(&run.contract_text, Path::new(&run.contract_origin))
            .map_err(floe_common::FloeError::from)?;
        let mut tables = Vec::new();
        let mut numeric = Vec::new();
        for name in publish_order(&run, &contract) {
            let Some(table) = catalog.load_table(&name).await? else {
                continue;
            };
            let summable = summable_columns(&table);
            let columns: Vec<String> = if sum_columns.is_empty() {
                decimal_columns(&table)
            } else {
                summable
                    .iter()
                    .filter(|c| sum_columns.contains(c))
                    .cloned()
                    .collect()
            };
            numeric.extend(summable);
            if let Some(diff) = publish_diff(&table, run_id, &columns).await? {
                tables.push((name, diff));
            }
        }
        if let Some(missing) = sum_columns.iter().find(|c| !numeric.contains(c)) {
            numeric.sort();
            numeric.dedup();
            return Err(CoordinatorError::UnknownSumColumn {
                run_id: run_id.clone(),
                column: missing.clone(),
                available: numeric.join(", "),
            });
        }
        Ok(RunDiff {
            run_id: run_id.clone(),
            state: run.state,
            tables,
        })
    }
}
