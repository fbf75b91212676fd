//! Scheduled table maintenance: each pipeline whose contract (as of its newest
//! run) has a `[maintenance]` policy gets its Silver, quarantine and condemned
//! tables compacted, expired and cleaned of orphans every `every`. What each
//! pass did is kept in the ledger.

use std::sync::Arc;
use std::time::Duration;

use floe_common::contract::Contract;
use floe_lake::commit::publish::staging_branch;
use floe_lake::maintenance::{maintain, MaintenanceReport};
use tracing::{debug, info, warn, Instrument};

use crate::ledger::now_ms;
use crate::service::Coordinator;
use crate::CoordinatorError;

/// Maintains every pipeline that is due, one after the other. Returns what was
/// done, per table.
pub async fn maintain_due(
    coordinator: &Coordinator,
) -> Result<Vec<MaintenanceReport>, CoordinatorError> {
    let mut reports = Vec::new();
    for (pipeline, text, origin) in coordinator.ledger().latest_contracts().await? {
        let contract = match Contract::parse(&text, origin.as_ref()) {
            Ok(c) => c,
            Err(e) => {
                warn!(pipeline, error = %e, "the contract of the newest run no longer parses; not maintaining");
                continue;
            }
        };
        let Some(policy) = contract.maintenance.clone() else {
            continue;
        };
        let now = now_ms();
        let last = coordinator.ledger().last_maintenance(&pipeline).await?;
        if last.is_some_and(|l| now - l < policy.every.as_millis() as i64) {
            continue;
        }
        let Some(catalog) = coordinator.catalog().await? else {
            debug!(
                pipeline,
                "the catalog does not exist yet; nothing to maintain"
            );
            continue;
        };
        // Runs in progress keep their staging branches whatever their age.
        let live_branches: Vec<String> = coordinator
            .ledger()
            .unfinished_runs()
            .await?
            .iter()
            .map(staging_branch)
            .collect();
        let target = contract.target.clone();
        let mut done = Vec::new();
        // The Gold models' tables expire and lose orphans like the others.
        let models = contract.models.iter().map(|m| m.table.clone());
        let tables: Vec<_> = [
            target.table.clone(),
            target.quarantine_table.clone(),
            target.condemned_table.clone(),
        ]
        .into_iter()
        .chain(models)
        .collect();
        for table in &tables {
            if catalog.load_table(table).await?.is_none() {
                debug!(%pipeline, %table, "no such table yet");
                continue;
            }
            let span = tracing::info_span!("maintenance", %pipeline, %table);
            match maintain(
                catalog.as_ref(),
                coordinator.store().as_ref(),
                table,
                &policy,
                target.target_file_size_bytes,
                &live_branches,
            )
            .instrument(span)
            .await
            {
                Ok(report) => {
                    info!(%pipeline, %table, "maintained");
                    done.push(report);
                }
                Err(e) => {
                    warn!(%pipeline, %table, error = %e, "maintenance failed; will retry at the next pass")
                }
            }
        }
        let json = serde_json::to_string(&done).unwrap_or_default();
        coordinator
            .ledger()
            .record_maintenance(&pipeline, now, &json)
            .await?;
        reports.extend(done);
    }
    Ok(reports)
}

/// Checks every `tick` for pipelines due for maintenance.
pub async fn schedule_loop(coordinator: Arc<Coordinator>, tick: Duration) {
    loop {
        tokio::time::sleep(tick).await;
        if let Err(e) = maintain_due(&coordinator).await {
            warn!(error = %e, "scheduled maintenance failed; will retry");
        }
    }
}
