//! Rebuilds the ledger from the tables: every commit Floe makes records its run,
//! task, attempt and row counts in the snapshot summary, and Silver is committed
//! last. A task whose Silver snapshot is on `main` has succeeded, whatever the
//! ledger heard. This is how the coordinator catches up after workers committed
//! and acknowledged while it was unreachable (workers on SQS do not need it).

use std::collections::HashMap;

use floe_common::contract::Contract;
use floe_common::table::TableRole;
use floe_common::task::TaskStats;
use floe_lake::catalog::TableCatalog;
use floe_lake::commit::history::{committed_on, ATTEMPT};
use floe_lake::commit::publish::staging_branch;
use floe_lake::RunId;
use iceberg::spec::TableMetadata;
use iceberg::spec::MAIN_BRANCH;
use tracing::info;

use crate::ledger::{Ledger, RunRecord, SnapshotRecord, TaskState};
use crate::CoordinatorError;

/// Records as succeeded every unfinished task of the unfinished runs whose
/// commits are in the tables. Returns how many tasks it recorded.
pub async fn reconcile_from_tables(
    ledger: &Ledger,
    catalog: &dyn TableCatalog,
) -> Result<usize, CoordinatorError> {
    let mut recorded = 0;
    for run_id in ledger.unfinished_runs().await? {
        let Some(run) = ledger.get_run(&run_id).await? else {
            continue;
        };
        recorded += reconcile_run(ledger, catalog, &run).await?;
    }
    Ok(recorded)
}

async fn reconcile_run(
    ledger: &Ledger,
    catalog: &dyn TableCatalog,
    run: &RunRecord,
) -> Result<usize, CoordinatorError> {
    let pending: Vec<_> = run
        .tasks
        .iter()
        .filter(|t| !matches!(t.state, TaskState::Succeeded | TaskState::Cancelled))
        .collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let contract = Contract::parse(&run.contract_text, run.contract_origin.as_ref())
        .map_err(floe_common::FloeError::from)?;
    let tables = load_metadata(catalog, &contract).await?;
    let Some(silver) = tables.get(&TableRole::Silver) else {
        return Ok(0);
    };
    // A staged run's tasks commit to its branch.
    let branch = if run.staged {
        staging_branch(&run.run_id)
    } else {
        MAIN_BRANCH.to_string()
    };
    let mut recorded = 0;
    for task in pending {
        let Some(found) = found_commit(silver, &branch, &run.run_id, task) else {
            continue;
        };
        let snapshots: Vec<SnapshotRecord> = tables
            .iter()
            .filter_map(|(role, meta)| {
                committed_on(meta, &branch, &run.run_id, &task.task_id).map(|id| SnapshotRecord {
                    table: role.name(&contract).to_string(),
                    snapshot_id: id,
                    already_committed: true,
                })
            })
            .collect();
        info!(run_id = %run.run_id, task_id = %task.task_id, snapshot = found.snapshot_id, "task found committed in the tables");
        ledger
            .task_succeeded(
                &run.run_id,
                &task.task_id,
                found.attempt,
                &found.stats,
                &snapshots,
            )
            .await?;
        recorded += 1;
    }
    Ok(recorded)
}

struct FoundCommit {
    snapshot_id: i64,
    attempt: u32,
    stats: TaskStats,
}

fn found_commit(
    silver: &TableMetadata,
    branch: &str,
    run_id: &RunId,
    task: &crate::ledger::TaskRecord,
) -> Option<FoundCommit> {
    let id = committed_on(silver, branch, run_id, &task.task_id)?;
    let props = &silver.snapshot_by_id(id)?.summary().additional_properties;
    Some(FoundCommit {
        snapshot_id: id,
        attempt: props
            .get(ATTEMPT)
            .and_then(|a| a.parse().ok())
            .unwrap_or(task.attempts.max(1)),
        stats: TaskStats::from_properties(props)?,
    })
}

async fn load_metadata(
    catalog: &dyn TableCatalog,
    contract: &Contract,
) -> Result<HashMap<TableRole, TableMetadata>, CoordinatorError> {
    let mut out = HashMap::new();
    for role in TableRole::ALL {
        if let Some(table) = catalog.load_table(role.name(contract)).await? {
            out.insert(role, table.metadata().clone());
        }
    }
    Ok(out)
}
