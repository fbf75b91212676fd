//! `gold rebuild`: computes the models' partitions of some days again from the
//! tables as they are now, after Silver changed outside a run (a rollback), as
//! a pass run the coordinator plans and workers run.

use anyhow::Result;
use clap::{Args, Subcommand};
use floe_proto::v1 as pb;

use super::scope::{rebuilt, Rebuilt, Scope};

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
    let run = a.scope.run_pass(pb::PassKind::GoldRebuild, None).await?;
    let rebuilt = rebuilt(&run, None);
    if a.scope.json {
        println!("{}", serde_json::to_string_pretty(&rebuilt)?);
    } else {
        println!("{}:", run.run_id);
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
