//! What a snapshot is made of: its manifest list, its manifests, and the data
//! files live in it. Rollback diffs two snapshots with it; maintenance uses it to
//! know which files a snapshot still needs.

use std::collections::{BTreeSet, HashMap};

use iceberg::spec::{DataFile, ManifestContentType, SnapshotRef, Struct};
use iceberg::table::Table;

use crate::error::{LakeError, Result};

/// A data file as a snapshot sees it.
#[derive(Debug, Clone)]
pub struct LiveFile {
    pub partition: Struct,
    pub spec_id: i32,
    pub records: u64,
    pub bytes: u64,
    /// The snapshot that added it to the table.
    pub added_by: Option<i64>,
    pub data_file: DataFile,
}

/// The files one snapshot reaches.
#[derive(Debug, Clone, Default)]
pub struct SnapshotFiles {
    pub manifest_list: String,
    pub manifests: Vec<String>,
    /// Data file path → the file, for every file live in the snapshot.
    pub data: HashMap<String, LiveFile>,
    /// Delete file path → the file: position and equality deletes other
    /// engines write (an Athena `DELETE`, Spark merge-on-read). Floe never
    /// writes them.
    pub deletes: HashMap<String, LiveFile>,
}

impl SnapshotFiles {
    /// Every path the snapshot needs to stay readable.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.manifest_list.as_str())
            .chain(self.manifests.iter().map(String::as_str))
            .chain(self.data.keys().map(String::as_str))
            .chain(self.deletes.keys().map(String::as_str))
    }

    /// The partitions (as [`partition_path`]s) holding live delete files.
    pub fn partitions_with_deletes(&self, table: &Table) -> BTreeSet<String> {
        self.deletes
            .values()
            .map(|f| partition_path(table, f))
            .collect()
    }
}

/// Reads the manifest list and manifests of `snapshot`.
pub async fn snapshot_files(table: &Table, snapshot: &SnapshotRef) -> Result<SnapshotFiles> {
    let list = table
        .manifest_list_reader(snapshot)
        .load()
        .await
        .map_err(LakeError::iceberg(format!(
            "reading the manifest list of snapshot {}",
            snapshot.snapshot_id()
        )))?;
    let mut files = SnapshotFiles {
        manifest_list: snapshot.manifest_list().to_string(),
        ..Default::default()
    };
    for mf in list.entries() {
        files.manifests.push(mf.manifest_path.clone());
        let into = match mf.content {
            ManifestContentType::Data => &mut files.data,
            ManifestContentType::Deletes => &mut files.deletes,
        };
        let manifest = mf
            .load_manifest(table.file_io())
            .await
            .map_err(LakeError::iceberg(format!(
                "reading manifest {}",
                mf.manifest_path
            )))?;
        for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
            let file = entry.data_file();
            into.insert(
                file.file_path().to_string(),
                LiveFile {
                    partition: file.partition().clone(),
                    spec_id: mf.partition_spec_id,
                    records: file.record_count(),
                    bytes: file.file_size_in_bytes(),
                    added_by: entry.snapshot_id().or(Some(mf.added_snapshot_id)),
                    data_file: file.clone(),
                },
            );
        }
    }
    Ok(files)
}

/// How the live data differs between two snapshots of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileDiff {
    /// Rows and files live in `from` but not in `to`.
    pub rows_removed: u64,
    pub files_removed: u64,
    /// Rows and files live in `to` but not in `from`.
    pub rows_restored: u64,
    pub files_restored: u64,
    /// The partitions (as `col=value` paths) where the two differ.
    pub partitions: Vec<String>,
}

/// What moving from `from` to `to` changes.
pub fn diff(table: &Table, from: &SnapshotFiles, to: &SnapshotFiles) -> FileDiff {
    let mut d = FileDiff::default();
    let mut partitions = BTreeSet::new();
    for (path, f) in &from.data {
        if !to.data.contains_key(path) {
            d.rows_removed += f.records;
            d.files_removed += 1;
            partitions.insert(partition_path(table, f));
        }
    }
    for (path, f) in &to.data {
        if !from.data.contains_key(path) {
            d.rows_restored += f.records;
            d.files_restored += 1;
            partitions.insert(partition_path(table, f));
        }
    }
    d.partitions = partitions.into_iter().collect();
    d
}

/// `col=value/...` for a partitioned file, `(unpartitioned)` otherwise.
pub fn partition_path(table: &Table, file: &LiveFile) -> String {
    let meta = table.metadata();
    match meta.partition_spec_by_id(file.spec_id) {
        Some(spec) if !spec.is_unpartitioned() => {
            spec.partition_to_path(&file.partition, meta.current_schema().clone())
        }
        _ => "(unpartitioned)".to_string(),
    }
}
