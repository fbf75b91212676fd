//! `gold rebuild`: computes the models' partitions of some days again from the
//! tables as they are now, after Silver changed outside a run (a rollback, an
//! interrupted reprocess).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use floe_common::task::TaskEnv;
use floe_common::RunId;
use floe_gold::{rebuild_partitions, Rebuilt};

use super::scope::Scope;

#[derive(Subcommand)]
pub enum GoldCommand {
    /// Rebuilds every model's partitions of the days from the current Silver
    /// (and upstream model) snapshots, one replace commit per partition.
    Rebuild(RebuildArgs),
}

#[derive(Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    scope: Scope,
}

pub async fn gold(command: GoldCommand) -> Result<()> {
    let GoldCommand::Rebuild(a) = command;
    let contract = a.scope.contract()?;
    if contract.models.is_empty() {
        anyhow::bail!(
            "{} declares no Gold models ([[models]]): there is nothing to rebuild",
            contract.name
        );
    }
    let catalog = a.scope.catalog.config()?.open().await?;
    let env = TaskEnv::new(catalog);
    let run_id = RunId::generate_kind("rebuild");
    let partitions = a.scope.partitions(&contract)?;
    let rebuilt = rebuild_partitions(&env, &contract, &run_id, &partitions)
        .await
        .context("rebuilding Gold")?;
    if a.scope.json {
        println!("{}", serde_json::to_string_pretty(&rebuilt)?);
    } else {
        println!("{run_id}:");
        print_rebuilt(&rebuilt);
    }
    Ok(())
}

/// One line per model partition.
pub fn print_rebuilt(rebuilt: &[Rebuilt]) {
    for r in rebuilt {
        println!(
            "  {} {}: {} rows in {}",
            r.model, r.partition, r.rows, r.table
        );
    }
}
