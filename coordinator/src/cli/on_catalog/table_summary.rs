//! `summarize`: reads a table back through Iceberg and prints rows and a decimal
//! sum per UTC day, e.g. revenue per day.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use arrow_array::{Array, Decimal128Array, TimestampMicrosecondArray};
use clap::Args;
use floe_common::contract::TableName;
use floe_common::values::format_decimal;
use floe_process::CatalogArgs;
use futures::TryStreamExt;

#[derive(Args)]
pub struct SummarizeArgs {
    /// namespace.table
    #[arg(long, default_value = "silver.transactions")]
    table: String,
    /// A timestamp column; rows are grouped by its UTC day.
    #[arg(long, default_value = "ts")]
    day_of: String,
    /// A decimal column to sum.
    #[arg(long, default_value = "amount")]
    sum: String,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[arg(long)]
    json: bool,
}

pub async fn summarize(a: SummarizeArgs) -> Result<()> {
    let table = load_table(&a.catalog, &a.table).await?;
    let mut per_day: BTreeMap<String, (u64, i128)> = BTreeMap::new();
    let mut scale = 0u8;
    if table.metadata().current_snapshot().is_some() {
        let batches: Vec<_> = table
            .scan()
            .select([a.day_of.as_str(), a.sum.as_str()])
            .build()?
            .to_arrow()
            .await?
            .try_collect()
            .await?;
        for b in &batches {
            let ts = b
                .column(0)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .with_context(|| format!("{} is not a timestamp column", a.day_of))?;
            let amount = b
                .column(1)
                .as_any()
                .downcast_ref::<Decimal128Array>()
                .with_context(|| format!("{} is not a decimal column", a.sum))?;
            scale = amount.scale() as u8;
            for i in 0..b.num_rows() {
                let day = chrono::DateTime::from_timestamp_micros(ts.value(i))
                    .map(|d| d.date_naive().to_string())
                    .unwrap_or_default();
                let e = per_day.entry(day).or_default();
                e.0 += 1;
                if amount.is_valid(i) {
                    e.1 += amount.value(i);
                }
            }
        }
    }
    let snapshot = table.metadata().current_snapshot_id();
    if a.json {
        let days: serde_json::Map<String, serde_json::Value> = per_day
            .iter()
            .map(|(d, (n, s))| {
                (
                    d.clone(),
                    serde_json::json!({ "rows": n, "sum": format_decimal(*s, scale) }),
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "table": a.table, "snapshot_id": snapshot, "per_day": days })
        );
        return Ok(());
    }
    println!(
        "{} at snapshot {}:",
        a.table,
        snapshot
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "{:<12} {:>10} {:>18}",
        "day",
        "rows",
        format!("sum({})", a.sum)
    );
    let (mut rows, mut total) = (0u64, 0i128);
    for (day, (n, s)) in &per_day {
        println!("{day:<12} {n:>10} {:>18}", format_decimal(*s, scale));
        rows += n;
        total += s;
    }
    println!(
        "{:<12} {rows:>10} {:>18}",
        "total",
        format_decimal(total, scale)
    );
    Ok(())
}

/// The table `namespace.table` from the catalog the flags name.
pub(super) async fn load_table(
    catalog: &CatalogArgs,
    table: &str,
) -> Result<iceberg::table::Table> {
    let name =
        TableName::parse(table).with_context(|| format!("`{table}` is not namespace.table"))?;
    catalog
        .config()?
        .open()
        .await?
        .load_table(&name)
        .await?
        .with_context(|| format!("table {name} does not exist in {}", catalog.describe()))
}
