//! Publishing staged runs: once every task of a staged run ended well, its
//! partitions go to the tables' `main`, one snapshot per table — the
//! quarantine and condemned tables, then Silver, then the Gold models in
//! dependency order — so a reader of `main` never sees a Gold partition built
//! from Silver rows that are not there yet. Each table's publish is idempotent
//! (see `floe_lake::commit::publish`): a coordinator stopped half-way
//! publishes the rest when it starts again.

use std::collections::BTreeMap;
use std::path::Path;

use floe_common::contract::{Contract, TableName};
use floe_lake::commit::publish::{drop_branch, publish, PublishOutcome, PublishRequest};
use floe_lake::commit::RetryPolicy;
use floe_lake::RunId;
use tracing::{info, warn};

use super::{Coordinator, Result};
use crate::ledger::{RunRecord, RunState};
use crate::CoordinatorError;

/// On a publish snapshot: how the run was published (`auto`).
pub const PUBLISH_MODE: &str = "floe.publish";

impl Coordinator {
    /// Publishes every staged run waiting for it; a run that cannot be
    /// published now (the catalog is unreachable) is tried again on the next call.
    pub async fn publish_all_ready(&self) -> Result<usize> {
        let mut published = 0;
        for run_id in self.ledger.runs_to_publish().await? {
            match self.publish_run(&run_id).await {
                Ok(()) => published += 1,
                Err(e) => warn!(%run_id, error = %e, "publishing the run failed; will retry"),
            }
        }
        Ok(published)
    }

    /// Publishes `run_id` if it waits for it, then records it as published.
    pub async fn publish_run(&self, run_id: &RunId) -> Result<()> {
        let run = self.get_run(run_id).await?;
        if run.state != RunState::Publishing {
            return Ok(());
        }
        let Some(catalog) = self.catalog().await? else {
            return Err(CoordinatorError::NoCatalog);
        };
        let policy = RetryPolicy::default();
        let tables = publish_order(&run)?;
        for table in &tables {
            let req = PublishRequest {
                table: table.clone(),
                run: run_id.clone(),
                properties: BTreeMap::from([(PUBLISH_MODE.to_string(), "auto".to_string())]),
            };
            let outcome = publish(catalog.as_ref(), &req, &policy).await?;
            match &outcome {
                PublishOutcome::Published {
                    snapshot_id,
                    partitions,
                } => {
                    info!(%run_id, %table, snapshot_id, partitions = partitions.len(), "published")
                }
                other => info!(%run_id, %table, outcome = ?other, "nothing left to publish"),
            }
        }
        for table in &tables {
            drop_branch(catalog.as_ref(), table, run_id, &policy).await?;
        }
        self.ledger.run_published(run_id).await?;
        info!(%run_id, tables = tables.len(), "run published");
        Ok(())
    }
}

/// The run's tables in publish order: quarantine, condemned, Silver, then each
/// Gold model's table in the order the run planned them (dependencies first).
fn publish_order(run: &RunRecord) -> Result<Vec<TableName>> {
    let contract = Contract::parse(&run.contract_text, Path::new(&run.contract_origin))
        .map_err(floe_common::FloeError::from)?;
    let mut tables = vec![
        contract.target.quarantine_table.clone(),
        contract.target.condemned_table.clone(),
        contract.target.table.clone(),
    ];
    for task in &run.tasks {
        let Some(gold) = &task.gold else { continue };
        let Some(model) = contract.models.iter().find(|m| m.name == gold.model) else {
            continue;
        };
        if !tables.contains(&model.table) {
            tables.push(model.table.clone());
        }
    }
    Ok(tables)
}
