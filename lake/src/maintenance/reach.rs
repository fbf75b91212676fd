//! Which files snapshots reach: their manifest lists, manifests and live data
//! and delete files (other engines' position and equality deletes are as live
//! as the data they apply to). Manifests are shared by many snapshots, so each
//! is read once.

use std::collections::{HashMap, HashSet};

use iceberg::spec::SnapshotRef;
use iceberg::table::Table;

use crate::error::{LakeError, Result};

pub(super) struct Reach<'t> {
    table: &'t Table,
    /// Manifest path → the data or delete files live in it.
    manifests: HashMap<String, Vec<String>>,
}

impl<'t> Reach<'t> {
    pub fn new(table: &'t Table) -> Self {
        Self {
            table,
            manifests: HashMap::new(),
        }
    }

    /// Adds every path `snapshot` needs to `into`.
    pub async fn add(&mut self, snapshot: &SnapshotRef, into: &mut HashSet<String>) -> Result<()> {
        into.insert(snapshot.manifest_list().to_string());
        let list = self
            .table
            .manifest_list_reader(snapshot)
            .load()
            .await
            .map_err(LakeError::iceberg(format!(
                "reading the manifest list of snapshot {}",
                snapshot.snapshot_id()
            )))?;
        for mf in list.entries() {
            into.insert(mf.manifest_path.clone());
            if !self.manifests.contains_key(&mf.manifest_path) {
                let manifest =
                    mf.load_manifest(self.table.file_io())
                        .await
                        .map_err(LakeError::iceberg(format!(
                            "reading manifest {}",
                            mf.manifest_path
                        )))?;
                let live = manifest
                    .entries()
                    .iter()
                    .filter(|e| e.is_alive())
                    .map(|e| e.file_path().to_string())
                    .collect();
                self.manifests.insert(mf.manifest_path.clone(), live);
            }
            into.extend(self.manifests[&mf.manifest_path].iter().cloned());
        }
        Ok(())
    }

    /// Every path the snapshots `ids` need.
    pub async fn of(&mut self, ids: impl IntoIterator<Item = i64>) -> Result<HashSet<String>> {
        let mut paths = HashSet::new();
        let table = self.table;
        for id in ids {
            if let Some(s) = table.metadata().snapshot_by_id(id) {
                self.add(s, &mut paths).await?;
            }
        }
        Ok(paths)
    }
}
