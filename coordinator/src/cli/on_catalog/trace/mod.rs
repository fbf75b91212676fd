//! `trace`: where a dedupe key's rows came from. For a row in Silver: its
//! Bronze file and line, run, task, attempt, and from the snapshot that
//! committed it, the contract version and the trace id; for a row quarantined
//! or condemned instead: where, and why.

mod find;

use anyhow::{bail, Result};
use clap::Args;
use floe_common::table::{
    CONDEMNED_TABLE_PROPERTY, DEDUPE_KEY_PROPERTY, LINEAGE_COLUMNS, QUARANTINE_TABLE_PROPERTY,
};
use floe_lake::commit::history::{committed_snapshot, CONTRACT_VERSION};
use floe_lake::{RunId, TaskId};
use floe_process::CatalogArgs;
use iceberg::table::Table;
use serde_json::{json, Value};

use find::{by_key, by_raw_text, value, Row};

#[derive(Args)]
pub struct TraceArgs {
    /// The Silver table (namespace.table).
    #[arg(long)]
    table: String,
    /// The dedupe key's value; repeat it for each column of a composite key, in order.
    #[arg(long = "key", required = true)]
    keys: Vec<String>,
    /// The key's columns, comma-separated (default: the dedupe key the table
    /// recorded when it was created, `floe.dedupe-key`).
    #[arg(long)]
    columns: Option<String>,
    /// The quarantine table (default: the one the table recorded).
    #[arg(long)]
    quarantine_table: Option<String>,
    /// The condemned table (default: the one the table recorded).
    #[arg(long)]
    condemned_table: Option<String>,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[arg(long)]
    json: bool,
}

const TRACE_ID: &str = "floe.trace-id";
const RAW_ROW: [&str; 7] = [
    "source_file",
    "line_number",
    "raw_line",
    "run_id",
    "task_id",
    "attempt",
    "source_partition",
];

/// Prints what was found; the exit code is 0 when the key was found anywhere, 1 otherwise.
pub async fn trace(a: TraceArgs) -> Result<i32> {
    let silver = super::table_summary::load_table(&a.catalog, &a.table).await?;
    let properties = silver.metadata().properties();
    let columns: Vec<String> = match a
        .columns
        .as_deref()
        .or(properties.get(DEDUPE_KEY_PROPERTY).map(String::as_str))
    {
        Some(list) => list.split(',').map(|c| c.trim().to_string()).collect(),
        None => bail!(
            "table {} does not record its dedupe key ({DEDUPE_KEY_PROPERTY}): name the key's \
             columns with --columns",
            a.table
        ),
    };
    if columns.len() != a.keys.len() {
        bail!(
            "the key of {} has {} column(s) ({}): give one --key per column, in that order",
            a.table,
            columns.len(),
            columns.join(", ")
        );
    }
    let lineage: Vec<&str> = LINEAGE_COLUMNS.iter().map(|(name, ..)| *name).collect();
    let in_silver = by_key(&silver, &columns, &a.keys, &lineage).await?;
    let has_lineage = silver
        .metadata()
        .current_schema()
        .field_by_name(lineage[0])
        .is_some();
    let silver_rows: Vec<Value> = in_silver
        .iter()
        .map(|row| silver_row(&silver, row))
        .collect();

    let side = |flag: &Option<String>, property: &str| {
        flag.clone().or_else(|| properties.get(property).cloned())
    };
    let mut quarantined = Vec::new();
    if let Some(name) = side(&a.quarantine_table, QUARANTINE_TABLE_PROPERTY) {
        let table = super::table_summary::load_table(&a.catalog, &name).await?;
        let wanted: Vec<&str> = RAW_ROW
            .iter()
            .copied()
            .chain(["reasons", "attempt_count"])
            .collect();
        quarantined = by_raw_text(&table, &a.keys, &wanted).await?;
    }
    let mut condemned = Vec::new();
    if let Some(name) = side(&a.condemned_table, CONDEMNED_TABLE_PROPERTY) {
        let table = super::table_summary::load_table(&a.catalog, &name).await?;
        let wanted: Vec<&str> = RAW_ROW
            .iter()
            .copied()
            .chain(["reason", "duplicate_of"])
            .collect();
        condemned = by_raw_text(&table, &a.keys, &wanted).await?;
    }
    let key: serde_json::Map<String, Value> = columns
        .iter()
        .zip(&a.keys)
        .map(|(c, k)| (c.clone(), json!(k)))
        .collect();
    let report = json!({
        "table": a.table,
        "key": key,
        "silver": silver_rows,
        "lineage_columns": has_lineage,
        "quarantined": quarantined.iter().map(|r| raw_row(r, "reasons")).collect::<Vec<_>>(),
        "condemned": condemned.iter().map(|r| raw_row(r, "reason")).collect::<Vec<_>>(),
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    let found = !(in_silver.is_empty() && quarantined.is_empty() && condemned.is_empty());
    Ok(if found { 0 } else { 1 })
}

/// A Silver row's lineage, with what the snapshot that committed it recorded.
fn silver_row(silver: &Table, row: &Row) -> Value {
    let text = |c: &str| value(row, c).map(str::to_string);
    let (run, task) = (text("_floe_run_id"), text("_floe_task_id"));
    let snapshot = match (&run, &task) {
        (Some(run), Some(task)) => committed_snapshot(
            silver.metadata(),
            &RunId::new(run.as_str()),
            &TaskId::new(task.as_str()),
        )
        .and_then(|id| silver.metadata().snapshot_by_id(id)),
        _ => None,
    };
    let summary = snapshot.map(|s| &s.summary().additional_properties);
    let recorded = |key: &str| summary.and_then(|p| p.get(key)).cloned();
    json!({
        "source_file": text("_floe_source_file"),
        "line": text("_floe_source_line").and_then(|l| l.parse::<u64>().ok()),
        "run_id": run,
        "task_id": task,
        "attempt": text("_floe_attempt").and_then(|a| a.parse::<u32>().ok()),
        "snapshot_id": snapshot.map(|s| s.snapshot_id()),
        "contract_version": recorded(CONTRACT_VERSION),
        "trace_id": recorded(TRACE_ID),
    })
}

fn raw_row(row: &Row, why: &str) -> Value {
    let text = |c: &str| value(row, c).map(str::to_string);
    json!({
        "source_file": text("source_file"),
        "line": text("line_number").and_then(|l| l.parse::<u64>().ok()),
        "source_partition": text("source_partition"),
        "run_id": text("run_id"),
        "task_id": text("task_id"),
        "attempt": text("attempt").and_then(|a| a.parse::<u32>().ok()),
        "why": text(why),
        "raw_line": text("raw_line"),
    })
}

fn print_report(report: &Value) {
    let key: Vec<String> = report["key"]
        .as_object()
        .map(|k| {
            k.iter()
                .map(|(c, v)| format!("{c} = {}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "{}: {}",
        report["table"].as_str().unwrap_or_default(),
        key.join(", ")
    );
    let shown = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for row in report["silver"].as_array().into_iter().flatten() {
        println!("  in Silver");
        if report["lineage_columns"] == json!(false) {
            println!("    (the table has no lineage columns: it was created with target.lineage = false)");
            continue;
        }
        println!(
            "    bronze    {} line {}",
            shown(&row["source_file"]),
            shown(&row["line"])
        );
        println!("    run       {}", shown(&row["run_id"]));
        println!(
            "    task      {} attempt {}",
            shown(&row["task_id"]),
            shown(&row["attempt"])
        );
        println!("    contract  version {}", shown(&row["contract_version"]));
        println!(
            "    snapshot  {}",
            match &row["snapshot_id"] {
                Value::Null => "- (expired, or the row was loaded by a pass)".to_string(),
                id => id.to_string(),
            }
        );
        println!("    trace     {}", shown(&row["trace_id"]));
    }
    for (part, label) in [("quarantined", "quarantined"), ("condemned", "condemned")] {
        for row in report[part].as_array().into_iter().flatten() {
            println!("  {label}");
            println!(
                "    bronze    {} line {}",
                shown(&row["source_file"]),
                shown(&row["line"])
            );
            println!("    partition {}", shown(&row["source_partition"]));
            println!("    run       {}", shown(&row["run_id"]));
            println!(
                "    task      {} attempt {}",
                shown(&row["task_id"]),
                shown(&row["attempt"])
            );
            println!("    why       {}", shown(&row["why"]));
            println!("    raw       {}", shown(&row["raw_line"]));
        }
    }
    if report["silver"].as_array().is_some_and(Vec::is_empty)
        && report["quarantined"].as_array().is_some_and(Vec::is_empty)
        && report["condemned"].as_array().is_some_and(Vec::is_empty)
    {
        println!("  not found in Silver, its quarantine or its condemned table");
    }
}
