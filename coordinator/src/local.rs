//! Runs a planned run inside this process on the embedded default: the tasks run
//! concurrently against the SQLite catalog, each through the full data path and
//! commit protocol.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use floe_common::catalog::TableCatalog;
use floe_common::contract::Contract;
use floe_common::task::{run_task, TaskEnv, TaskReport, TaskSpec, WriteMode};
use floe_common::RunId;
use futures::stream::{self, StreamExt};

use crate::listing;
use crate::period::Period;
use crate::plan::{self, PlannedTask};
use crate::CoordinatorError;

/// Lists the period's files and plans its tasks.
pub fn plan_period(
    contract: &Contract,
    bronze: &Path,
    period: &Period,
    target_task_bytes: u64,
) -> Result<Vec<PlannedTask>, CoordinatorError> {
    let mut files = Vec::new();
    for day in period.days() {
        files.extend(listing::list_day(bronze, &contract.source.location, day)?);
    }
    if files.is_empty() {
        return Err(CoordinatorError::NoInput {
            pipeline: contract.name.clone(),
            period: period.label.clone(),
            pattern: bronze.join(&contract.source.location).display().to_string(),
        });
    }
    Ok(plan::plan(contract, &files, target_task_bytes))
}

/// Runs `tasks` with at most `parallel` at once; returns each task's report by id.
pub async fn run_tasks(
    catalog: Arc<dyn TableCatalog>,
    contract: Arc<Contract>,
    run_id: &RunId,
    tasks: Vec<PlannedTask>,
    parallel: usize,
) -> Result<BTreeMap<String, TaskReport>, CoordinatorError> {
    let env = TaskEnv::new(catalog);
    let results: Vec<_> = stream::iter(tasks)
        .map(|t| {
            let spec = TaskSpec {
                run_id: run_id.clone(),
                task_id: t.task_id.clone(),
                attempt: 1,
                contract: contract.clone(),
                inputs: t.inputs,
                partition: t.partition,
                mode: WriteMode::ReplacePartition,
            };
            let env = env.clone();
            async move {
                run_task(&env, &spec)
                    .await
                    .map(|r| (spec.task_id.to_string(), r))
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    results
        .into_iter()
        .map(|r| r.map_err(CoordinatorError::from))
        .collect()
}
