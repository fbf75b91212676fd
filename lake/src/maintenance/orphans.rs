//! Removing orphan files: files under a table's location that no snapshot, no
//! metadata file in the log and no statistics file references — left by
//! commits that lost their race, crashed writers or failed deletes.
//!
//! Safe beside concurrent writers by age: a writer's files are unreferenced
//! until its commit lands, so only files older than the safety age are removed.
//! Keep the age well above the longest task (the default is three days).

use std::collections::HashSet;
use std::time::Duration;

use tracing::info;

use super::reach::Reach;
use super::{cutoff_ms, failed};
use crate::catalog::TableCatalog;
use crate::error::Result;
use crate::storage::BronzeStore;
use crate::TableName;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OrphanReport {
    pub table: String,
    /// Files listed under the table's location.
    pub files_listed: usize,
    /// Orphans old enough to remove (removed unless a dry run).
    pub orphans: Vec<String>,
    pub dry_run: bool,
}

const FILE_SCHEME: &str = "file://";

/// Lists every file under the table `location`, as the paths metadata uses.
async fn list_tree(store: &dyn BronzeStore, location: &str) -> Result<Vec<(String, Option<i64>)>> {
    let root = location.trim_end_matches('/');
    let local = root.strip_prefix(FILE_SCHEME);
    let pattern = format!("{}/**/*", local.unwrap_or(root));
    let files = store.list(&pattern).await?;
    Ok(files
        .into_iter()
        .map(|f| {
            let path = match local {
                Some(_) => format!("{FILE_SCHEME}{}", f.location),
                None => f.location,
            };
            (path, f.modified_ms)
        })
        .collect())
}

/// Removes the orphan files of `name` older than `older_than`; `store` lists
/// the table's location (local or S3).
pub async fn remove_orphan_files(
    catalog: &dyn TableCatalog,
    store: &dyn BronzeStore,
    name: &TableName,
    older_than: Duration,
    dry_run: bool,
) -> Result<OrphanReport> {
    let cutoff = cutoff_ms(older_than);
    let table = catalog
        .load_table(name)
        .await?
        .ok_or_else(|| failed(name, "the table does not exist"))?;
    let meta = table.metadata();
    // References come from the table as loaded; a file a later commit added is
    // younger than the load, so the age check keeps it.
    let listed = list_tree(store, meta.location()).await?;
    let snapshots: Vec<i64> = meta.snapshots().map(|s| s.snapshot_id()).collect();
    let mut referenced: HashSet<String> = Reach::new(&table).of(snapshots).await?;
    referenced.extend(table.metadata_location().map(str::to_string));
    referenced.extend(meta.metadata_log().iter().map(|l| l.metadata_file.clone()));
    referenced.extend(meta.statistics_iter().map(|s| s.statistics_path.clone()));
    referenced.extend(
        meta.partition_statistics_iter()
            .map(|s| s.statistics_path.clone()),
    );
    let orphans: Vec<String> = listed
        .iter()
        .filter(|(path, modified)| {
            !referenced.contains(path) && modified.is_some_and(|m| m < cutoff)
        })
        .map(|(path, _)| path.clone())
        .collect();
    if !dry_run {
        super::expire::delete_files(&table, &orphans).await;
        info!(table = %name, removed = orphans.len(), listed = listed.len(), "removed orphan files");
    }
    Ok(OrphanReport {
        table: name.to_string(),
        files_listed: listed.len(),
        orphans,
        dry_run,
    })
}
