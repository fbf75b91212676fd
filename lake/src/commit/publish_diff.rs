//! What publishing a staged run changes on one table, partition by partition:
//! rows and column sums on `main` before, and after. Before the publish the
//! two states are `main`'s head and the run's branch (restricted to the
//! partitions the publish would replace); after it, the publish snapshot and
//! its parent, so a run's diff reads the same once it is published.

use std::collections::BTreeSet;

use iceberg::spec::MAIN_BRANCH;
use iceberg::table::Table;
use serde::Serialize;

use super::fence::partition_key;
use super::files::{snapshot_files, LiveFile, SnapshotFiles};
use super::history::published_snapshot;
use super::publish::{owned_partitions, staging_branch};
use crate::data::totals::{totals_by_partition, Totals};
use crate::error::Result;
use crate::RunId;

/// One table's change by a run's publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishDiff {
    /// Whether the run is published on this table already.
    pub published: bool,
    /// `main`'s snapshot before the publish (none: the table was empty).
    pub before_snapshot: Option<i64>,
    /// The run's branch head, or once published the publish snapshot.
    pub after_snapshot: i64,
    /// In partition order.
    pub partitions: Vec<PartitionDiff>,
}

/// One partition's rows and sums on `main` before and after the publish.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionDiff {
    pub partition: String,
    pub before: Totals,
    pub after: Totals,
}

/// How publishing `run` changes `table` (summing `columns` where the table
/// has them); `None` when the run has no branch on it and published nothing
/// to it.
pub async fn publish_diff(
    table: &Table,
    run: &RunId,
    columns: &[String],
) -> Result<Option<PublishDiff>> {
    let meta = table.metadata();
    let (published, before, after) = match published_snapshot(meta, run) {
        Some(id) => {
            let after = meta.snapshot_by_id(id).expect("on main's ancestry");
            let before = after
                .parent_snapshot_id()
                .and_then(|p| meta.snapshot_by_id(p));
            (true, before, after)
        }
        None => match meta.snapshot_for_ref(&staging_branch(run)) {
            Some(head) => (false, meta.snapshot_for_ref(MAIN_BRANCH), head),
            None => return Ok(None),
        },
    };
    let before_files = match before {
        Some(s) => snapshot_files(table, s).await?,
        None => SnapshotFiles::default(),
    };
    let after_files = snapshot_files(table, after).await?;
    let partitions: BTreeSet<String> = if published {
        changed_partitions(table, &before_files, &after_files)
    } else {
        owned_partitions(meta, run).into_iter().collect()
    };
    let in_scope = |f: &&LiveFile| partitions.contains(&partition_key(meta, &f.partition));
    let before_in = before_files.data.values().filter(in_scope);
    let mut before_totals = totals_by_partition(table, before_in, columns).await?;
    let after_in = after_files.data.values().filter(in_scope);
    let mut after_totals = totals_by_partition(table, after_in, columns).await?;
    Ok(Some(PublishDiff {
        published,
        before_snapshot: before.map(|s| s.snapshot_id()),
        after_snapshot: after.snapshot_id(),
        partitions: partitions
            .into_iter()
            .map(|partition| PartitionDiff {
                before: before_totals.remove(&partition).unwrap_or_default(),
                after: after_totals.remove(&partition).unwrap_or_default(),
                partition,
            })
            .collect(),
    }))
}

/// The partitions where a file was added or removed between the two states.
fn changed_partitions(table: &Table, from: &SnapshotFiles, to: &SnapshotFiles) -> BTreeSet<String> {
    let meta = table.metadata();
    let removed = from.data.iter().filter(|(p, _)| !to.data.contains_key(*p));
    let added = to.data.iter().filter(|(p, _)| !from.data.contains_key(*p));
    removed
        .chain(added)
        .map(|(_, f)| partition_key(meta, &f.partition))
        .collect()
}
