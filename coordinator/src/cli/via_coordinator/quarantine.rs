//! `reprocess` and `condemned release`: the quarantine lifecycle, as pass runs
//! the coordinator plans and workers run (see `floe_common::quarantine`).

use anyhow::Result;
use clap::{Args, Subcommand};
use floe_proto::v1 as pb;
use serde::Serialize;

use super::scope::{pass_tasks, rebuilt, Rebuilt, Scope};

#[derive(Args)]
pub struct ReprocessArgs {
    #[command(flatten)]
    scope: Scope,
}

#[derive(Subcommand)]
pub enum CondemnedCommand {
    /// Sends rows condemned after three failed attempts back to quarantine, for
    /// another reprocess. Needs --approve, --approved-by and --reason, which the
    /// snapshot summaries record.
    Release(ReleaseArgs),
}

#[derive(Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    scope: Scope,
    /// Confirms the release (nothing is released without it).
    #[arg(long)]
    approve: bool,
    /// Who approved the release.
    #[arg(long)]
    approved_by: Option<String>,
    /// Why the rows may be tried again.
    #[arg(long)]
    reason: Option<String>,
}

/// What a day's reprocess did, and the Gold partitions rebuilt because rows
/// reached Silver.
#[derive(Serialize)]
struct Reprocessed {
    partition: String,
    run_id: String,
    rows: u64,
    to_silver: u64,
    still_quarantined: u64,
    condemned: u64,
    gold: Vec<Rebuilt>,
}

#[derive(Serialize)]
struct Released {
    partition: String,
    run_id: String,
    released: u64,
    /// Duplicates, which stay condemned.
    kept: u64,
}

fn stats(t: &pb::Task) -> pb::TaskStats {
    t.stats.unwrap_or_default()
}

pub async fn reprocess(a: ReprocessArgs) -> Result<()> {
    let run = a.scope.run_pass(pb::PassKind::Reprocess, None).await?;
    let reports: Vec<Reprocessed> = pass_tasks(&run)
        .map(|t| Reprocessed {
            partition: t.partition.clone(),
            run_id: run.run_id.clone(),
            rows: stats(t).rows_in,
            to_silver: stats(t).valid,
            still_quarantined: stats(t).quarantined,
            condemned: stats(t).condemned,
            gold: rebuilt(&run, Some(&t.partition)),
        })
        .collect();
    if a.scope.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for r in &reports {
        println!(
            "{}: {} quarantined rows: {} to Silver, {} still quarantined, {} condemned",
            r.partition, r.rows, r.to_silver, r.still_quarantined, r.condemned
        );
        super::gold::print_rebuilt(&r.gold);
    }
    Ok(())
}

pub async fn condemned(command: CondemnedCommand) -> Result<()> {
    let CondemnedCommand::Release(a) = command;
    let (Some(approved_by), Some(reason), true) = (&a.approved_by, &a.reason, a.approve) else {
        anyhow::bail!(
            "releasing condemned rows needs an explicit approval: pass --approve, \
             --approved-by NAME and --reason TEXT (both are recorded in the tables' history)"
        );
    };
    let approval = Some((approved_by.as_str(), reason.as_str()));
    let run = a.scope.run_pass(pb::PassKind::Release, approval).await?;
    let reports: Vec<Released> = pass_tasks(&run)
        .map(|t| Released {
            partition: t.partition.clone(),
            run_id: run.run_id.clone(),
            released: stats(t).quarantined,
            kept: stats(t).condemned,
        })
        .collect();
    if a.scope.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for r in &reports {
        println!(
            "{}: released {} row(s) to quarantine; {} duplicate(s) stay condemned",
            r.partition, r.released, r.kept
        );
    }
    Ok(())
}
