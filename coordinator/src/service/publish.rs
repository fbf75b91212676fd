//! Publishing staged runs: once every task of a staged run ended well, its
//! partitions go to the tables' `main`, one snapshot per table — the
//! quarantine and condemned tables, then Silver, then the Gold models in
//! dependency order — so a reader of `main` never sees a Gold partition built
//! from Silver rows that are not there yet. Each table's publish is idempotent
//! (see `floe_lake::commit::publish`): a coordinator stopped half-way
//! publishes the rest when it starts again.

use std::collections::BTreeMap;
use std::path::Path;

use floe_common::contract::{Contract, Publish, TableName};
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::history::{APPROVAL_REASON, APPROVED_BY};
use floe_lake::commit::publish::{
    drop_branch, owned_partitions, publish, rows_by_partition, staging_branch, PublishOutcome,
    PublishRequest,
};
use floe_lake::commit::RetryPolicy;
use floe_lake::RunId;
use tracing::{info, warn};

use super::{Coordinator, Result};
use crate::audit;
use crate::ledger::{AuditResult, RunRecord, RunState};
use crate::CoordinatorError;

/// On a publish snapshot: how the run was published (`auto`).
pub const PUBLISH_MODE: &str = "floe.publish";
/// On a publish snapshot: the audits the run passed.
pub const AUDITS: &str = "floe.audits";

impl Coordinator {
    /// Wakes [`Self::publish_wanted`]'s waiter when `run_id` waits to be
    /// published, so its publish follows its last task at once. Best effort:
    /// the task's report is recorded already, and the next tick publishes.
    pub(super) async fn wake_publisher_if_ready(&self, run_id: &RunId) {
        match self.ledger.runs_to_publish().await {
            Ok(runs) if runs.contains(run_id) => self.publish_wake.notify_one(),
            Ok(_) => {}
            Err(e) => {
                warn!(%run_id, error = %e, "could not tell whether the run waits to be published")
            }
        }
    }

    /// Resolves when a run's last task ended and the run waits to be
    /// published (or at once when that happened since the last wait): the
    /// reconcile loop waits on it between its passes.
    pub async fn publish_wanted(&self) {
        self.publish_wake.notified().await
    }

    /// Publishes every staged run waiting for it; a run that cannot be
    /// published now (the catalog is unreachable) is tried again on the next call.
    pub async fn publish_all_ready(&self) -> Result<usize> {
        let mut published = 0;
        for run_id in self.ledger.runs_to_publish().await? {
            match self.publish_run(&run_id).await {
                Ok(()) => published += 1,
                Err(e) if can_never_publish(&e) => {
                    warn!(%run_id, error = %e, "the run can never be published: it fails");
                    self.ledger.publish_refused(&run_id, &e.to_string()).await?;
                }
                Err(e) => warn!(%run_id, error = %e, "publishing the run failed; will retry"),
            }
        }
        Ok(published)
    }

    /// Approves the publish of a run awaiting approval; the reconcile loop
    /// publishes it next.
    pub async fn approve_publish(
        &self,
        run_id: &RunId,
        by: &str,
        reason: &str,
    ) -> Result<RunRecord> {
        if by.trim().is_empty() || reason.trim().is_empty() {
            return Err(CoordinatorError::ApprovalIncomplete);
        }
        self.ledger
            .approve_publish(run_id, by.trim(), reason.trim())
            .await?;
        info!(%run_id, approved_by = by, "publish approved");
        self.get_run(run_id).await
    }

    /// Discards a staged run awaiting approval, or failed: it is never
    /// published, and its branches are removed from its tables.
    pub async fn discard_run(&self, run_id: &RunId) -> Result<RunRecord> {
        self.ledger.discard(run_id).await?;
        let run = self.get_run(run_id).await?;
        if let Some(catalog) = self.catalog().await? {
            let contract = Contract::parse(&run.contract_text, Path::new(&run.contract_origin))
                .map_err(floe_common::FloeError::from)?;
            let policy = RetryPolicy::default();
            for table in publish_order(&run, &contract) {
                drop_branch(catalog.as_ref(), &table, run_id, &policy).await?;
            }
        }
        info!(%run_id, "run discarded");
        Ok(run)
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
        let contract = Contract::parse(&run.contract_text, Path::new(&run.contract_origin))
            .map_err(floe_common::FloeError::from)?;
        let audits = if contract.audits.any() && run.audits.is_empty() {
            let results = run_audits(catalog.as_ref(), &contract, &run).await?;
            self.ledger.record_audits(run_id, &results).await?;
            if results.iter().any(|r| !r.passed) {
                warn!(%run_id, "the run's audits failed: it is not published");
                return Ok(());
            }
            results
        } else {
            run.audits.clone()
        };
        let held = contract.target.publish == Publish::Manual || run.publish.hold;
        if held && run.approved_by.is_none() {
            self.ledger.await_approval(run_id).await?;
            info!(%run_id, "audited: the run awaits approval to publish");
            return Ok(());
        }
        let policy = RetryPolicy::default();
        let tables = publish_order(&run, &contract);
        for (published, table) in tables.iter().enumerate() {
            abort_after_publishing(published);
            let req = PublishRequest {
                table: table.clone(),
                run: run_id.clone(),
                properties: publish_properties(&run, &contract, &audits),
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

/// True when no retry can publish the run: its branch is gone, or it was
/// rolled back on a table.
fn can_never_publish(e: &CoordinatorError) -> bool {
    use floe_common::FloeError;
    use floe_lake::LakeError;
    matches!(
        e,
        CoordinatorError::Floe(FloeError::Lake(
            LakeError::StagingBranchGone { .. } | LakeError::RunRolledBack { .. }
        ))
    )
}

/// Test hook: `FLOE_COORDINATOR_FAILPOINT=abort-after-publishing:N` ends the
/// process at once, as a SIGKILL would, when N tables of a run are published
/// and the next is about to be: the end-to-end tests check that a restarted
/// coordinator finishes the publish. Off unless set.
fn abort_after_publishing(published: usize) {
    let at = std::env::var("FLOE_COORDINATOR_FAILPOINT")
        .ok()
        .and_then(|v| {
            v.strip_prefix("abort-after-publishing:")?
                .parse::<usize>()
                .ok()
        });
    if published > 0 && at == Some(published) {
        std::process::abort();
    }
}

/// The run's tables in publish order: quarantine, condemned, Silver, then each
/// Gold model's table in the order the run planned them (dependencies first).
pub(super) fn publish_order(run: &RunRecord, contract: &Contract) -> Vec<TableName> {
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
    tables
}

/// The contract's audits of `run`, on its tasks' counts and its branch of Silver.
async fn run_audits(
    catalog: &dyn TableCatalog,
    contract: &Contract,
    run: &RunRecord,
) -> Result<Vec<AuditResult>> {
    let mut results = Vec::new();
    if let Some(max) = contract.audits.max_quarantine_rate {
        results.extend(audit::quarantine_rates(run, max));
    }
    if let Some(max) = contract.audits.max_row_change {
        if let Some(silver) = catalog.load_table(&contract.target.table).await? {
            let partitions = owned_partitions(silver.metadata(), &run.run_id);
            let staged = rows_by_partition(&silver, &staging_branch(&run.run_id)).await?;
            let main = rows_by_partition(&silver, iceberg::spec::MAIN_BRANCH).await?;
            let shrink = run.publish.allow_shrink;
            results.extend(audit::row_changes(&partitions, &staged, &main, max, shrink));
        }
    }
    if contract.audits.require_all_days {
        let period = crate::period::Period::from_label(&run.period)?;
        results.extend(audit::days_present(run, period.days()));
    }
    Ok(results)
}

/// A publish snapshot's marks: how it was published, the audits passed, and
/// for a manual publish who approved it and why.
fn publish_properties(
    run: &RunRecord,
    contract: &Contract,
    audits: &[AuditResult],
) -> BTreeMap<String, String> {
    let mode = match (contract.target.publish, &run.approved_by) {
        (Publish::Manual, _) | (_, Some(_)) => "manual",
        _ => "auto",
    };
    let mut properties = BTreeMap::from([
        (PUBLISH_MODE.to_string(), mode.to_string()),
        (AUDITS.to_string(), audits_summary(audits)),
    ]);
    if let (Some(by), Some(reason)) = (&run.approved_by, &run.approval_reason) {
        properties.insert(APPROVED_BY.to_string(), by.clone());
        properties.insert(APPROVAL_REASON.to_string(), reason.clone());
    }
    if let Some(trace_id) = floe_common::trace_context::trace_id_of(&run.trace_context) {
        // The publish leads back to the run's trace, as its tasks' commits do.
        properties.insert("floe.trace-id".to_string(), trace_id);
    }
    properties
}

/// `passed: max_quarantine_rate (3), max_row_change (3)`, or `none`.
fn audits_summary(audits: &[AuditResult]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in audits {
        *counts.entry(a.name.as_str()).or_default() += 1;
    }
    if counts.is_empty() {
        return "none".into();
    }
    let named: Vec<String> = counts.iter().map(|(n, c)| format!("{n} ({c})")).collect();
    format!("passed: {}", named.join(", "))
}
