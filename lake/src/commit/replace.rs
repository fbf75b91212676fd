//! Replacing a set of live data files by others holding the same rows (a
//! compaction), as one `replace` snapshot. Unlike a task commit it has no
//! partition to claim: it only holds while every file it replaces is still live,
//! so it gives up, changing nothing, when a concurrent commit removed one.

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
    for attempt in 1..=policy.max_attempts {
        let table = catalog
            .load_table(name)
            .await?
            .ok_or_else(|| LakeError::Maintenance {
                table: name.to_string(),
                message: "the table no longer exists".into(),
            })?;
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
            added,
            remove: Some(&selected as Removal),
            properties: properties.clone(),
            operation: operation.clone(),
            attempt,
            table_properties: fence_update.into_iter().collect(),
        };
        let Some(staged) = stage_change(&table, &change).await? else {
            return Ok(ReplaceOutcome::Superseded);
        };
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
            Ok(SwapOutcome::Conflict) => {}
            Err(e) if e.is_retryable() => {
                // Unknown outcome: if it landed, the files are gone from the next load.
                if let Some(t) = catalog.load_table(name).await? {
                    if t.metadata().snapshot_by_id(staged.snapshot_id).is_some() {
                        return Ok(ReplaceOutcome::Committed {
                            snapshot_id: staged.snapshot_id,
                        });
                    }
                }
            }
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
