//! Compaction: per partition, rewrite the small files into files of the target
//! size and swap them in with one `replace` snapshot.
//!
//! Files are grouped by partition *and by the load they belong to*: a backfill
//! replaces the files of other runs' loads in its partitions, so a compacted
//! file must belong to exactly one load (named in the file, see
//! `commit::fence`, and recorded as `floe.compacted-run`) for a replace still
//! in flight to keep its own rows and drop the others. A
//! compaction that loses a race to a commit that removed one of its files (a
//! backfill replacing the partition) gives up on that group and changes nothing.
//!
//! Partitions holding another engine's delete files are left as they are:
//! rewriting their data files would give the rows new sequence numbers that
//! the deletes no longer apply to, and the deleted rows would come back.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::TryStreamExt;
use iceberg::table::Table;
use tracing::info;

use super::failed;
use crate::catalog::TableCatalog;
use crate::commit::fence;
use crate::commit::files::{partition_path, snapshot_files, LiveFile};
use crate::commit::history::{self, COMPACTED_RUN, MAINTENANCE};
use crate::commit::replace::{replace_files, ReplaceOutcome};
use crate::commit::RetryPolicy;
use crate::data::{ColumnHints, PartitionWriter};
use crate::error::{LakeError, Result};
use crate::TableName;

#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Size of the files written.
    pub target_file_bytes: u64,
    /// A partition is compacted once it holds this many small files (at least 2).
    pub min_files: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            target_file_bytes: 128 * 1024 * 1024,
            min_files: 4,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CompactReport {
    pub table: String,
    /// Partitions (of one run each) rewritten.
    pub groups_compacted: usize,
    pub files_replaced: usize,
    pub files_written: usize,
    pub rows_rewritten: u64,
    /// Groups given up because a concurrent commit removed one of their files.
    pub groups_superseded: usize,
    /// Partitions not compacted because they hold another engine's delete
    /// files (rewrite those with that engine, e.g. Spark's `rewrite_data_files`).
    pub skipped_with_deletes: Vec<String>,
}

/// One partition's small files of one run.
struct Group {
    partition: String,
    run: Option<String>,
    files: Vec<LiveFile>,
}

/// Compacts the small files of `name`'s current snapshot.
pub async fn compact(
    catalog: &dyn TableCatalog,
    name: &TableName,
    opts: &CompactOptions,
    policy: &RetryPolicy,
) -> Result<CompactReport> {
    let mut report = CompactReport {
        table: name.to_string(),
        ..Default::default()
    };
    let table = catalog
        .load_table(name)
        .await?
        .ok_or_else(|| failed(name, "the table does not exist"))?;
    let Some(current) = table.metadata().current_snapshot() else {
        return Ok(report);
    };
    let live = snapshot_files(&table, current).await?;
    let with_deletes = live.partitions_with_deletes(&table);
    for group in groups(&table, live.data.into_values(), opts) {
        if with_deletes.contains(&group.partition) {
            info!(table = %name, partition = %group.partition, "not compacted: the partition holds delete files");
            if !report.skipped_with_deletes.contains(&group.partition) {
                report.skipped_with_deletes.push(group.partition);
            }
            continue;
        }
        let replaced: HashSet<String> = group
            .files
            .iter()
            .map(|f| f.data_file.file_path().to_string())
            .collect();
        let rows: u64 = group.files.iter().map(|f| f.records).sum();
        let written = rewrite(&table, &group, opts.target_file_bytes).await?;
        let written_rows: u64 = written.iter().map(|f| f.record_count()).sum();
        if written_rows != rows {
            return Err(LakeError::Accounting {
                task: format!("compaction of {name} {}", group.partition),
                detail: format!("read {rows} rows from the small files but wrote {written_rows}"),
            });
        }
        let mut properties = HashMap::from([(MAINTENANCE.to_string(), "compaction".to_string())]);
        if let Some(run) = &group.run {
            properties.insert(COMPACTED_RUN.to_string(), run.clone());
        }
        let replace = Some(iceberg::spec::Operation::Replace);
        match replace_files(
            catalog, name, &replaced, &written, properties, replace, None, policy,
        )
        .await?
        {
            ReplaceOutcome::Committed { snapshot_id } => {
                info!(table = %name, partition = %group.partition, files = replaced.len(), snapshot_id, "compacted");
                report.groups_compacted += 1;
                report.files_replaced += replaced.len();
                report.files_written += written.len();
                report.rows_rewritten += rows;
            }
            ReplaceOutcome::Superseded => {
                // The files it wrote are left to orphan removal: deleting on a
                // conflict path is how a lost answer turns into lost data.
                info!(table = %name, partition = %group.partition, "compaction superseded by a concurrent commit; nothing changed");
                report.groups_superseded += 1;
            }
        }
    }
    Ok(report)
}

/// The groups worth compacting: at least `min_files` small files of one run in
/// one partition of the current spec.
fn groups(
    table: &Table,
    files: impl Iterator<Item = LiveFile>,
    opts: &CompactOptions,
) -> Vec<Group> {
    let meta = table.metadata();
    let runs = history::runs_by_snapshot(meta);
    let small = opts.target_file_bytes / 4 * 3;
    let mut by_key: BTreeMap<(String, Option<String>), Vec<LiveFile>> = BTreeMap::new();
    for f in files {
        if f.bytes >= small || f.spec_id != meta.default_partition_spec_id() {
            continue;
        }
        let run = fence::file_owner(f.data_file.file_path())
            .map(str::to_string)
            .or_else(|| f.added_by.and_then(|id| runs.get(&id).cloned()));
        by_key
            .entry((partition_path(table, &f), run))
            .or_default()
            .push(f);
    }
    by_key
        .into_iter()
        .filter(|(_, files)| files.len() >= opts.min_files.max(2))
        .map(|((partition, run), mut files)| {
            files.sort_by(|a, b| a.data_file.file_path().cmp(b.data_file.file_path()));
            Group {
                partition,
                run,
                files,
            }
        })
        .collect()
}

/// Reads the group's files and writes their rows into target-size files.
async fn rewrite(
    table: &Table,
    group: &Group,
    target_file_bytes: u64,
) -> Result<Vec<iceberg::spec::DataFile>> {
    let mut batches = crate::data::read_files(table, &group.files)?;
    let partition = group.files[0].partition.clone();
    // The rewritten files keep belonging to the load their rows came from.
    let rest = format!("compacted-{}", uuid::Uuid::now_v7());
    let prefix = match &group.run {
        Some(run) => fence::file_prefix(&crate::RunId::new(run), &rest),
        None => rest,
    };
    let mut writer = PartitionWriter::new(
        table,
        partition,
        prefix,
        target_file_bytes,
        &ColumnHints::default(),
    )
    .await?;
    while let Some(batch) = batches.try_next().await? {
        writer.write(batch).await?;
    }
    writer.close().await
}
