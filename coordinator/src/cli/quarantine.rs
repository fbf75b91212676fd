//! `reprocess` and `condemned release`: the quarantine lifecycle, run directly
//! against the catalog (see `floe_common::quarantine`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use floe_common::backends::CatalogArgs;
use floe_common::commit::RetryPolicy;
use floe_common::contract::Contract;
use floe_common::quarantine::{release_condemned, reprocess_partition, Approval, ReprocessOptions};
use floe_coordinator::period::Period;

/// The pipeline and the days whose partitions a pass covers.
#[derive(Args)]
pub struct Scope {
    /// The pipeline contract (TOML), as it is now: rows are judged by it.
    #[arg(long)]
    pipeline: PathBuf,
    #[command(flatten)]
    days: super::Days,
    #[command(flatten)]
    catalog: CatalogArgs,
    #[arg(long)]
    json: bool,
}

impl Scope {
    fn contract(&self) -> Result<Arc<Contract>> {
        Ok(Arc::new(Contract::load(&self.pipeline)?))
    }

    /// The target partitions the days fall in (one per day for `day(ts)`).
    fn partitions(&self, contract: &Contract) -> Result<Vec<String>> {
        let period = match (&self.days.date, &self.days.from, &self.days.to) {
            (Some(d), ..) => Period::parse(d)?,
            (_, Some(f), Some(t)) => Period::range(f, t)?,
            _ => anyhow::bail!("say which days: --date YYYY-MM-DD or --from/--to"),
        };
        let labels: BTreeSet<String> = period
            .days()
            .map(|d| floe_coordinator::plan::label(contract, d).unwrap_or_default())
            .collect();
        Ok(labels.into_iter().collect())
    }
}

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

pub async fn reprocess(a: ReprocessArgs) -> Result<()> {
    let contract = a.scope.contract()?;
    let catalog = a.scope.catalog.config()?.open().await?;
    let bronze: Arc<dyn floe_common::storage::BronzeStore> =
        Arc::new(floe_common::storage::Bronze::default());
    let mut reports = Vec::new();
    for label in a.scope.partitions(&contract)? {
        let r = reprocess_partition(
            catalog.as_ref(),
            bronze.clone(),
            contract.clone(),
            &label,
            &ReprocessOptions::default(),
        )
        .await
        .with_context(|| format!("reprocessing {label}"))?;
        if !a.scope.json {
            println!(
                "{label}: {} quarantined rows: {} to Silver, {} still quarantined, {} condemned",
                r.rows, r.to_silver, r.still_quarantined, r.condemned
            );
        }
        reports.push(r);
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
