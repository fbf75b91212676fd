//! The pipeline and the days a command over the catalog covers (`reprocess`,
//! `condemned release`, `gold rebuild`).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use floe_common::backends::CatalogArgs;
use floe_common::contract::Contract;
use floe_coordinator::period::Period;

/// The pipeline and the days whose partitions a command covers.
#[derive(Args)]
pub struct Scope {
    /// The pipeline contract (TOML) as it is now: its rules and models apply.
    #[arg(long)]
    pipeline: PathBuf,
    #[command(flatten)]
    days: super::Days,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    #[arg(long)]
    pub json: bool,
}

impl Scope {
    pub fn contract(&self) -> Result<Arc<Contract>> {
        Ok(Arc::new(Contract::load(&self.pipeline)?))
    }

    /// The target partitions the days fall in (one per day for `day(ts)`).
    pub fn partitions(&self, contract: &Contract) -> Result<Vec<String>> {
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
