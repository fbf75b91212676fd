//! `reprocess` and `condemned release`: the quarantine lifecycle, run directly
//! against the catalog (see `floe_common::quarantine`).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use floe_common::commit::RetryPolicy;
use floe_common::quarantine::{
    release_condemned, reprocess_partition, Approval, ReprocessOptions, ReprocessReport,
};
use floe_common::task::TaskEnv;
use floe_common::RunId;
use floe_gold::{rebuild_partitions, Rebuilt};
use serde::Serialize;

use super::scope::Scope;

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

/// A partition's pass, and the Gold partitions rebuilt because rows reached Silver.
#[derive(Serialize)]
struct Reprocessed {
    #[serde(flatten)]
    pass: ReprocessReport,
    gold: Vec<Rebuilt>,
}

pub async fn reprocess(a: ReprocessArgs) -> Result<()> {
    let contract = a.scope.contract()?;
    let catalog = a.scope.catalog.config()?.open().await?;
    let env = TaskEnv::new(catalog.clone());
    let mut reports = Vec::new();
    for label in a.scope.partitions(&contract)? {
        let pass = reprocess_partition(
            catalog.as_ref(),
            env.bronze.clone(),
            contract.clone(),
            &label,
            &ReprocessOptions::default(),
        )
        .await
        .with_context(|| format!("reprocessing {label}"))?;
        // Rows that reached Silver change what the models answer for the day:
        // rebuilt under the pass's run, newer than the load whose Gold it replaces.
        let gold = if pass.to_silver > 0 {
            let run_id = RunId::new(&pass.run_id);
            rebuild_partitions(&env, &contract, &run_id, std::slice::from_ref(&label))
                .await
                .with_context(|| {
                    format!(
                        "rebuilding Gold for {label} after its rows reached Silver \
                         (run `gold rebuild` for the day once the cause is fixed)"
                    )
                })?
        } else {
            Vec::new()
        };
        if !a.scope.json {
            println!(
                "{label}: {} quarantined rows: {} to Silver, {} still quarantined, {} condemned",
                pass.rows, pass.to_silver, pass.still_quarantined, pass.condemned
            );
            super::gold::print_rebuilt(&gold);
        }
        reports.push(Reprocessed { pass, gold });
    }
    if a.scope.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
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
    let approval = Approval {
        approved_by: approved_by.clone(),
        reason: reason.clone(),
    };
    let contract = a.scope.contract()?;
    let catalog = a.scope.catalog.config()?.open().await?;
    let mut reports = Vec::new();
    for label in a.scope.partitions(&contract)? {
        let r = release_condemned(
            catalog.as_ref(),
            &contract,
            &label,
            &approval,
            &RetryPolicy::default(),
        )
        .await
        .with_context(|| format!("releasing condemned rows of {label}"))?;
        if !a.scope.json {
            println!(
                "{label}: released {} row(s) to quarantine; {} duplicate(s) stay condemned",
                r.released, r.kept
            );
        }
        reports.push(r);
    }
    if a.scope.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(())
}
