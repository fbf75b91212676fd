//! A pipeline's maintenance policy (the contract's `[maintenance]`) applied to
//! one table: compact, then expire (which deletes the files compaction
//! replaced once no kept snapshot needs them), then remove orphans.

use std::time::Duration;

use super::compact::{compact, CompactOptions, CompactReport};
use super::expire::{expire_snapshots, ExpireOptions, ExpireReport};
use super::orphans::{remove_orphan_files, OrphanReport};
use crate::catalog::TableCatalog;
use crate::commit::RetryPolicy;
use crate::contract::{MaintenanceSpec, TableName};
use crate::error::Result;
use crate::storage::BronzeStore;

pub type MaintenancePolicy = MaintenanceSpec;

/// What one maintenance pass did to one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MaintenanceReport {
    pub table: String,
    pub compact: Option<CompactReport>,
    pub expire: Option<ExpireReport>,
    pub orphans: Option<OrphanReport>,
}

/// `90s`, `30m`, `6h`, `7d`.
pub fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?.min(text.len()));
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Runs `policy` on `table` (files are written `target_file_bytes` large).
pub async fn maintain(
    catalog: &dyn TableCatalog,
    store: &dyn BronzeStore,
    table: &TableName,
    policy: &MaintenancePolicy,
    target_file_bytes: u64,
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
            ..Default::default()
        };
        report.expire = Some(expire_snapshots(catalog, table, &opts, &retry).await?);
    }
    if let Some(age) = policy.orphan_older_than {
        report.orphans = Some(remove_orphan_files(catalog, store, table, age, false).await?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_have_a_unit() {
        assert_eq!(parse_age("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_age(" 6h "), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_age("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("0s"), Some(Duration::ZERO));
        for bad in ["", "7", "d", "7w", "-1d", "1.5h", "7 days"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }
}
