//! The coordinator's table operations: the workers' catalog, and rollback
//! (which also marks the ledger).

use std::sync::Arc;

use floe_common::contract::TableName;
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::rollback::{self, RollbackOutcome, RollbackTarget};
use floe_lake::commit::RetryPolicy;
use floe_lake::RunId;
use tracing::info;

use super::{Coordinator, Result};
use crate::CoordinatorError;

impl Coordinator {
    /// The workers' catalog, opened on first use; `None` while it does not
    /// exist (nothing committed yet: the coordinator never creates it).
    pub async fn catalog(&self) -> Result<Option<&Arc<dyn TableCatalog>>> {
        let config = self
            .catalog
            .as_ref()
            .ok_or_else(|| CoordinatorError::NoCatalog)?;
        if !config.exists() {
            return Ok(None);
        }
        Ok(Some(self.opened.get_or_try_init(|| config.open()).await?))
    }

    /// Refuses a contract whose columns would break its existing Silver table
    /// (see [`floe_common::table::silver_evolution`]): a narrowing, a type
    /// change, an optional column made required, an older version. A table
    /// not created yet, or no catalog, has nothing to check.
    pub(crate) async fn check_schema(
        &self,
        contract: &floe_common::contract::Contract,
    ) -> Result<()> {
        if self.catalog.is_none() {
            return Ok(());
        }
        let Some(catalog) = self.catalog().await? else {
            return Ok(());
        };
        if let Some(silver) = catalog.load_table(&contract.target.table).await? {
            floe_common::table::silver_evolution(silver.metadata(), contract)?;
        }
        Ok(())
    }

    /// Rolls a table back (see [`floe_lake::commit::rollback`]), then records the
    /// discarded runs as rolled back in the ledger and cancels those still running,
    /// so none of their tasks is handed out again.
    pub async fn rollback(
        &self,
        table: &TableName,
        target: &RollbackTarget,
        force: bool,
        dry_run: bool,
    ) -> Result<RollbackOutcome> {
        let catalog = self.catalog().await?.ok_or_else(|| floe_lake::LakeError::Rollback {
            table: table.to_string(),
            message: format!(
                "the coordinator's catalog ({}) does not exist: check its --lakehouse or --catalog flags",
                self.catalog.as_ref().map(|c| format!("{c:?}")).unwrap_or_default()
            ),
        })?;
        let outcome = rollback::rollback(
            catalog.as_ref(),
            table,
            target,
            force,
            dry_run,
            &RetryPolicy::default(),
        )
        .await?;
        if outcome.applied {
            let runs: Vec<RunId> = outcome.plan.runs.iter().map(RunId::new).collect();
            self.ledger
                .record_rollback(&table.to_string(), &runs, outcome.plan.to_snapshot)
                .await?;
            for run in &runs {
                if let Some(cancelled) = self.ledger.cancel_run(run).await? {
                    info!(run_id = %run, state = cancelled.state.as_str(), "run rolled back");
                }
            }
        }
        Ok(outcome)
    }
}
