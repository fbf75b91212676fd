//! `sql`: runs a query over the catalog's tables with DataFusion, optionally as
//! of an earlier snapshot or time, and prints a table, JSON or CSV.

use anyhow::{Context, Result};
use clap::Args;
use floe_gold::{AsOf, Format};
use floe_process::CatalogArgs;

#[derive(Args)]
pub struct SqlArgs {
    /// One read-only query (SELECT, WITH or VALUES; DataFusion's dialect); name
    /// tables as namespace.table.
    query: String,
    /// Read the tables as they were: at a snapshot id (its table at that
    /// snapshot, the others at its commit time) or an RFC 3339 time.
    #[arg(long, value_parser = AsOf::parse)]
    as_of: Option<AsOf>,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Memory (MiB) the query's joins, aggregations and sorts may hold at once.
    #[arg(long, env = "FLOE_SQL_MEMORY_MB", default_value_t = floe_gold::Limits::DEFAULT_MEMORY_MB)]
    memory_mb: usize,
    /// Print an array of JSON objects.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV with a header line.
    #[arg(long)]
    csv: bool,
}

pub async fn sql(a: SqlArgs) -> Result<()> {
    let catalog = a
        .catalog
        .config()?
        .open()
        .await
        .with_context(|| format!("opening the catalog at {}", a.catalog.describe()))?;
    let limits = floe_gold::Limits::memory_mb(a.memory_mb);
    let as_of = a.as_of.unwrap_or(AsOf::Now);
    let result = floe_gold::query(catalog.as_ref(), &a.query, as_of, &limits).await?;
    let format = match (a.json, a.csv) {
        (true, _) => Format::Json,
        (_, true) => Format::Csv,
        _ => Format::Table,
    };
    println!("{}", floe_gold::render(&result, format)?);
    if format == Format::Table {
        let rows: usize = result.batches.iter().map(|b| b.num_rows()).sum();
        let read: Vec<String> = result
            .read
            .iter()
            .map(|(t, s)| match s {
                Some(id) => format!("{t}@{id}"),
                None => format!("{t} (empty)"),
            })
            .collect();
        eprintln!("{rows} row(s); read {}", read.join(", "));
    }
    Ok(())
}
