//! Pass runs: `reprocess`, `condemned release` and `gold rebuild` over some
//! days, planned, recorded and run by workers like loads. A pass adds to the
//! load that owns its days, so it is refused while an unfinished run still
//! writes any of them; a load submitted later takes the days over from it.

use std::collections::BTreeSet;

use floe_common::contract::Contract;
use floe_lake::RunId;
use tracing::info;

use super::enqueue::first_messages;
use super::{Coordinator, ResolvedContract, Result, Submitted};
use crate::ledger::{NewRun, Overlap, RunKind, RunTrigger};
use crate::period::Period;
use crate::plan::{label, plan_pass, ModelDeps, PassKind};
use crate::CoordinatorError;

pub struct PassRequest {
    pub contract: ResolvedContract,
    pub period: Period,
    pub kind: PassKind,
}

impl Coordinator {
    /// Plans, records and enqueues a pass run, or refuses it (naming the runs
    /// that hold its days) without recording anything.
    pub async fn submit_pass(&self, req: PassRequest) -> Result<Submitted> {
        req.period.check_length(self.config.max_period_days)?;
        let contract = Contract::parse(&req.contract.text, req.contract.origin.as_ref())
            .map_err(floe_common::FloeError::from)?;
        let models = self.pass_models(&contract, &req.kind).await?;
        let days: BTreeSet<Option<String>> =
            req.period.days().map(|d| label(&contract, d)).collect();
        let days: Vec<Option<String>> = days.into_iter().collect();
        let plan = plan_pass(&contract.name, &req.kind, &days, &models);
        let stored = self.store_contract(&req.contract.text).await?;
        let run_id = RunId::generate_kind(req.kind.as_str());
        let run = NewRun {
            run_id: run_id.clone(),
            pipeline: contract.name.clone(),
            period: req.period.label.clone(),
            contract_text: req.contract.text,
            contract_origin: req.contract.origin,
            trace_context: Default::default(),
            skipped: Vec::new(),
            kind: run_kind(&req.kind),
            trigger: RunTrigger::Manual,
            pipeline_version: req.contract.version,
            staged: false,
            publish: Default::default(),
        };
        let busy = self.ledger.create_run_if_free(&run, &plan).await?;
        if !busy.is_empty() {
            return Err(CoordinatorError::DaysBusy {
                pass: req.kind.as_str(),
                days: req.period.label,
                holders: holders(&busy),
            });
        }
        let run = self.get_run(&run_id).await?;
        let messages = first_messages(&run, &stored);
        self.enqueue(&run_id, &messages).await?;
        info!(%run_id, kind = req.kind.as_str(), tasks = plan.len(), period = %req.period.label, "pass submitted");
        Ok(Submitted {
            run_id: Some(run_id),
            plan,
            overlaps: Vec::new(),
            skipped: Vec::new(),
        })
    }

    /// The models a pass rebuilds, in dependency order: a reprocess rebuilds
    /// them where rows reached Silver; a rebuild needs at least one.
    async fn pass_models(&self, contract: &Contract, kind: &PassKind) -> Result<Vec<ModelDeps>> {
        self.check_schema(contract).await?;
        if matches!(kind, PassKind::Release { .. }) {
            return Ok(Vec::new());
        }
        let models = floe_gold::check_models(contract)
            .await
            .map_err(CoordinatorError::Model)?;
        if models.is_empty() && *kind == PassKind::GoldRebuild {
            return Err(CoordinatorError::BadPass(format!(
                "{} declares no Gold models ([[models]]): there is nothing to rebuild",
                contract.name
            )));
        }
        Ok(ModelDeps::of(models))
    }
}

fn run_kind(kind: &PassKind) -> RunKind {
    match kind {
        PassKind::Reprocess => RunKind::Reprocess,
        PassKind::Release { .. } => RunKind::Release,
        PassKind::GoldRebuild => RunKind::Rebuild,
    }
}

/// `run run-… (2025-01), which is still loading 2025-01-05, 2025-01-06; …`.
fn holders(busy: &[Overlap]) -> String {
    busy.iter()
        .map(|o| {
            format!(
                "run {} ({}), which is still loading {}",
                o.run_id,
                o.period,
                o.partitions.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
