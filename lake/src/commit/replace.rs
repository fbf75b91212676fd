//! Replacing a set of live data files by others holding the same rows (a
//! compaction), as one `replace` snapshot. Unlike a task commit it has no
//! partition to claim: it only holds while every file it replaces is still live,
//! so it gives up, changing nothing, when a concurrent commit removed one.
//!
//! A swap whose answer was lost may have happened even when the retry says
//! otherwise (Glue refuses the SDK's retry of an applied `UpdateTable` with
//! `ConcurrentModificationException`, a conflict). So every reload first looks
//! for the snapshots this call staged: one on `main` means it committed, and its
//! inputs being gone is its own doing, not a concurrent commit's.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{DataFile, ManifestEntry, Operation};
use tracing::debug;

use super::fence::{self, Claim};
use super::files::snapshot_files;
use super::stage::{stage_change, Change, Removal};
use super::RetryPolicy;
use crate::catalog::{SwapOutcome, TableCatalog};
use crate::error::{LakeError, Result};
use crate::ids::RunId;
use crate::TableName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceOutcome {
    Committed {
        snapshot_id: i64,
    },
    /// A file to replace is no longer live (another commit removed it): nothing
    /// was changed, and the added files were never made visible.
    Superseded,
}

/// Replaces the live files `replaced` (paths) of `name` by `added`, with the
/// summary `properties`. Retries on conflicts while the files are still live.
/// `operation` is `Replace` when the rows stay the same (compaction); `None`
/// derives it from the change (`overwrite`, or `delete` when nothing is added).
/// `fence`: the run making the change and its claim on the partition, checked
/// on every attempt (a refusal is [`LakeError::Superseded`]).
#[allow(clippy::too_many_arguments)]
pub async fn replace_files(
    catalog: &dyn TableCatalog,
    name: &TableName,
    replaced: &HashSet<String>,
    added: &[DataFile],
    properties: HashMap<String, String>,
    operation: Option<Operation>,
    fence: Option<(&RunId, &Claim)>,
    policy: &RetryPolicy,
) -> Result<ReplaceOutcome> {
    let selected = |e: &ManifestEntry| replaced.contains(e.data_file().file_path());
    let mut staged_ids: Vec<i64> = Vec::new();
    for attempt in 1..=policy.max_attempts {
        let table = catalog
            .load_table(name)
            .await?
            .ok_or_else(|| LakeError::Maintenance {
                table: name.to_string(),
                message: "the table no longer exists".into(),
            })?;
        if let Some(snapshot_id) = landed(&table, &staged_ids) {
            debug!(table = %name, snapshot_id, "an earlier swap of this replace landed");
            return Ok(ReplaceOutcome::Committed { snapshot_id });
        }
        let Some(current) = table.metadata().current_snapshot() else {
            return Ok(ReplaceOutcome::Superseded);
        };
        let fence_update = match fence {
            Some((run, claim)) => {
                fence::check(table.metadata(), run, claim).map_err(|r| LakeError::Superseded {
                    table: name.to_string(),
                    partition: r.partition,
                    run: run.to_string(),
                    by: r.owner.map(|o| o.to_string()),
                })?
            }
            None => None,
        };
        let live = snapshot_files(&table, current).await?;
        if !replaced.iter().all(|p| live.data.contains_key(p)) {
            debug!(table = %name, "files to replace were removed meanwhile");
            return Ok(ReplaceOutcome::Superseded);
        }
        let change = Change {
            branch: iceberg::spec::MAIN_BRANCH,
            added,
            remove: Some(&selected as Removal),
            remove_in: None,
            properties: properties.clone(),
            operation: operation.clone(),
            attempt,
            table_properties: fence_update.into_iter().collect(),
            snapshot_id: None,
        };
        let Some(staged) = stage_change(&table, &change).await? else {
            return Ok(ReplaceOutcome::Superseded);
        };
        staged_ids.push(staged.snapshot_id);
        let expected = table.metadata_location().unwrap_or_default().to_string();
        match catalog
            .swap_metadata(name, &expected, &staged.metadata_location)
            .await
        {
            Ok(SwapOutcome::Swapped) => {
                return Ok(ReplaceOutcome::Committed {
                    snapshot_id: staged.snapshot_id,
                })
            }
            // Unknown outcome, or a conflict that may be our own swap answered
            // late: the next load tells.
            Ok(SwapOutcome::Conflict) => {}
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(e),
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
    }
    Err(LakeError::Maintenance {
        table: name.to_string(),
        message: format!(
            "gave up replacing files after {} conflicting commits; nothing was changed",
            policy.max_attempts
        ),
    })
}

/// The first of `staged` (snapshot ids) that is on `table`'s `main`.
fn landed(table: &iceberg::table::Table, staged: &[i64]) -> Option<i64> {
    if staged.is_empty() {
        return None;
    }
    let meta = table.metadata();
    let mut at = meta.current_snapshot();
    while let Some(s) = at {
        if staged.contains(&s.snapshot_id()) {
            return Some(s.snapshot_id());
        }
        at = s.parent_snapshot_id().and_then(|p| meta.snapshot_by_id(p));
    }
    None
}
