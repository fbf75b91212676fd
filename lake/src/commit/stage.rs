//! Builds one snapshot on a loaded base: new manifest for the added files, rewritten
//! manifests where files are removed, a manifest list, and the next metadata file.
//! Nothing here is visible until the catalog pointer is swapped.

use std::collections::HashMap;

use iceberg::spec::{
    DataFile, FormatVersion, ManifestContentType, ManifestEntry, ManifestFile, ManifestListWriter,
    ManifestWriter, ManifestWriterBuilder, Operation, Snapshot, SnapshotSummaryCollector, Struct,
    Summary, MAIN_BRANCH,
};
use iceberg::table::Table;
use uuid::Uuid;

use super::fence::{self, Claim};
use super::history::{self, ATTEMPT, CONTRACT_VERSION, RUN_ID, TASK_ID};
use super::merge::{self, ManifestCounts, MergePolicy};
use super::prune::PartitionFilter;
use super::CommitRequest;
use crate::error::{LakeError, Result};

/// A snapshot written to storage, waiting for its pointer swap.
pub(crate) struct Staged {
    pub snapshot_id: i64,
    pub metadata_location: String,
}

/// Which live entries of the base a change removes.
pub(crate) type Removal<'a> = &'a (dyn Fn(&ManifestEntry) -> bool + Sync);

/// One change to a branch of a table (`main`, or a staged run's), as one snapshot.
pub(crate) struct Change<'a> {
    /// The branch the snapshot goes on; a branch that does not exist yet is
    /// created at `main`'s current snapshot.
    pub branch: &'a str,
    /// Data files to add, written and not yet visible.
    pub added: &'a [DataFile],
    /// `Some` to remove the base's live data files it selects.
    pub remove: Option<Removal<'a>>,
    /// The one partition `remove` selects files in, if it is confined to one:
    /// manifests whose summaries exclude it are carried over unread.
    pub remove_in: Option<&'a Struct>,
    /// Summary properties besides Iceberg's metrics.
    pub properties: HashMap<String, String>,
    /// `None`: append, overwrite or delete, from what is added and removed.
    pub operation: Option<Operation>,
    /// The committer's attempt, to name the manifest list uniquely.
    pub attempt: u32,
    /// Table properties the same swap sets (a partition's fence).
    pub table_properties: HashMap<String, String>,
    /// The new snapshot's id, when the caller records it in a property;
    /// `None`: a fresh one.
    pub snapshot_id: Option<i64>,
}

fn ice(context: &str) -> impl FnOnce(iceberg::Error) -> LakeError + '_ {
    LakeError::iceberg(context)
}

pub(crate) fn new_snapshot_id(table: &Table) -> i64 {
    loop {
        let (a, b) = Uuid::new_v4().as_u64_pair();
        let id = ((a ^ b) & i64::MAX as u64) as i64;
        if id != 0 && table.metadata().snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// Stages a task's commit `req` on `table`, setting the `fence` property if
/// given. `None` when it would change nothing.
pub(crate) async fn stage(
    table: &Table,
    req: &CommitRequest,
    fence: Option<(String, String)>,
    attempt: u32,
) -> Result<Option<Staged>> {
    let runs = history::runs_by_snapshot(table.metadata());
    // A load removes the live files of its partition that belong to other (older,
    // as the fence ensures) runs' loads. Ownership is read from the file's name,
    // so the files of this run's other tasks stay even once their snapshots are
    // expired; only files without an owner in their name fall back to the
    // summary of the snapshot that added them.
    let is_older_load = |e: &ManifestEntry| {
        let Claim::Replace(partition) = &req.claim else {
            return false;
        };
        let owner = fence::file_owner(e.data_file().file_path()).or_else(|| {
            e.snapshot_id()
                .and_then(|id| runs.get(&id))
                .map(String::as_str)
        });
        e.data_file().partition() == partition && owner != Some(req.attempt.run_id.as_str())
    };
    let mut properties: HashMap<String, String> = req
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    properties.insert(RUN_ID.into(), req.attempt.run_id.to_string());
    properties.insert(TASK_ID.into(), req.attempt.task_id.to_string());
    properties.insert(ATTEMPT.into(), req.attempt.to_string());
    properties.insert(CONTRACT_VERSION.into(), req.contract_version.to_string());
    if let Some(key) = &req.idempotency_key {
        properties.insert(history::IDEMPOTENCY_KEY.into(), key.clone());
    }
    // The commit is recorded in its partition, to be found after expiry.
    let snapshot_id = new_snapshot_id(table);
    let mut table_properties: HashMap<String, String> = fence.into_iter().collect();
    table_properties.extend(fence::record_commit(
        table.metadata(),
        &req.claim,
        &req.attempt,
        req.idempotency_key.as_deref(),
        snapshot_id,
    ));
    let replaced_partition = match &req.claim {
        Claim::Replace(partition) => Some(partition),
        _ => None,
    };
    let change = Change {
        branch: req.branch.as_deref().unwrap_or(MAIN_BRANCH),
        added: &req.data_files,
        remove: replaced_partition.map(|_| &is_older_load as Removal),
        remove_in: replaced_partition,
        properties,
        operation: None,
        attempt,
        table_properties,
        snapshot_id: Some(snapshot_id),
    };
    stage_change(table, &change).await
}

/// Stages `change` on the head of its branch. `None` when it would change nothing.
pub(crate) async fn stage_change(table: &Table, change: &Change<'_>) -> Result<Option<Staged>> {
    let meta = table.metadata();
    if meta.format_version() != FormatVersion::V2 {
        return Err(LakeError::UnsupportedTable {
            table: meta.location().to_string(),
            message: format!(
                "it is format v{}; Floe writes format v2 tables",
                meta.format_version() as u8
            ),
        });
    }
    let file_io = table.file_io();
    let snapshot_id = change.snapshot_id.unwrap_or_else(|| new_snapshot_id(table));
    let commit_uuid = Uuid::new_v4();
    let sequence_number = meta.next_sequence_number();
    let parent = history::branch_head(meta, change.branch);
    let manifest_path = |n: usize| format!("{}/metadata/{commit_uuid}-m{n}.avro", meta.location());

    let mut manifests: Vec<ManifestFile> = Vec::new();
    let mut removed: Vec<DataFile> = Vec::new();
    let mut rewritten = 0usize;

    if !change.added.is_empty() {
        let out = file_io
            .new_output(manifest_path(0))
            .map_err(ice("creating a manifest"))?;
        let mut writer = ManifestWriterBuilder::new(
            out,
            Some(snapshot_id),
            meta.current_schema().clone(),
            meta.default_partition_spec().as_ref().clone(),
        )
        .build_v2_data();
        for file in change.added {
            // -1: the data sequence number is inherited from the manifest list.
            writer
                .add_file(file.clone(), -1)
                .map_err(ice("adding a data file"))?;
        }
        manifests.push(
            writer
                .write_manifest_file()
                .await
                .map_err(ice("writing a manifest"))?,
        );
    }

    if let Some(parent) = parent {
        let list = table
            .manifest_list_reader(parent)
            .load()
            .await
            .map_err(ice("reading the parent manifest list"))?;
        let filter = change
            .remove_in
            .map(|partition| PartitionFilter::new(meta, partition));
        for (n, mf) in list.entries().to_vec().into_iter().enumerate() {
            if !mf.has_added_files() && !mf.has_existing_files() {
                // Only deletions, recorded by the snapshot that made them.
                continue;
            }
            let in_scope = filter.as_ref().is_none_or(|f| f.may_hold(&mf));
            let rewritten_mf = match change.remove {
                Some(remove) if mf.content == ManifestContentType::Data && in_scope => {
                    let out = manifest_path(n + 1);
                    remove_files(table, &mf, remove, snapshot_id, out, &mut removed).await?
                }
                _ => None,
            };
            rewritten += usize::from(rewritten_mf.is_some());
            manifests.push(rewritten_mf.unwrap_or(mf));
        }
    }

    let policy = MergePolicy::from_properties(meta.properties());
    let merged_path =
        |n: usize| format!("{}/metadata/{commit_uuid}-merged{n}.avro", meta.location());
    let (manifests, merged_away) =
        merge::merge(table, policy, manifests, snapshot_id, merged_path).await?;

    let only_records = change
        .table_properties
        .keys()
        .all(|k| k.starts_with(fence::COMMITTED_PREFIX));
    if change.added.is_empty() && removed.is_empty() && only_records {
        return Ok(None);
    }

    let mut summary = summarize(table, parent.map(|p| p.as_ref()), change, &removed)?;
    let created = manifests
        .iter()
        .filter(|m| m.added_snapshot_id == snapshot_id)
        .count();
    let counts = ManifestCounts {
        created,
        kept: manifests.len() - created,
        replaced: rewritten + merged_away,
    };
    summary.additional_properties.extend(counts.summary());
    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-{}-{commit_uuid}.avro",
        meta.location(),
        change.attempt
    );
    let list_out = file_io
        .new_output(&list_path)
        .map_err(ice("creating a manifest list"))?
        .writer()
        .await
        .map_err(ice("opening the manifest list"))?;
    let mut list = ManifestListWriter::v2(
        list_out,
        snapshot_id,
        parent.map(|p| p.snapshot_id()),
        sequence_number,
    );
    let written_manifests: Vec<String> = manifests
        .iter()
        .filter(|m| m.added_snapshot_id == snapshot_id)
        .map(|m| m.manifest_path.clone())
        .collect();
    list.add_manifests(manifests.into_iter())
        .map_err(ice("listing manifests"))?;
    list.close()
        .await
        .map_err(ice("writing the manifest list"))?;
    // The data files, the new manifests and the list must survive a power loss
    // once the pointer moves to them (the metadata file is synced as written).
    super::durable::sync_files(
        change
            .added
            .iter()
            .map(|f| f.file_path())
            .chain(written_manifests.iter().map(String::as_str))
            .chain([list_path.as_str()]),
    )
    .await?;

    let next = NextSnapshot {
        snapshot_id,
        parent_snapshot_id: parent.map(|p| p.snapshot_id()),
        sequence_number,
        manifest_list: list_path,
        summary,
    };
    let metadata_location = next
        .write(table, change.branch, change.table_properties.clone())
        .await?;
    Ok(Some(Staged {
        snapshot_id,
        metadata_location,
    }))
}

/// A snapshot on top of a branch's head, its manifest list written.
pub(crate) struct NextSnapshot {
    pub snapshot_id: i64,
    /// The head it builds on.
    pub parent_snapshot_id: Option<i64>,
    pub sequence_number: i64,
    pub manifest_list: String,
    pub summary: Summary,
}

impl NextSnapshot {
    /// Writes the table's next metadata file, with this snapshot as `branch`'s
    /// head and `table_properties` set; returns its location (not yet swapped in).
    pub async fn write(
        self,
        table: &Table,
        branch: &str,
        table_properties: HashMap<String, String>,
    ) -> Result<String> {
        let meta = table.metadata();
        let snapshot = Snapshot::builder()
            .with_snapshot_id(self.snapshot_id)
            .with_parent_snapshot_id(self.parent_snapshot_id)
            .with_sequence_number(self.sequence_number)
            .with_timestamp_ms(
                chrono::Utc::now()
                    .timestamp_millis()
                    .max(meta.last_updated_ms()),
            )
            .with_manifest_list(self.manifest_list)
            .with_summary(self.summary)
            .with_schema_id(meta.current_schema_id())
            .build();
        let next = super::metadata::builder(table)?
            .set_properties(table_properties)
            .and_then(|b| b.set_branch_snapshot(snapshot, branch))
            .and_then(|b| b.build())
            .map_err(ice("building the new table metadata"))?
            .metadata;
        super::metadata::write_next(table, &next).await
    }
}

/// Rewrites `mf` without the live files `remove` selects; `None` if it selects
/// none (the manifest is then carried over as is).
async fn remove_files(
    table: &Table,
    mf: &ManifestFile,
    remove: Removal<'_>,
    snapshot_id: i64,
    out_path: String,
    removed: &mut Vec<DataFile>,
) -> Result<Option<ManifestFile>> {
    let manifest = mf
        .load_manifest(table.file_io())
        .await
        .map_err(ice("reading a manifest"))?;
    let (entries, _) = manifest.into_parts();
    let selected = |e: &ManifestEntry| e.is_alive() && remove(e);
    if !entries.iter().any(|e| selected(e)) {
        return Ok(None);
    }
    let mut writer = data_manifest_writer(table, mf.partition_spec_id, snapshot_id, out_path)?;
    for entry in entries.iter().filter(|e| e.is_alive()) {
        if selected(entry) {
            let (seq, file_seq) = sequence_numbers(entry, mf);
            writer
                .add_delete_file(entry.data_file().clone(), seq, file_seq)
                .map_err(ice("marking a file deleted"))?;
            removed.push(entry.data_file().clone());
        } else {
            keep_existing(&mut writer, entry, mf)?;
        }
    }
    writer
        .write_manifest_file()
        .await
        .map(Some)
        .map_err(ice("writing a manifest"))
}

/// A writer of a data manifest of partition spec `spec_id` at `path`, for
/// snapshot `snapshot_id`.
pub(crate) fn data_manifest_writer(
    table: &Table,
    spec_id: i32,
    snapshot_id: i64,
    path: String,
) -> Result<ManifestWriter> {
    let meta = table.metadata();
    let spec = meta
        .partition_spec_by_id(spec_id)
        .ok_or_else(|| LakeError::UnsupportedTable {
            table: meta.location().to_string(),
            message: format!("a manifest names partition spec {spec_id}, which it does not have"),
        })?;
    let out = table
        .file_io()
        .new_output(path)
        .map_err(ice("creating a manifest"))?;
    Ok(ManifestWriterBuilder::new(
        out,
        Some(snapshot_id),
        meta.current_schema().clone(),
        spec.as_ref().clone(),
    )
    .build_v2_data())
}

/// An entry's data and file sequence numbers, inherited from `mf` where unset.
fn sequence_numbers(entry: &ManifestEntry, mf: &ManifestFile) -> (i64, Option<i64>) {
    let seq = entry.sequence_number().unwrap_or(mf.sequence_number);
    (seq, entry.file_sequence_number.or(Some(mf.sequence_number)))
}

/// Writes live `entry` of `mf` into a rewritten or merged manifest as EXISTING,
/// with the snapshot and sequence numbers it was added with.
pub(crate) fn keep_existing(
    writer: &mut ManifestWriter,
    entry: &ManifestEntry,
    mf: &ManifestFile,
) -> Result<()> {
    let (seq, file_seq) = sequence_numbers(entry, mf);
    let added_by = entry.snapshot_id().unwrap_or(mf.added_snapshot_id);
    writer
        .add_existing_file(entry.data_file().clone(), added_by, seq, file_seq)
        .map_err(ice("keeping a file"))
}

/// The snapshot summary: Iceberg's added/removed/total metrics plus Floe's marks.
fn summarize(
    table: &Table,
    parent: Option<&Snapshot>,
    change: &Change<'_>,
    removed: &[DataFile],
) -> Result<Summary> {
    let meta = table.metadata();
    let schema = meta.current_schema().clone();
    let spec = meta.default_partition_spec().clone();
    let mut collector = SnapshotSummaryCollector::default();
    collector.set_partition_summary_limit(100);
    for f in change.added {
        collector.add_file(f, schema.clone(), spec.clone());
    }
    for f in removed {
        collector.remove_file(f, schema.clone(), spec.clone());
    }
    let mut props = change.properties.clone();
    props.extend(collector.build());
    let previous = parent
        .map(|s| s.summary().additional_properties.clone())
        .unwrap_or_default();
    let get = |m: &HashMap<String, String>, k: &str| {
        m.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0)
    };
    for (total, added, deleted) in [
        ("total-records", "added-records", "deleted-records"),
        ("total-data-files", "added-data-files", "deleted-data-files"),
        ("total-files-size", "added-files-size", "removed-files-size"),
    ] {
        let value = get(&previous, total) + get(&props, added) - get(&props, deleted);
        props.insert(total.to_string(), value.to_string());
    }
    for total in [
        "total-delete-files",
        "total-position-deletes",
        "total-equality-deletes",
    ] {
        props.insert(total.to_string(), get(&previous, total).to_string());
    }
    props.insert("floe.commit-attempt".into(), change.attempt.to_string());
    let operation =
        change
            .operation
            .clone()
            .unwrap_or(match (change.added.is_empty(), removed.is_empty()) {
                (_, true) => Operation::Append,
                (true, false) => Operation::Delete,
                (false, false) => Operation::Overwrite,
            });
    Ok(Summary {
        operation,
        additional_properties: props,
    })
}
