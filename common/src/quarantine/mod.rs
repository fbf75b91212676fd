//! The quarantine lifecycle. `reprocess` re-validates a partition's quarantined
//! rows against the current contract: rows that pass go to Silver and leave
//! quarantine, the others stay with `attempt_count` raised, and a row that
//! reaches [`MAX_ATTEMPTS`] moves to the condemned table. Condemned rows are
//! never retried automatically; `release` sends them back to quarantine, with an
//! approval recorded in both tables' snapshot summaries.
//!
//! Both are idempotent the same way. A pass's commits carry an idempotency key
//! made of what it read (a hash of the exact files), its partition and, for
//! `reprocess`, its contract; it commits to the other table(s) first. The table
//! it reads from is changed last, by replacing exactly those files. Cut short
//! anywhere, the pass can simply be run again: it reads the same files, makes
//! the same key, finds its earlier commits and makes only the missing ones. So
//! each row ends up in exactly one table, once. Run again with an edited
//! contract, it finds the other contract's partial commits and refuses, rather
//! than mix the two contracts' results.

mod one_file;
mod release;
mod reprocess;
mod revalidate;
mod task;

use iceberg::table::Table;

use crate::error::Result;
use crate::table::LineageContext;
use floe_lake::commit::files::{partition_path, snapshot_files, LiveFile};
use floe_lake::ids::{RunId, TaskId};

pub use release::{release_condemned, Approval, ReleaseReport};
pub use reprocess::{reprocess_partition, ReprocessOptions, ReprocessReport};
pub use task::run_pass;

/// The `attempt_count` at which a quarantined row is condemned.
pub const MAX_ATTEMPTS: i32 = 3;

/// How the condemned table's `reason` starts for a row that used up its
/// attempts (as opposed to a duplicate); only these can be released.
pub const EXHAUSTED: &str = "failed validation";

/// Snapshot summary keys of these passes.
pub const OPERATION: &str = "floe.operation";
pub use floe_lake::commit::history::{APPROVAL_REASON, APPROVED_BY};

/// What a pass that already finished did, read from the tables.
struct Finished {
    stats: crate::task::TaskStats,
    commits: std::collections::BTreeMap<crate::table::TableRole, floe_lake::commit::CommitOutcome>,
}

/// `Some` when this pass's task already made its last commit, to `read` (the
/// table it reads from, changed last): a redelivery after the pass finished
/// reports what it did instead of passing over what is left.
async fn finished(
    catalog: &dyn floe_lake::catalog::TableCatalog,
    contract: &crate::contract::Contract,
    read: &Table,
    run: &RunId,
    task: &TaskId,
) -> Result<Option<Finished>> {
    use floe_lake::commit::history::committed_snapshot;
    let meta = read.metadata();
    let Some(last) = committed_snapshot(meta, run, task).and_then(|id| meta.snapshot_by_id(id))
    else {
        return Ok(None);
    };
    let stats = crate::task::TaskStats::from_properties(&last.summary().additional_properties)
        .unwrap_or_default();
    let mut commits = std::collections::BTreeMap::new();
    for role in crate::table::TableRole::ALL {
        if let Some(t) = catalog.load_table(role.name(contract)).await? {
            if let Some(snapshot_id) = committed_snapshot(t.metadata(), run, task) {
                commits.insert(
                    role,
                    floe_lake::commit::CommitOutcome::AlreadyCommitted { snapshot_id },
                );
            }
        }
    }
    Ok(Some(Finished { stats, commits }))
}

/// The run whose load owns the partition of `files` (all of one partition)
/// in `table`: a pass adds to that load and is refused once another replaces it.
fn load_owner(table: &Table, files: &[LiveFile]) -> Option<RunId> {
    let partition = files.first()?.partition.clone();
    let meta = table.metadata();
    floe_lake::commit::fence::owner(
        meta,
        &floe_lake::commit::fence::partition_key(meta, &partition),
    )
}

/// The claim of a pass's commit on `partition`, inside `owner`'s load.
fn within(partition: iceberg::spec::Struct, owner: &Option<RunId>) -> floe_lake::commit::Claim {
    floe_lake::commit::Claim::Within {
        partition,
        owner: owner.clone(),
    }
}

/// Names a pass's data files: they belong to the load the pass adds to, so a
/// task of that load (a redelivery) keeps them.
fn pass_prefix(owner: &Option<RunId>, run: &RunId) -> String {
    let rest = format!("{run}-{}", uuid::Uuid::new_v4().simple());
    match owner {
        Some(owner) => floe_lake::commit::fence::file_prefix(owner, &rest),
        None => rest,
    }
}

/// The live data files of the current snapshot of `table` in the partition
/// `source_partition=label`, sorted by path. Refused when another engine's
/// delete files apply to it: a pass reads rows without applying deletes.
async fn partition_files(table: &Table, label: &str) -> Result<Vec<LiveFile>> {
    let Some(current) = table.metadata().current_snapshot() else {
        return Ok(Vec::new());
    };
    let wanted = format!("source_partition={label}");
    let live = snapshot_files(table, current).await?;
    if live.partitions_with_deletes(table).contains(&wanted) {
        return Err(floe_lake::LakeError::DeletesPresent {
            table: table.identifier().to_string(),
            partition: wanted,
        }
        .into());
    }
    let mut files: Vec<LiveFile> = live
        .data
        .into_values()
        .filter(|f| partition_path(table, f) == wanted)
        .collect();
    files.sort_by(|a, b| a.data_file.file_path().cmp(b.data_file.file_path()));
    Ok(files)
}

/// True while every one of `files` is still live in `name`: checked just
/// before a pass's first commit, so a run that reloaded the partition since the
/// pass read it makes the pass stop before it changes anything.
async fn still_live(
    catalog: &dyn floe_lake::catalog::TableCatalog,
    name: &crate::contract::TableName,
    files: &[LiveFile],
) -> Result<bool> {
    let Some(table) = catalog.load_table(name).await? else {
        return Ok(false);
    };
    let Some(current) = table.metadata().current_snapshot() else {
        return Ok(false);
    };
    let live = snapshot_files(&table, current).await?;
    Ok(files
        .iter()
        .all(|f| live.data.contains_key(f.data_file.file_path())))
}

/// Refuses a pass when another pass read the same rows of `label` and
/// committed part of its result to `table` without finishing (it was cut short,
/// and the contract was edited before running again): finishing with the other
/// contract would mix the two contracts' results.
async fn refuse_other_passes(
    catalog: &dyn floe_lake::catalog::TableCatalog,
    table: &crate::contract::TableName,
    label: &str,
    reads: &str,
    key: &str,
) -> Result<()> {
    let Some(t) = catalog.load_table(table).await? else {
        return Ok(());
    };
    let other = floe_lake::commit::history::passes_that_read(t.metadata(), reads)
        .into_iter()
        .find(|(k, _)| *k != key);
    match other {
        Some((_, version)) => Err(crate::FloeError::PassInterrupted {
            partition: label.to_string(),
            table: table.to_string(),
            version: version.to_string(),
        }),
        None => Ok(()),
    }
}

/// The error of a pass whose input changed under it.
fn changed(table: &crate::contract::TableName, label: &str) -> crate::FloeError {
    crate::FloeError::PassInputChanged {
        table: table.to_string(),
        partition: label.to_string(),
    }
}

/// Who writes a pass's rows: the pass itself, now.
fn lineage(label: &str, run_id: &RunId, task_id: &TaskId) -> LineageContext {
    LineageContext {
        source_partition: label.to_string(),
        run_id: run_id.to_string(),
        task_id: task_id.to_string(),
        attempt: 1,
        at_micros: chrono::Utc::now().timestamp_micros(),
    }
}

/// A stable name for a set of files (FNV-1a over their paths): the same files
/// give the same name on every run and every machine.
fn content_id(files: &[LiveFile]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        for b in f.data_file.file_path().bytes().chain([0]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// A string column of a batch read back from a Floe table, by name.
fn strings<'a>(
    batch: &'a arrow_array::RecordBatch,
    name: &str,
) -> Result<&'a arrow_array::StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref())
        .ok_or_else(|| crate::FloeError::QuarantineLayout(format!("no string column {name}")))
}

fn column<'a, T: 'static>(batch: &'a arrow_array::RecordBatch, name: &str) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref())
        .ok_or_else(|| {
            crate::FloeError::QuarantineLayout(format!("no column {name} of the expected type"))
        })
}
