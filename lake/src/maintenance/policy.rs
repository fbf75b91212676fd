//! A pipeline's maintenance policy (the contract's `[maintenance]`) applied to
//! one table: compact, then expire (which deletes the files compaction
//! replaced once no kept snapshot needs them), then remove orphans.

use super::compact::{compact, CompactOptions, CompactReport};
use super::expire::{expire_snapshots, ExpireOptions, ExpireReport};
use super::orphans::{remove_orphan_files, OrphanReport};
use crate::catalog::TableCatalog;
use crate::commit::RetryPolicy;
use crate::error::Result;
use crate::storage::BronzeStore;
use crate::TableName;

/// The `[maintenance]` policy: what the coordinator does to the pipeline's
/// tables, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenancePolicy {
    pub every: std::time::Duration,
    /// Compact a partition once it holds this many small files; `None`: never.
    pub compact_min_files: Option<usize>,
    /// Expire snapshots older than this; `None`: keep every snapshot.
    pub expire_older_than: Option<std::time::Duration>,
    /// Snapshots of `main` always kept by expiry.
    pub retain_last: usize,
    /// Remove orphan files older than this; `None`: never.
    pub orphan_older_than: Option<std::time::Duration>,
}

/// What one maintenance pass did to one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MaintenanceReport {
    pub table: String,
    pub compact: Option<CompactReport>,
    pub expire: Option<ExpireReport>,
    pub orphans: Option<OrphanReport>,
}

/// Runs `policy` on `table` (files are written `target_file_bytes` large),
/// keeping `live_branches` (the staging branches of runs in progress).
pub async fn maintain(
    catalog: &dyn TableCatalog,
    store: &dyn BronzeStore,
    table: &TableName,
    policy: &MaintenancePolicy,
    target_file_bytes: u64,
    live_branches: &[String],
) -> Result<MaintenanceReport> {
    let retry = RetryPolicy::default();
    let mut report = MaintenanceReport {
        table: table.to_string(),
        ..Default::default()
    };
    if let Some(min_files) = policy.compact_min_files {
        let opts = CompactOptions {
            target_file_bytes,
            min_files,
        };
        report.compact = Some(compact(catalog, table, &opts, &retry).await?);
    }
    if let Some(age) = policy.expire_older_than {
        let opts = ExpireOptions {
            older_than: Some(age),
            retain_last: policy.retain_last,
            keep_branches: live_branches.to_vec(),
            ..Default::default()
        };
        report.expire = Some(expire_snapshots(catalog, table, &opts, &retry).await?);
    }
    if let Some(age) = policy.orphan_older_than {
        report.orphans = Some(remove_orphan_files(catalog, store, table, age, false).await?);
    }
    Ok(report)
}
