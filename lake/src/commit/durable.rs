//! Making a change's files durable before the catalog pointer moves to them.
//!
//! On the embedded default the files are local, and a written file is only in
//! the page cache until it is synced: after a power loss the table could point
//! at a metadata file, manifest list or data file that is empty. So every file
//! a change wrote is fsynced, and then its folder (which holds the new name),
//! before the swap. A rename is not needed: nothing refers to the files until
//! the swap, so a torn file left by a crash before it is only an orphan.
//! Object stores (`s3://`) make a write durable when it returns.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{LakeError, Result};

/// The local path of `location`, or `None` for an object store.
fn local_path(location: &str) -> Option<PathBuf> {
    if let Some(path) = location.strip_prefix("file://") {
        return Some(PathBuf::from(path));
    }
    (!location.contains("://")).then(|| PathBuf::from(location))
}

/// Fsyncs each local file of `locations`, then each folder holding them.
pub(crate) async fn sync_files<'a>(locations: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let files: Vec<PathBuf> = locations.into_iter().filter_map(local_path).collect();
    if files.is_empty() {
        return Ok(());
    }
    tokio::task::spawn_blocking(move || sync_blocking(&files))
        .await
        .map_err(|e| durability_error(Path::new("(the sync task)"), std::io::Error::other(e)))?
}

fn sync_blocking(files: &[PathBuf]) -> Result<()> {
    let mut folders = BTreeSet::new();
    for file in files {
        sync_path(file)?;
        if let Some(parent) = file.parent() {
            folders.insert(parent.to_path_buf());
        }
    }
    for folder in &folders {
        sync_path(folder)?;
    }
    Ok(())
}

fn sync_path(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| durability_error(path, e))
}

fn durability_error(path: &Path, source: std::io::Error) -> LakeError {
    LakeError::Durability {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_files_are_synced_and_object_store_locations_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v2.metadata.json");
        std::fs::write(&file, b"{}").unwrap();
        let uri = format!("file://{}", file.display());
        sync_files([
            uri.as_str(),
            file.to_str().unwrap(),
            "s3://bucket/t/v2.metadata.json",
        ])
        .await
        .unwrap();
        let missing = format!("file://{}", dir.path().join("gone.avro").display());
        let e = sync_files([missing.as_str()])
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("gone.avro") && e.contains("fsync"), "{e}");
    }
}
