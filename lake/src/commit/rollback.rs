//! Rollback: move `main` back to one of its ancestors in one compare-and-swap,
//! and mark the runs whose snapshots leave `main` as rolled back on the table, so
//! a late retry of one of their tasks cannot commit them again (see
//! [`super::commit`]).

use std::collections::HashMap;

use iceberg::spec::{SnapshotReference, SnapshotRetention, TableMetadata, MAIN_BRANCH};
use iceberg::table::Table;
use tracing::{info, warn};

use super::files::{diff, snapshot_files, FileDiff};
use super::history::{self, HistoryEntry, ROLLED_BACK_RUNS};
use super::{metadata, RetryPolicy};
use crate::catalog::{SwapOutcome, TableCatalog};
use crate::error::{LakeError, Result};
use crate::ids::RunId;
use crate::TableName;

/// Where to roll back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// This snapshot, which must be an ancestor of the current one.
    Snapshot(i64),
    /// The newest ancestor committed at or before this time (ms since the epoch).
    Time(i64),
    /// The state just before the run's first snapshot on `main`.
    BeforeRun(RunId),
}

/// What a rollback does, computed before it is done.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackPlan {
    pub table: String,
    pub from_snapshot: i64,
    pub to_snapshot: i64,
    /// The snapshots that leave `main`, newest first.
    pub discarded: Vec<HistoryEntry>,
    /// The run being undone: the one named by `--before-run`, else the run of
    /// the oldest discarded snapshot.
    pub undone_run: Option<String>,
    /// Other runs whose snapshots would be discarded too (newest first), and
    /// snapshots no Floe run wrote (as `snapshot N`): discarding them needs force.
    pub later_runs: Vec<String>,
    /// Every run marked rolled back on the table when the plan is applied.
    pub runs: Vec<String>,
    #[serde(flatten)]
    pub changes: FileDiff,
}

/// How a rollback ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackOutcome {
    pub plan: RollbackPlan,
    /// False for a dry run, or when `main` already was at the target.
    pub applied: bool,
}

fn refuse(table: &TableName, message: String) -> LakeError {
    LakeError::Rollback {
        table: table.to_string(),
        message,
    }
}

fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The snapshot `target` names, checked to be on `main`'s history.
pub fn resolve(name: &TableName, meta: &TableMetadata, target: &RollbackTarget) -> Result<i64> {
    let ancestry = history::ancestry(meta);
    let Some(current) = ancestry.first() else {
        return Err(refuse(name, "the table has no snapshot yet".into()));
    };
    let hint = format!("`floe-coordinator history --table {name}` lists the snapshots");
    match target {
        RollbackTarget::Snapshot(id) => {
            if ancestry.iter().any(|s| s.snapshot_id() == *id) {
                return Ok(*id);
            }
            let message = if meta.snapshot_by_id(*id).is_some() {
                format!(
                    "snapshot {id} is not an ancestor of the current snapshot {} (it is no \
                     longer on main's history, e.g. it was rolled back): rollback only moves \
                     main back along its own history. {hint}",
                    current.snapshot_id()
                )
            } else {
                format!("the table has no snapshot {id} (or it was expired long ago). {hint}")
            };
            Err(refuse(name, message))
        }
        RollbackTarget::Time(ms) => ancestry
            .iter()
            .find(|s| s.timestamp_ms() <= *ms)
            .map(|s| s.snapshot_id())
            .ok_or_else(|| {
                let oldest = ancestry.last().expect("not empty");
                refuse(
                    name,
                    format!(
                        "no snapshot on main's history is as old as {}; the oldest kept is {} \
                         at {}",
                        format_ms(*ms),
                        oldest.snapshot_id(),
                        format_ms(oldest.timestamp_ms())
                    ),
                )
            }),
        RollbackTarget::BeforeRun(run) => {
            let first = ancestry
                .iter()
                .rev()
                .find(|s| {
                    s.summary().additional_properties.get(history::RUN_ID) == Some(&run.to_string())
                })
                .ok_or_else(|| {
                    refuse(
                        name,
                        format!(
                            "run {run} has no snapshot on main's history: it wrote nothing to \
                             this table, was rolled back already, or its snapshots expired. {hint}"
                        ),
                    )
                })?;
            first.parent_snapshot_id().ok_or_else(|| {
                refuse(
                    name,
                    format!(
                        "run {run} made the table's first snapshot: there is no earlier state \
                         to roll back to"
                    ),
                )
            })
        }
    }
}

/// Plans rolling `table` back to `target`: which snapshots and runs leave `main`,
/// and the rows, files and partitions that change.
pub async fn plan(
    name: &TableName,
    table: &Table,
    target: &RollbackTarget,
) -> Result<RollbackPlan> {
    let meta = table.metadata();
    if let RollbackTarget::Snapshot(id) = target {
        if meta.snapshot_by_id(*id).is_none() && expired_earlier(table, *id).await {
            return Err(refuse(
                name,
                format!(
                    "snapshot {id} has been expired: its files may be deleted, so it cannot be \
                     restored. `floe-coordinator history --table {name}` lists the snapshots \
                     that can be"
                ),
            ));
        }
    }
    let to = resolve(name, meta, target)?;
    let ancestry = history::ancestry(meta);
    let from = ancestry[0];
    let discarded: Vec<_> = ancestry
        .iter()
        .take_while(|s| s.snapshot_id() != to)
        .copied()
        .collect();
    let undone_run = match target {
        RollbackTarget::BeforeRun(run) => Some(run.to_string()),
        _ => discarded.iter().rev().find_map(|s| {
            s.summary()
                .additional_properties
                .get(history::RUN_ID)
                .cloned()
        }),
    };
    let mut runs: Vec<String> = Vec::new();
    let mut later_runs: Vec<String> = Vec::new();
    for s in &discarded {
        if history::is_maintenance(s) {
            // A compaction rewrites files without changing rows: undoing it loses nothing.
            continue;
        }
        let run = s
            .summary()
            .additional_properties
            .get(history::RUN_ID)
            .cloned();
        if let Some(run) = &run {
            if !runs.contains(run) {
                runs.push(run.clone());
            }
        }
        let other = match &run {
            Some(run) if Some(run) == undone_run.as_ref() => None,
            Some(run) => Some(run.clone()),
            None => Some(format!(
                "snapshot {} (not written by Floe)",
                s.snapshot_id()
            )),
        };
        if let Some(other) = other {
            if !later_runs.contains(&other) {
                later_runs.push(other);
            }
        }
    }
    let changes = if discarded.is_empty() {
        FileDiff::default()
    } else {
        let to_snapshot = meta.snapshot_by_id(to).expect("resolved on main");
        let from_files = snapshot_files(table, from).await?;
        let to_files = snapshot_files(table, to_snapshot).await?;
        diff(table, &from_files, &to_files)
    };
    Ok(RollbackPlan {
        table: name.to_string(),
        from_snapshot: from.snapshot_id(),
        to_snapshot: to,
        discarded: discarded.iter().map(|s| HistoryEntry::of(s)).collect(),
        undone_run,
        later_runs,
        runs,
        changes,
    })
}

/// True if a metadata file in the table's log still lists snapshot `id`: it
/// existed and was expired since.
async fn expired_earlier(table: &Table, id: i64) -> bool {
    for entry in table.metadata().metadata_log().iter().rev() {
        if let Ok(old) = TableMetadata::read_from(table.file_io(), &entry.metadata_file).await {
            if old.snapshot_by_id(id).is_some() {
                return true;
            }
        }
    }
    false
}

/// The metadata after the rollback: `main` at the target, the runs marked.
fn rolled_back(table: &Table, plan: &RollbackPlan) -> Result<TableMetadata> {
    let mut marked: Vec<String> = history::rolled_back_runs(table.metadata())
        .into_iter()
        .map(str::to_string)
        .collect();
    for run in &plan.runs {
        if !marked.contains(run) {
            marked.push(run.clone());
        }
    }
    let properties = HashMap::from([(ROLLED_BACK_RUNS.to_string(), marked.join(","))]);
    let main = SnapshotReference::new(
        plan.to_snapshot,
        SnapshotRetention::branch(None, None, None),
    );
    metadata::builder(table)?
        .set_ref(MAIN_BRANCH, main)
        .and_then(|b| b.set_properties(properties))
        .and_then(|b| b.build())
        .map(|r| r.metadata)
        .map_err(LakeError::iceberg(
            "building the rolled-back table metadata",
        ))
}

/// True once `main` is at the plan's target with its runs marked: an earlier
/// attempt whose outcome was unknown did succeed.
fn already_applied(meta: &TableMetadata, plan: &RollbackPlan) -> bool {
    let marked = history::rolled_back_runs(meta);
    meta.current_snapshot_id() == Some(plan.to_snapshot)
        && plan.runs.iter().all(|r| marked.contains(&r.as_str()))
}

/// Rolls `name` back to `target`. Refuses (changing nothing) when runs other
/// than the one undone would be discarded, unless `force`. With `dry_run`, only
/// plans. On a conflict the plan is made again on the new state, so a run that
/// committed meanwhile is never discarded without being named.
pub async fn rollback(
    catalog: &dyn TableCatalog,
    name: &TableName,
    target: &RollbackTarget,
    force: bool,
    dry_run: bool,
    policy: &RetryPolicy,
) -> Result<RollbackOutcome> {
    let mut pending: Option<RollbackPlan> = None;
    for attempt in 1..=policy.max_attempts {
        let table = catalog
            .load_table(name)
            .await?
            .ok_or_else(|| refuse(name, "the table does not exist in this catalog".into()))?;
        if let Some(plan) = pending.take() {
            if already_applied(table.metadata(), &plan) {
                return Ok(RollbackOutcome {
                    plan,
                    applied: true,
                });
            }
        }
        let plan = plan(name, &table, target).await?;
        if plan.discarded.is_empty() || dry_run {
            return Ok(RollbackOutcome {
                plan,
                applied: false,
            });
        }
        if !force && !plan.later_runs.is_empty() {
            return Err(refuse(
                name,
                format!(
                    "rolling back to snapshot {} would also discard {}; nothing was changed. \
                     Pass --force to discard them too",
                    plan.to_snapshot,
                    plan.later_runs.join(", ")
                ),
            ));
        }
        let next = rolled_back(&table, &plan)?;
        let location = metadata::write_next(&table, &next).await?;
        let expected = table.metadata_location().unwrap_or_default().to_string();
        match catalog.swap_metadata(name, &expected, &location).await {
            Ok(SwapOutcome::Swapped) => {
                info!(table = %name, from = plan.from_snapshot, to = plan.to_snapshot,
                      runs = ?plan.runs, "rolled back");
                return Ok(RollbackOutcome {
                    plan,
                    applied: true,
                });
            }
            Ok(SwapOutcome::Conflict) => {}
            Err(e) if e.is_retryable() => {
                warn!(table = %name, attempt, error = %e, "rollback outcome unknown, reloading");
                pending = Some(plan);
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
    }
    Err(refuse(
        name,
        format!(
            "other commits kept moving the table; gave up after {} attempts with nothing \
             changed. Try again",
            policy.max_attempts
        ),
    ))
}
