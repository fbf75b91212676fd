//! Append runs: the new files of a continuous pipeline, loaded into the
//! partitions' loads without reloading what is there. Each partition's
//! append starts from the keys its last task left, so the dedupe key holds
//! across the load and every append after it.

use std::collections::BTreeSet;

use floe_common::contract::Contract;
use floe_common::task::DedupeLink;
use floe_lake::RunId;
use tracing::info;

use super::enqueue::first_messages;
use super::{Coordinator, ResolvedContract, Result, SubmitRequest, Submitted};
use crate::ledger::{NewRun, PendingFile, RunKind, RunTrigger};
use crate::period::Period;
use crate::plan::{plan, plan_gold, ModelDeps, PlannedTask};

/// How long a task's keys are relied on for an append: orphan removal may
/// delete them once older than its safety age (at least a day).
const KEYS_TRUSTED_FOR_MS: i64 = 12 * 3600 * 1000;

/// What became of a pipeline's pending files.
#[derive(Default)]
pub struct Appended {
    /// The append run, when some partitions took files.
    pub append: Option<Submitted>,
    /// A load of the days whose partitions cannot be appended to (their last
    /// task left no keys to dedupe against): they are loaded whole instead.
    pub reload: Option<Submitted>,
}

impl Coordinator {
    /// Plans the pending files into one append run, leaving in waiting those
    /// whose partitions an unfinished run still writes. Partitions whose rows'
    /// keys are not at hand are reloaded whole by a load run instead.
    pub async fn submit_append(
        &self,
        contract: &ResolvedContract,
        pending: &[PendingFile],
        now_ms: i64,
    ) -> Result<Appended> {
        let parsed = Contract::parse(&contract.text, contract.origin.as_ref())
            .map_err(floe_common::FloeError::from)?;
        let files: Vec<_> = pending.iter().map(|p| p.file.clone()).collect();
        let mut silver = plan(&parsed, &files, self.config.target_task_bytes);
        let busy: BTreeSet<Option<String>> = self
            .ledger
            .overlaps(&parsed.name, &silver)
            .await?
            .into_iter()
            .flat_map(|o| o.partitions.into_iter().map(Some))
            .collect();
        silver.retain(|t| !busy.contains(&t.partition));
        let mut reload = BTreeSet::new();
        if !parsed.dedupe_key.is_empty() {
            for partition in partitions(&silver) {
                match self
                    .continues_from(&parsed.name, partition.as_deref(), now_ms)
                    .await?
                {
                    Some(link) => link_partition(&mut silver, &partition, link),
                    None => {
                        reload.insert(partition);
                    }
                }
            }
        }
        let (reloaded, appended): (Vec<_>, Vec<_>) = silver
            .into_iter()
            .partition(|t| reload.contains(&t.partition));
        let mut done = Appended::default();
        if !reloaded.is_empty() {
            done.reload = Some(self.reload_days(contract, pending, &reloaded).await?);
        }
        if !appended.is_empty() {
            done.append = Some(self.record_append(contract, &parsed, appended).await?);
        }
        Ok(done)
    }

    /// Where the append to `partition` starts: after its last task, when that
    /// left its keys recently enough; a first link (no keys) when nothing was
    /// loaded there; `None` when it must be reloaded whole.
    async fn continues_from(
        &self,
        pipeline: &str,
        partition: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<DedupeLink>> {
        let first = DedupeLink {
            after: None,
            after_run: None,
            hand_off: true,
        };
        Ok(
            match self.ledger.last_silver_task(pipeline, partition).await? {
                None => Some(first),
                Some(last)
                    if last.handed_off && now_ms - last.finished_at_ms < KEYS_TRUSTED_FOR_MS =>
                {
                    Some(DedupeLink {
                        after: Some(last.task_id),
                        after_run: Some(last.run_id),
                        hand_off: true,
                    })
                }
                Some(_) => None,
            },
        )
    }

    async fn record_append(
        &self,
        contract: &ResolvedContract,
        parsed: &Contract,
        silver: Vec<PlannedTask>,
    ) -> Result<Submitted> {
        let models = floe_gold::check_models(parsed)
            .await
            .map_err(crate::CoordinatorError::Model)?;
        let deps = ModelDeps::of(models);
        let files: Vec<String> = silver.iter().flat_map(|t| t.inputs.clone()).collect();
        let mut plan = silver;
        plan.extend(plan_gold(&parsed.name, &deps, &plan));
        let stored = self.store_contract(&contract.text).await?;
        let run_id = RunId::generate_kind("append");
        let run = NewRun {
            run_id: run_id.clone(),
            pipeline: parsed.name.clone(),
            period: period_of(&plan),
            contract_text: contract.text.clone(),
            contract_origin: contract.origin.clone(),
            trace_context: Default::default(),
            skipped: Vec::new(),
            kind: RunKind::Append,
            trigger: RunTrigger::NewFiles,
            pipeline_version: contract.version,
            staged: false,
            publish: Default::default(),
        };
        self.ledger.create_append_run(&run, &plan, &files).await?;
        let record = self.get_run(&run_id).await?;
        self.enqueue(&run_id, &first_messages(&record, &stored))
            .await?;
        info!(%run_id, pipeline = %parsed.name, files = files.len(), period = %run.period, "new files appended");
        Ok(Submitted {
            run_id: Some(run_id),
            plan,
            overlaps: Vec::new(),
            skipped: Vec::new(),
        })
    }

    /// Loads the days of `tasks`' files whole: the load lists every file of
    /// those days (the pending ones included) and replaces their partitions.
    async fn reload_days(
        &self,
        contract: &ResolvedContract,
        pending: &[PendingFile],
        tasks: &[PlannedTask],
    ) -> Result<Submitted> {
        let inputs: BTreeSet<&String> = tasks.iter().flat_map(|t| &t.inputs).collect();
        let days: BTreeSet<_> = pending
            .iter()
            .filter(|p| inputs.contains(&p.file.path))
            .map(|p| p.file.day)
            .collect();
        let (first, last) = (days.first().copied(), days.last().copied());
        let period = Period::between(
            first.expect("a reloaded task has files"),
            last.expect("a reloaded task has files"),
        );
        self.submit(SubmitRequest {
            contract: contract.clone(),
            period,
            explain: false,
            target_task_bytes: None,
            trigger: RunTrigger::NewFiles,
            publish: Default::default(),
        })
        .await
    }
}

fn partitions(tasks: &[PlannedTask]) -> BTreeSet<Option<String>> {
    tasks.iter().map(|t| t.partition.clone()).collect()
}

/// Chains `partition`'s tasks: the first after `link`, each next after the one
/// before (all of one run); every task leaves its keys for the next append.
fn link_partition(tasks: &mut [PlannedTask], partition: &Option<String>, link: DedupeLink) {
    let mut before: Option<floe_lake::TaskId> = None;
    for task in tasks.iter_mut().filter(|t| &t.partition == partition) {
        task.dedupe = Some(match before.take() {
            None => link.clone(),
            Some(previous) => DedupeLink {
                after: Some(previous),
                after_run: None,
                hand_off: true,
            },
        });
        before = Some(task.task_id.clone());
    }
}

/// The partitions a run's tasks write, as a period label.
fn period_of(tasks: &[PlannedTask]) -> String {
    let labels: BTreeSet<&str> = tasks
        .iter()
        .filter_map(|t| t.partition.as_deref())
        .collect();
    match (labels.first(), labels.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}..{b}"),
        _ => "all".into(),
    }
}
