//! Loads run task by task in the test process, for tests of the commit layer and
//! maintenance.

use std::collections::BTreeMap;
use std::sync::Arc;

use floe_common::contract::Contract;
use floe_common::task::{run_task, TaskEnv, TaskSpec};
use floe_lake::catalog::TableCatalog;
use floe_lake::{RunId, TaskId};
use floe_sample::GroundTruth;

use crate::{day_task, example_contract, silver_by_day, Lakehouse};

/// A day's load split into `parts` tasks of one run, each writing its own
/// small file to the day's partition.
pub fn split_day(
    lake: &Lakehouse,
    contract: &Arc<Contract>,
    truth: &GroundTruth,
    day: &str,
    run: &RunId,
    parts: usize,
) -> Vec<TaskSpec> {
    let whole = day_task(lake, contract, truth, day, run);
    let per = whole.inputs.len().div_ceil(parts);
    whole
        .inputs
        .chunks(per)
        .enumerate()
        .map(|(i, inputs)| TaskSpec {
            attempt: floe_lake::Attempt {
                task_id: TaskId::new(format!("{}-{i}", whole.attempt.task_id)),
                ..whole.attempt.clone()
            },
            inputs: inputs.to_vec(),
            ..whole.clone()
        })
        .collect()
}

pub async fn run_all(catalog: Arc<dyn TableCatalog>, tasks: &[TaskSpec]) {
    let env = TaskEnv::new(catalog);
    for t in tasks {
        run_task(&env, t).await.unwrap();
    }
}

/// What `tasks` give on a fresh catalog with no maintenance at all.
pub async fn reference(tasks: &[TaskSpec]) -> BTreeMap<String, (u64, i64)> {
    let other = Lakehouse::new().await;
    run_all(other.catalog.clone(), tasks).await;
    silver_by_day(other.catalog.as_ref(), &example_contract().target.table).await
}
