use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use floe_common::catalog::SqlCatalog;
use floe_common::contract::Contract;
use floe_common::sample::{self, SampleConfig};
use floe_common::RunId;
use floe_coordinator::local;
use floe_coordinator::period::Period;

mod report;

#[derive(Parser)]
#[command(
    name = "floe-coordinator",
    version,
    about = "Floe: Bronze files to validated Iceberg tables"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Lakehouse {
    /// Folder holding the warehouse and the SQLite catalog (the embedded default).
    #[arg(long, env = "FLOE_LAKEHOUSE", default_value = "lakehouse")]
    lakehouse: PathBuf,
    /// Catalog name other engines use to open the tables.
    #[arg(long, env = "FLOE_CATALOG_NAME", default_value = "floe")]
    catalog_name: String,
}

impl Lakehouse {
    async fn open(&self) -> Result<SqlCatalog> {
        SqlCatalog::open(
            &self.catalog_name,
            &self.lakehouse.join("catalog.db"),
            &self.lakehouse.join("warehouse"),
        )
        .await
        .with_context(|| format!("opening the catalog in {}", self.lakehouse.display()))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Generates a month of sample Bronze transactions with a ground-truth manifest.
    Generate {
        #[arg(long, default_value = "lakehouse/bronze")]
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        #[arg(long, default_value = "2025-01")]
        month: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 2)]
        files_per_day: u32,
    },
    /// Plans and runs a load in this process on the embedded default.
    Run {
        /// The pipeline contract (TOML).
        #[arg(long)]
        pipeline: PathBuf,
        /// Root folder of the Bronze files; the contract's location is relative to it.
        #[arg(long, env = "FLOE_BRONZE", default_value = "lakehouse/bronze")]
        bronze: PathBuf,
        #[command(flatten)]
        lakehouse: Lakehouse,
        /// A month to (re)load, e.g. 2025-01.
        #[arg(long, conflicts_with_all = ["date", "from"])]
        backfill: Option<String>,
        /// One day, e.g. 2025-01-15.
        #[arg(long, conflicts_with = "from")]
        date: Option<String>,
        #[arg(long, requires = "to")]
        from: Option<String>,
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Tasks run at once.
        #[arg(long, default_value_t = 2)]
        parallel: usize,
        /// Largest task, in MiB of input.
        #[arg(long, env = "FLOE_TARGET_TASK_MB", default_value_t = 256)]
        target_task_mb: u64,
        /// Print the plan and stop.
        #[arg(long)]
        explain: bool,
    },
}

fn period(
    backfill: Option<String>,
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<Period> {
    Ok(match (backfill, date, from, to) {
        (Some(m), _, _, _) => Period::parse(&m)?,
        (_, Some(d), _, _) => Period::parse(&d)?,
        (_, _, Some(f), Some(t)) => Period::range(&f, &t)?,
        _ => anyhow::bail!(
            "say which period to load: --backfill YYYY-MM, --date YYYY-MM-DD, or --from/--to"
        ),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Generate {
            out,
            rows,
            month,
            seed,
            files_per_day,
        } => {
            let p = Period::parse(&month)?;
            use chrono::Datelike;
            let cfg = SampleConfig {
                seed,
                rows,
                year: p.first.year(),
                month: p.first.month(),
                files_per_day,
                ..SampleConfig::default()
            };
            let started = Instant::now();
            let truth = sample::generate(&out, &cfg).context("generating sample data")?;
            println!(
                "generated {} rows ({} valid, {} bad, {} duplicates) in {} files under {} in {:.1}s",
                truth.totals.rows,
                truth.totals.valid,
                truth.totals.bad,
                truth.totals.duplicates,
                truth.days.values().map(|d| d.files.len()).sum::<usize>(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Run {
            pipeline,
            bronze,
            lakehouse,
            backfill,
            date,
            from,
            to,
            parallel,
            target_task_mb,
            explain,
        } => {
            let contract = Arc::new(Contract::load(&pipeline)?);
            let period = period(backfill, date, from, to)?;
            let tasks =
                local::plan_period(&contract, &bronze, &period, target_task_mb * 1024 * 1024)?;
            if explain {
                report::print_plan(&tasks);
                return Ok(());
            }
            let catalog = Arc::new(lakehouse.open().await?);
            let run_id = RunId::generate();
            println!(
                "run {run_id}: {} tasks for {} ({}), {} at a time",
                tasks.len(),
                period.label,
                contract.name,
                parallel
            );
            let started = Instant::now();
            let reports =
                local::run_tasks(catalog.clone(), contract.clone(), &run_id, tasks, parallel)
                    .await?;
            report::print_summary(&reports, started.elapsed());
            report::print_revenue(catalog.as_ref(), &contract).await?;
        }
    }
    Ok(())
}
