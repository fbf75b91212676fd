//! Builds one snapshot on a loaded base: new manifest for the added files, rewritten
//! manifests where files are removed, a manifest list, and the next metadata file.
//! Nothing here is visible until the catalog pointer is swapped.

use std::collections::HashMap;
use std::str::FromStr;

use iceberg::spec::{
    DataFile, FormatVersion, ManifestContentType, ManifestFile, ManifestListWriter,
    ManifestWriterBuilder, Operation, Snapshot, SnapshotSummaryCollector, Summary,
    TableMetadataBuilder, MAIN_BRANCH,
};
use iceberg::table::Table;
use iceberg::MetadataLocation;
use uuid::Uuid;

use super::history::{self, ATTEMPT, CONTRACT_VERSION, RUN_ID, TASK_ID};
use super::CommitRequest;
use crate::error::{FloeError, Result};

/// A snapshot written to storage, waiting for its pointer swap.
pub(crate) struct Staged {
    pub snapshot_id: i64,
    pub metadata_location: String,
}

fn ice(context: &str) -> impl FnOnce(iceberg::Error) -> FloeError + '_ {
    FloeError::iceberg(context)
}

fn new_snapshot_id(table: &Table) -> i64 {
    loop {
        let (a, b) = Uuid::new_v4().as_u64_pair();
        let id = ((a ^ b) & i64::MAX as u64) as i64;
        if id != 0 && table.metadata().snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

/// Stages `req` on `table`. `None` when it would change nothing.
pub(crate) async fn stage(
    table: &Table,
    req: &CommitRequest,
    attempt: u32,
) -> Result<Option<Staged>> {
    let meta = table.metadata();
    if meta.format_version() != FormatVersion::V2 {
        return Err(FloeError::Invalid(format!(
            "table {} is format v{}; Floe writes format v2 tables",
            req.table,
            meta.format_version() as u8
        )));
    }
    let file_io = table.file_io();
    let snapshot_id = new_snapshot_id(table);
    let commit_uuid = Uuid::new_v4();
    let sequence_number = meta.next_sequence_number();
    let parent = meta.current_snapshot();
    let manifest_path = |n: usize| format!("{}/metadata/{commit_uuid}-m{n}.avro", meta.location());

    let mut manifests: Vec<ManifestFile> = Vec::new();
    let mut removed: Vec<DataFile> = Vec::new();

    if !req.data_files.is_empty() {
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
        for file in &req.data_files {
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
        let runs = history::runs_by_snapshot(meta);
        for (n, mf) in list.entries().to_vec().into_iter().enumerate() {
            if !mf.has_added_files() && !mf.has_existing_files() {
                // Only deletions, recorded by the snapshot that made them.
                continue;
            }
            let rewritten = match &req.replace {
                Some(scope) if mf.content == ManifestContentType::Data => {
                    let out = manifest_path(n + 1);
                    remove_foreign_files(
                        table,
                        &mf,
                        scope,
                        &runs,
                        req,
                        snapshot_id,
                        out,
                        &mut removed,
                    )
                    .await?
                }
                _ => None,
            };
            manifests.push(rewritten.unwrap_or(mf));
        }
    }

    if req.data_files.is_empty() && removed.is_empty() {
        return Ok(None);
    }

    let summary = summarize(table, req, &removed, attempt)?;
    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-{attempt}-{commit_uuid}.avro",
        meta.location()
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
    list.add_manifests(manifests.into_iter())
        .map_err(ice("listing manifests"))?;
    list.close()
        .await
        .map_err(ice("writing the manifest list"))?;

    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(parent.map(|p| p.snapshot_id()))
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(
            chrono::Utc::now()
                .timestamp_millis()
                .max(meta.last_updated_ms()),
        )
        .with_manifest_list(list_path)
        .with_summary(summary)
        .with_schema_id(meta.current_schema_id())
        .build();
    let current_location = table
        .metadata_location_result()
        .map_err(ice("reading the metadata location"))?;
    let new_meta =
        TableMetadataBuilder::new_from_metadata(meta.clone(), Some(current_location.to_string()))
            .set_branch_snapshot(snapshot, MAIN_BRANCH)
            .and_then(|b| b.build())
            .map_err(ice("building the new table metadata"))?
            .metadata;
    let location = MetadataLocation::from_str(current_location)
        .map_err(ice("parsing the metadata location"))?
        .with_next_version()
        .with_new_metadata(&new_meta);
    new_meta
        .write_to(file_io, &location)
        .await
        .map_err(ice("writing the new table metadata"))?;
    Ok(Some(Staged {
        snapshot_id,
        metadata_location: location.to_string(),
    }))
}

/// Rewrites `mf` without the live files of the replaced partition that other runs
/// wrote; `None` if it holds none (the manifest is then carried over as is).
#[allow(clippy::too_many_arguments)]
async fn remove_foreign_files(
    table: &Table,
    mf: &ManifestFile,
    scope: &super::ReplaceScope,
    runs: &HashMap<i64, String>,
    req: &CommitRequest,
    snapshot_id: i64,
    out_path: String,
    removed: &mut Vec<DataFile>,
) -> Result<Option<ManifestFile>> {
    let manifest = mf
        .load_manifest(table.file_io())
        .await
        .map_err(ice("reading a manifest"))?;
    let (entries, _) = manifest.into_parts();
    let is_foreign = |e: &iceberg::spec::ManifestEntry| {
        e.is_alive()
            && e.data_file().partition() == &scope.partition
            && e.snapshot_id()
                .and_then(|id| runs.get(&id))
                .is_none_or(|run| run != req.run_id.as_str())
    };
    if !entries.iter().any(|e| is_foreign(e)) {
        return Ok(None);
    }
    let meta = table.metadata();
    let spec = meta
        .partition_spec_by_id(mf.partition_spec_id)
        .ok_or_else(|| {
            FloeError::Invalid(format!(
                "manifest {} names an unknown partition spec",
                mf.manifest_path
            ))
        })?;
    let out = table
        .file_io()
        .new_output(out_path)
        .map_err(ice("creating a manifest"))?;
    let mut writer = ManifestWriterBuilder::new(
        out,
        Some(snapshot_id),
        meta.current_schema().clone(),
        spec.as_ref().clone(),
    )
    .build_v2_data();
    for entry in entries.iter().filter(|e| e.is_alive()) {
        let seq = entry.sequence_number().unwrap_or(mf.sequence_number);
        let file_seq = entry.file_sequence_number.or(Some(mf.sequence_number));
        if is_foreign(entry) {
            writer
                .add_delete_file(entry.data_file().clone(), seq, file_seq)
                .map_err(ice("marking a file deleted"))?;
            removed.push(entry.data_file().clone());
        } else {
            let added_by = entry.snapshot_id().unwrap_or(mf.added_snapshot_id);
            writer
                .add_existing_file(entry.data_file().clone(), added_by, seq, file_seq)
                .map_err(ice("keeping a file"))?;
        }
    }
    writer
        .write_manifest_file()
        .await
        .map(Some)
        .map_err(ice("writing a manifest"))
}

/// The snapshot summary: Iceberg's added/removed/total metrics plus Floe's marks.
fn summarize(
    table: &Table,
    req: &CommitRequest,
    removed: &[DataFile],
    attempt: u32,
) -> Result<Summary> {
    let meta = table.metadata();
    let schema = meta.current_schema().clone();
    let spec = meta.default_partition_spec().clone();
    let mut collector = SnapshotSummaryCollector::default();
    collector.set_partition_summary_limit(100);
    for f in &req.data_files {
        collector.add_file(f, schema.clone(), spec.clone());
    }
    for f in removed {
        collector.remove_file(f, schema.clone(), spec.clone());
    }
    let mut props: HashMap<String, String> = req
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    props.extend(collector.build());
    let previous = meta
        .current_snapshot()
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
    props.insert(RUN_ID.into(), req.run_id.to_string());
    props.insert(TASK_ID.into(), req.task_id.to_string());
    props.insert(ATTEMPT.into(), req.attempt.to_string());
    props.insert(CONTRACT_VERSION.into(), req.contract_version.to_string());
    props.insert("floe.commit-attempt".into(), attempt.to_string());
    let operation = match (req.data_files.is_empty(), removed.is_empty()) {
        (_, true) => Operation::Append,
        (true, false) => Operation::Delete,
        (false, false) => Operation::Overwrite,
    };
    Ok(Summary {
        operation,
        additional_properties: props,
    })
}
