//! `history`: a table's snapshots, newest first, with the run and task that
//! wrote each and what it changed.

use anyhow::Result;
use clap::Args;
use floe_common::table::SCHEMA_CHANGE_PROPERTY_PREFIX;
use floe_lake::commit::history::{table_history, HistoryEntry};
use floe_process::CatalogArgs;

#[derive(Args)]
pub struct HistoryArgs {
    /// namespace.table
    #[arg(long)]
    table: String,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[arg(long)]
    json: bool,
}

pub async fn history(a: HistoryArgs) -> Result<()> {
    let table = super::table_summary::load_table(&a.catalog, &a.table).await?;
    let entries = table_history(table.metadata());
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        print_table(&entries);
        print_schema_changes(table.metadata());
    }
    Ok(())
}

/// The schema changes contract versions made (recorded by the commit that made
/// each, as `floe.schema-change.<schema id>`), oldest first.
fn print_schema_changes(meta: &iceberg::spec::TableMetadata) {
    let mut changes: Vec<(i32, &String)> = meta
        .properties()
        .iter()
        .filter_map(|(k, v)| {
            let id = k
                .strip_prefix(SCHEMA_CHANGE_PROPERTY_PREFIX)?
                .parse()
                .ok()?;
            Some((id, v))
        })
        .collect();
    if changes.is_empty() {
        return;
    }
    changes.sort();
    println!(
        "schema changes (current schema {}):",
        meta.current_schema_id()
    );
    for (id, change) in changes {
        println!("  schema {id}: {change}");
    }
}

fn print_table(entries: &[HistoryEntry]) {
    println!(
        "{:<2} {:<20} {:<24} {:<10} {:<44} {:<28} {:>10} {:>10} {:>6} {:>6}",
        "",
        "snapshot",
        "time (UTC)",
        "operation",
        "run",
        "task",
        "+rows",
        "-rows",
        "+files",
        "-files"
    );
    for e in entries {
        let marker = match (e.current, e.on_main) {
            (true, _) => "*",
            (false, true) => "",
            (false, false) => "x",
        };
        let time = chrono::DateTime::from_timestamp_millis(e.timestamp_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
            .unwrap_or_default();
        println!(
            "{:<2} {:<20} {:<24} {:<10} {:<44} {:<28} {:>10} {:>10} {:>6} {:>6}",
            marker,
            e.snapshot_id,
            time,
            e.operation,
            e.run_id.as_deref().unwrap_or("-"),
            e.task_id.as_deref().unwrap_or("-"),
            e.rows_added,
            e.rows_removed,
            e.files_added,
            e.files_removed
        );
        if let Some(by) = &e.approved_by {
            let why = e.approval_reason.as_deref().unwrap_or("-");
            println!("{:<47} approved by {by}: {why}", "");
        }
    }
    println!("* current snapshot of main; x not on main's history (rolled back)");
}
