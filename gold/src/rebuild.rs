//! Rebuilding Gold partitions outside a run. Reprocessing quarantine adds rows
//! to Silver, and a rollback moves Silver back; either leaves the models'
//! partitions answering for a Silver that no longer exists until they are
//! computed again from the tables as they are now.

use std::collections::BTreeMap;
use std::sync::Arc;

use floe_common::contract::Contract;
use floe_common::task::{GoldTask, TaskEnv, TaskSpec, WriteMode};
use floe_common::{RunId, TaskId};
use serde::Serialize;

use crate::check::check_models;
use crate::run::run_planned;

/// One model partition computed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rebuilt {
    pub model: String,
    pub table: String,
    /// The Silver partition label, or `all` for an unpartitioned Silver table.
    pub partition: String,
    pub rows: u64,
}

/// Rebuilds the given Silver partitions (labels such as `2025-01-05`; ignored
/// when Silver is unpartitioned) of every model of `contract`, upstream models
/// first. Each model partition reads the current snapshots of its inputs and is
/// one replace commit under `run_id`, with the same task ids a run gives them:
/// calling this again with the same `run_id` finds those commits and changes
/// nothing, and with another id it replaces the partitions again.
pub async fn rebuild_partitions(
    env: &TaskEnv,
    contract: &Arc<Contract>,
    run_id: &RunId,
    partitions: &[String],
) -> floe_common::Result<Vec<Rebuilt>> {
    let models = check_models(contract).await?;
    let partitions: Vec<Option<&str>> = if contract.target.partition.is_some() {
        partitions.iter().map(|p| Some(p.as_str())).collect()
    } else {
        vec![None]
    };
    let mut rebuilt = Vec::new();
    for partition in partitions {
        for m in &models {
            let spec = task(contract, run_id, &m.spec.name, partition);
            let report = run_planned(env, &spec, &models).await?;
            rebuilt.push(Rebuilt {
                model: m.spec.name.clone(),
                table: m.spec.table.to_string(),
                partition: partition.unwrap_or("all").to_string(),
                rows: report.stats.gold_rows,
            });
        }
    }
    Ok(rebuilt)
}

/// The Gold task a run would plan for this model and partition, reading the
/// current snapshots (no pins).
fn task(
    contract: &Arc<Contract>,
    run_id: &RunId,
    model: &str,
    partition: Option<&str>,
) -> TaskSpec {
    let name = partition.unwrap_or("all");
    TaskSpec {
        run_id: run_id.clone(),
        task_id: TaskId::new(format!("{}-gold-{model}-{name}", contract.name)),
        attempt: 1,
        contract: contract.clone(),
        inputs: Vec::new(),
        fingerprints: BTreeMap::new(),
        partition: partition.map(str::to_string),
        mode: WriteMode::ReplacePartition,
        trace_context: BTreeMap::new(),
        gold: Some(GoldTask {
            model: model.to_string(),
            pins: BTreeMap::new(),
        }),
        dedupe: None,
    }
}
