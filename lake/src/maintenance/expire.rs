//! Expiring snapshots: drop old snapshots from the metadata in one
//! compare-and-swap, then delete the files that only they reached.
//!
//! Safe beside concurrent writers: `main`'s current snapshot is never expired,
//! and a writer only builds on (and carries over the manifests of) the current
//! snapshot, so no commit in flight can need a deleted file. A conflict re-plans
//! on the new state.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use iceberg::spec::{TableMetadata, MAIN_BRANCH};
use tracing::{info, warn};

use super::reach::Reach;
use super::{cutoff_ms, failed};
use crate::catalog::{SwapOutcome, TableCatalog};
use crate::commit::history;
use crate::commit::publish::STAGING_PREFIX;
use crate::commit::{metadata, RetryPolicy};
use crate::error::{LakeError, Result};
use crate::TableName;

/// Which snapshots to expire.
#[derive(Debug, Clone, Default)]
pub struct ExpireOptions {
    /// Expire snapshots older than this...
    pub older_than: Option<Duration>,
    /// ...but keep at least this many of `main`'s newest (at least 1).
    pub retain_last: usize,
    /// Expire these too, whatever their age (never the current one).
    pub snapshot_ids: Vec<i64>,
    /// Only say what would be expired and deleted.
    pub dry_run: bool,
    /// Branches kept whatever their age: the staging branches of runs still
    /// running, publishing or awaiting approval, which the coordinator names.
    pub keep_branches: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ExpireReport {
    pub table: String,
    pub expired: Vec<i64>,
    pub snapshots_kept: usize,
    /// Files only the expired snapshots reached (deleted unless a dry run).
    pub files_deleted: usize,
    /// Staging branches of runs removed with them (see [`stale_staging_branches`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub branches_removed: Vec<String>,
    pub dry_run: bool,
}

/// Staging branches of runs (`floe/<run id>`) whose head is older than
/// `cutoff`, but those in `keep`: a failed run's branch, kept for inspection,
/// goes with the snapshots of its age. (Published and discarded runs' branches
/// are removed at once.)
pub fn stale_staging_branches(
    meta: &TableMetadata,
    cutoff: Option<i64>,
    keep: &[String],
) -> Vec<String> {
    let Some(cutoff) = cutoff else {
        return Vec::new();
    };
    let mut stale: Vec<String> = ref_heads(meta)
        .into_iter()
        .filter(|(name, head)| {
            name.starts_with(STAGING_PREFIX)
                && !keep.contains(name)
                && meta
                    .snapshot_by_id(*head)
                    .is_some_and(|s| s.timestamp_ms() < cutoff)
        })
        .map(|(name, _)| name)
        .collect();
    stale.sort();
    stale
}

/// Every ref's name and head snapshot.
fn ref_heads(meta: &TableMetadata) -> Vec<(String, i64)> {
    let refs: HashMap<String, serde_json::Value> = serde_json::to_value(meta)
        .ok()
        .and_then(|v| v.get("refs").cloned())
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    refs.into_iter()
        .filter_map(|(name, r)| r["snapshot-id"].as_i64().map(|id| (name, id)))
        .collect()
}

/// Snapshots no expiry may touch: the heads and ancestries of refs other than
/// `main` (branches and tags other engines made, runs' staging branches) but
/// those in `dropped`.
fn other_ref_ancestries(meta: &TableMetadata, dropped: &[String]) -> HashSet<i64> {
    let mut keep = HashSet::new();
    for (name, head) in ref_heads(meta) {
        if name == MAIN_BRANCH || dropped.contains(&name) {
            continue;
        }
        let mut at = meta.snapshot_by_id(head);
        while let Some(s) = at {
            if !keep.insert(s.snapshot_id()) {
                break;
            }
            at = s
                .parent_snapshot_id()
                .and_then(|id| meta.snapshot_by_id(id));
        }
    }
    keep
}

/// The snapshots `opts` expires at time `cutoff` (ms), oldest first.
pub fn select(
    name: &TableName,
    meta: &TableMetadata,
    opts: &ExpireOptions,
    cutoff: Option<i64>,
) -> Result<Vec<i64>> {
    let ancestry = history::ancestry(meta);
    let current = ancestry.first().map(|s| s.snapshot_id());
    let mut keep: HashSet<i64> = ancestry
        .iter()
        .take(opts.retain_last.max(1))
        .map(|s| s.snapshot_id())
        .collect();
    let dropped = stale_staging_branches(meta, cutoff, &opts.keep_branches);
    keep.extend(other_ref_ancestries(meta, &dropped));
    let mut expired: Vec<(i64, i64)> = Vec::new();
    for id in &opts.snapshot_ids {
        let Some(s) = meta.snapshot_by_id(*id) else {
            return Err(failed(name, format!("the table has no snapshot {id}")));
        };
        if Some(*id) == current || other_ref_ancestries(meta, &dropped).contains(id) {
            return Err(failed(
                name,
                format!(
                    "snapshot {id} is the current snapshot or is held by a branch or tag; \
                     it cannot be expired"
                ),
            ));
        }
        expired.push((s.timestamp_ms(), *id));
    }
    if let Some(cutoff) = cutoff {
        for s in meta.snapshots() {
            if s.timestamp_ms() < cutoff
                && !keep.contains(&s.snapshot_id())
                && !opts.snapshot_ids.contains(&s.snapshot_id())
            {
                expired.push((s.timestamp_ms(), s.snapshot_id()));
            }
        }
    }
    expired.sort();
    Ok(expired.into_iter().map(|(_, id)| id).collect())
}

/// Expires snapshots of `name` as `opts` says and deletes the files only they
/// reached.
pub async fn expire_snapshots(
    catalog: &dyn TableCatalog,
    name: &TableName,
    opts: &ExpireOptions,
    policy: &RetryPolicy,
) -> Result<ExpireReport> {
    let cutoff = opts.older_than.map(cutoff_ms);
    for attempt in 1..=policy.max_attempts {
        let table = catalog
            .load_table(name)
            .await?
            .ok_or_else(|| failed(name, "the table does not exist"))?;
        let meta = table.metadata();
        let expired = select(name, meta, opts, cutoff)?;
        let dropped = stale_staging_branches(meta, cutoff, &opts.keep_branches);
        let kept: Vec<i64> = meta
            .snapshots()
            .map(|s| s.snapshot_id())
            .filter(|id| !expired.contains(id))
            .collect();
        let mut report = ExpireReport {
            table: name.to_string(),
            expired: expired.clone(),
            snapshots_kept: kept.len(),
            files_deleted: 0,
            branches_removed: dropped.clone(),
            dry_run: opts.dry_run,
        };
        if expired.is_empty() && dropped.is_empty() {
            return Ok(report);
        }
        let mut reach = Reach::new(&table);
        let needed = reach.of(kept.iter().copied()).await?;
        let only_expired: Vec<String> = reach
            .of(expired.iter().copied())
            .await?
            .into_iter()
            .filter(|p| !needed.contains(p))
            .collect();
        report.files_deleted = only_expired.len();
        if opts.dry_run {
            return Ok(report);
        }
        let next = dropped
            .iter()
            .fold(metadata::builder(&table)?, |b, branch| b.remove_ref(branch))
            .remove_snapshots(&expired)
            .build()
            .map_err(LakeError::iceberg(
                "building the metadata without the expired snapshots",
            ))?
            .metadata;
        let location = metadata::write_next(&table, &next).await?;
        let expected = table.metadata_location().unwrap_or_default().to_string();
        match catalog.swap_metadata(name, &expected, &location).await {
            Ok(SwapOutcome::Swapped) => {
                delete_files(&table, &only_expired).await;
                info!(table = %name, expired = expired.len(), files = only_expired.len(), "expired snapshots");
                return Ok(report);
            }
            Ok(SwapOutcome::Conflict) => {}
            // Unknown outcome: the next load tells; files are deleted only after a
            // swap known to have happened (else they stay, as orphans at worst).
            Err(e) if e.is_retryable() => {
                warn!(table = %name, error = %e, "expiry outcome unknown")
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
    }
    Err(failed(
        name,
        format!(
            "other commits kept moving the table; gave up expiring after {} attempts",
            policy.max_attempts
        ),
    ))
}

/// Deletes `paths`; a file already gone is fine, any other failure leaves an
/// orphan for orphan removal and is logged.
pub(super) async fn delete_files(table: &iceberg::table::Table, paths: &[String]) {
    for path in paths {
        if let Err(e) = table.file_io().delete(path).await {
            warn!(path, error = %e, "could not delete a file; orphan removal will retry");
        }
    }
}
