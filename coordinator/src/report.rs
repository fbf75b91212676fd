//! What the CLI prints: plans, run summaries, and answers read back from the tables.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use arrow_array::{Array, Decimal128Array, TimestampMicrosecondArray};
use floe_common::catalog::TableCatalog;
use floe_common::contract::Contract;
use floe_common::table::TableRole;
use floe_common::task::TaskReport;
use floe_common::validate::parse::format_decimal;
use floe_coordinator::plan::PlannedTask;
use futures::TryStreamExt;

pub fn print_plan(tasks: &[PlannedTask]) {
    println!(
        "{:<36} {:>12} {:>6} {:>14}",
        "task", "partition", "files", "bytes"
    );
    for t in tasks {
        println!(
            "{:<36} {:>12} {:>6} {:>14}",
            t.task_id,
            t.partition.as_deref().unwrap_or("-"),
            t.inputs.len(),
            t.bytes
        );
    }
    let bytes: u64 = tasks.iter().map(|t| t.bytes).sum();
    println!(
        "{} tasks, {} files, {:.1} MiB",
        tasks.len(),
        tasks.iter().map(|t| t.inputs.len()).sum::<usize>(),
        bytes as f64 / 1048576.0
    );
}

pub fn print_summary(reports: &BTreeMap<String, TaskReport>, elapsed: Duration) {
    println!();
    println!(
        "{:<32} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "task", "rows in", "valid", "quarantined", "condemned", "snapshots"
    );
    let mut total = floe_common::task::TaskStats::default();
    let mut snapshots = 0;
    for (task, r) in reports {
        let s = &r.stats;
        let n = TableRole::ALL
            .iter()
            .filter(|role| {
                matches!(
                    r.commits.get(role),
                    Some(floe_common::commit::CommitOutcome::Committed { .. })
                )
            })
            .count();
        snapshots += n;
        println!(
            "{task:<32} {:>10} {:>10} {:>12} {:>10} {:>10}",
            s.rows_in, s.valid, s.quarantined, s.condemned, n
        );
        total.rows_in += s.rows_in;
        total.valid += s.valid;
        total.quarantined += s.quarantined;
        total.condemned += s.condemned;
        total.bytes_read += s.bytes_read;
    }
    println!(
        "{:<32} {:>10} {:>10} {:>12} {:>10} {:>10}",
        "total", total.rows_in, total.valid, total.quarantined, total.condemned, snapshots
    );
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "\nrows in = valid + quarantined + condemned: {} = {} + {} + {} ({})",
        total.rows_in,
        total.valid,
        total.quarantined,
        total.condemned,
        if total.is_balanced() {
            "balanced"
        } else {
            "NOT BALANCED"
        }
    );
    println!(
        "{:.1}s, {:.0} rows/s, {:.1} MB/s",
        secs,
        total.rows_in as f64 / secs,
        total.bytes_read as f64 / 1e6 / secs
    );
}

/// Revenue per day, read back from the Silver table through Iceberg.
pub async fn print_revenue(catalog: &dyn TableCatalog, contract: &Contract) -> Result<()> {
    let Some(table) = catalog.load_table(&contract.target.table).await? else {
        return Ok(());
    };
    if contract.column_index("ts").is_none() || contract.column_index("amount").is_none() {
        return Ok(());
    }
    let batches: Vec<_> = table
        .scan()
        .select(["ts", "amount"])
        .build()?
        .to_arrow()
        .await?
        .try_collect()
        .await?;
    let mut per_day: BTreeMap<String, (u64, i128)> = BTreeMap::new();
    let mut scale = 2u8;
    for b in &batches {
        let ts = b
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("ts is a timestamp");
        let amount = b
            .column(1)
            .as_any()
            .downcast_ref::<Decimal128Array>()
            .expect("amount is a decimal");
        scale = amount.scale() as u8;
        for i in 0..b.num_rows() {
            let day = chrono::DateTime::from_timestamp_micros(ts.value(i))
                .map(|d| d.date_naive().to_string())
                .unwrap_or_default();
            let e = per_day.entry(day).or_default();
            e.0 += 1;
            e.1 += amount.value(i);
        }
    }
    println!(
        "\nRead back from {} (snapshot {}):",
        contract.target.table,
        table.metadata().current_snapshot_id().unwrap_or(-1)
    );
    println!("{:<12} {:>10} {:>18}", "day", "rows", "sum(amount)");
    for (day, (rows, sum)) in &per_day {
        println!("{day:<12} {rows:>10} {:>18}", format_decimal(*sum, scale));
    }
    Ok(())
}
