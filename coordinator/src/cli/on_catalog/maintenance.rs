//! `compact`, `expire` and `remove-orphans`: table maintenance run directly
//! against the catalog (the coordinator also runs them on a contract's
//! `[maintenance]` schedule).

use anyhow::{Context, Result};
use clap::Args;
use floe_common::contract::parse_age;
use floe_common::contract::TableName;
use floe_lake::commit::RetryPolicy;
use floe_lake::maintenance::compact::{compact, CompactOptions};
use floe_lake::maintenance::expire::{expire_snapshots, ExpireOptions};
use floe_lake::maintenance::floors::{check_age, AgedOperation};
use floe_lake::maintenance::orphans::remove_orphan_files;
use floe_process::CatalogArgs;

#[derive(Args)]
pub struct TableArgs {
    /// namespace.table
    #[arg(long)]
    table: String,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CompactArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Size of the files written, in MiB; files under three quarters of it are small.
    #[arg(long, default_value_t = 128)]
    target_file_mb: u64,
    /// Compact a partition once it holds this many small files of one run.
    #[arg(long, default_value_t = 2)]
    min_files: usize,
}

#[derive(Args)]
pub struct ExpireArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Expire snapshots older than this age (90s, 30m, 6h, 7d).
    #[arg(long, value_parser = age)]
    older_than: Option<std::time::Duration>,
    /// Keep at least this many of main's newest snapshots.
    #[arg(long, default_value_t = 1)]
    retain_last: usize,
    /// Expire this snapshot whatever its age (repeatable).
    #[arg(long = "snapshot")]
    snapshots: Vec<i64>,
    /// Only print what would be expired and deleted.
    #[arg(long)]
    dry_run: bool,
    /// Accept an --older-than below the 24h safe minimum (tests only).
    #[arg(long)]
    allow_unsafe_age: bool,
}

#[derive(Args)]
pub struct OrphanArgs {
    #[command(flatten)]
    table: TableArgs,
    /// Only files older than this are removed: keep it well above the longest
    /// task, so files a writer has not committed yet are never touched.
    #[arg(long, value_parser = age, default_value = "3d")]
    older_than: std::time::Duration,
    /// Only print the orphans.
    #[arg(long)]
    dry_run: bool,
    /// Accept an --older-than below the 24h safe minimum (tests only).
    #[arg(long)]
    allow_unsafe_age: bool,
}

fn age(text: &str) -> Result<std::time::Duration, String> {
    parse_age(text).ok_or_else(|| format!("`{text}` is not an age such as 90s, 30m, 6h or 7d"))
}

impl TableArgs {
    async fn open(
        &self,
    ) -> Result<(
        std::sync::Arc<dyn floe_lake::catalog::TableCatalog>,
        TableName,
    )> {
        let name = TableName::parse(&self.table)
            .with_context(|| format!("`{}` is not namespace.table", self.table))?;
        Ok((self.catalog.config()?.open().await?, name))
    }
}

fn print(json: bool, report: &impl serde::Serialize, text: String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{text}");
    }
    Ok(())
}

pub async fn run_compact(a: CompactArgs) -> Result<()> {
    let (catalog, name) = a.table.open().await?;
    let opts = CompactOptions {
        target_file_bytes: a.target_file_mb.max(1) * 1024 * 1024,
        min_files: a.min_files,
    };
    let r = compact(catalog.as_ref(), &name, &opts, &RetryPolicy::default()).await?;
    let mut text = format!(
        "{}: compacted {} partition(s): {} files into {} ({} rows); {} given up to concurrent commits",
        r.table, r.groups_compacted, r.files_replaced, r.files_written, r.rows_rewritten, r.groups_superseded
    );
    if !r.skipped_with_deletes.is_empty() {
        text.push_str(&format!(
            "\nnot compacted, as they hold delete files another engine wrote (rewrite them with it): {}",
            r.skipped_with_deletes.join(", ")
        ));
    }
    print(a.table.json, &r, text)
}

pub async fn run_expire(a: ExpireArgs) -> Result<()> {
    if a.older_than.is_none() && a.snapshots.is_empty() {
        anyhow::bail!("say which snapshots to expire: --older-than AGE and/or --snapshot ID");
    }
    if let Some(age) = a.older_than {
        check_age(AgedOperation::Expiry, age, a.allow_unsafe_age)?;
    }
    let (catalog, name) = a.table.open().await?;
    let opts = ExpireOptions {
        older_than: a.older_than,
        retain_last: a.retain_last,
        snapshot_ids: a.snapshots,
        dry_run: a.dry_run,
        // The CLI reads the tables, not the ledger: a staging branch past the
        // age goes whatever its run's state (the coordinator's scheduled
        // maintenance keeps those of runs in progress).
        keep_branches: Vec::new(),
    };
    let r = expire_snapshots(catalog.as_ref(), &name, &opts, &RetryPolicy::default()).await?;
    let verb = if r.dry_run { "would expire" } else { "expired" };
    let text = format!(
        "{}: {verb} {} snapshot(s) {:?}, {} kept; {} file(s) only they reached {}",
        r.table,
        r.expired.len(),
        r.expired,
        r.snapshots_kept,
        r.files_deleted,
        if r.dry_run {
            "would be deleted"
        } else {
            "deleted"
        }
    );
    print(a.table.json, &r, text)
}

pub async fn run_remove_orphans(a: OrphanArgs) -> Result<()> {
    check_age(
        AgedOperation::OrphanRemoval,
        a.older_than,
        a.allow_unsafe_age,
    )?;
    let (catalog, name) = a.table.open().await?;
    let r = remove_orphan_files(
        catalog.as_ref(),
        &floe_lake::storage::Bronze::default(),
        &name,
        a.older_than,
        a.dry_run,
    )
    .await?;
    let verb = if r.dry_run { "would remove" } else { "removed" };
    let mut text = format!(
        "{}: {verb} {} orphan file(s) of {} listed",
        r.table,
        r.orphans.len(),
        r.files_listed
    );
    for o in &r.orphans {
        text.push_str(&format!("\n  {o}"));
    }
    print(a.table.json, &r, text)
}
