//! The coordinator's domain logic: submit runs, hand tasks to workers, record
//! outcomes. The gRPC layer (`grpc`) only converts types and calls this.

use std::sync::Arc;
use std::time::Duration;

use floe_common::contract::{Contract, ContractStore};
use floe_common::task::{TaskCodec, TaskMessage, TaskStats};
use floe_lake::catalog::CatalogConfig;
use floe_lake::catalog::TableCatalog;
use floe_lake::{RunId, TaskId};
use floe_queue::{Receipt, TaskQueue};
use tracing::{info, warn, Instrument};

use crate::copies::SkippedCopy;
use crate::ledger::{
    Ledger, NewRun, Overlap, PublishOptions, RunKind, RunRecord, RunState, RunTrigger,
    SnapshotRecord, TaskState,
};
use crate::listing::plan_period;
use crate::period::Period;
use crate::plan::{plan_gold, ModelDeps, PlannedTask};
use crate::CoordinatorError;
use enqueue::first_messages;
use floe_lake::storage::BronzeStore;

mod appends;
mod diff;
mod enqueue;
mod gold;
mod messages;
mod metrics;
mod passes;
mod pipelines;
mod publish;
mod tables;

pub use appends::Appended;
pub use diff::RunDiff;
pub use passes::PassRequest;
pub use pipelines::{ContractSource, ResolvedContract};

type Result<T> = std::result::Result<T, CoordinatorError>;

#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Root of the Bronze files (a folder or `s3://bucket/prefix`); contract
    /// locations are relative to it.
    pub bronze: String,
    /// Where Bronze is listed.
    pub store: Arc<dyn BronzeStore>,
    /// Largest task, in bytes of input, unless a submit says otherwise.
    pub target_task_bytes: u64,
    /// Longest long poll a worker may ask for.
    pub max_wait: Duration,
    /// Most days one run (or pass) may cover.
    pub max_period_days: usize,
    /// How task messages are written to and read from the queue (signed on
    /// SQS).
    pub codec: TaskCodec,
}

pub struct SubmitRequest {
    pub contract: ResolvedContract,
    pub period: Period,
    pub explain: bool,
    pub target_task_bytes: Option<u64>,
    pub trigger: RunTrigger,
    pub publish: PublishOptions,
}

pub struct Submitted {
    /// None when explaining.
    pub run_id: Option<RunId>,
    pub plan: Vec<PlannedTask>,
    /// Unfinished runs whose partitions this run takes over (when explaining:
    /// would take over).
    pub overlaps: Vec<Overlap>,
    /// Files left out as byte-identical copies of others.
    pub skipped: Vec<SkippedCopy>,
}

/// One delivery of a task to a worker.
pub struct Lease {
    pub receipt: Receipt,
    pub message: TaskMessage,
    pub attempt: u32,
}

pub struct Coordinator {
    ledger: Ledger,
    queue: Arc<dyn TaskQueue>,
    config: CoordinatorConfig,
    /// The workers' catalog, to reconcile the ledger from the tables; opened on
    /// first use.
    catalog: Option<CatalogConfig>,
    opened: tokio::sync::OnceCell<Arc<dyn TableCatalog>>,
    /// Where runs' contracts are stored for workers, in the catalog's
    /// warehouse; opened on first use.
    contracts: tokio::sync::OnceCell<Arc<dyn ContractStore>>,
    /// Worker id → when it last leased or reported a task.
    workers_seen: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Told when a run's last task ended and the run waits to be published.
    publish_wake: tokio::sync::Notify,
}

/// A worker not heard of for this long no longer counts as running.
const WORKER_SEEN_FOR: Duration = Duration::from_secs(60);

impl Coordinator {
    pub fn new(ledger: Ledger, queue: Arc<dyn TaskQueue>, config: CoordinatorConfig) -> Self {
        Self {
            ledger,
            queue,
            config,
            catalog: None,
            opened: tokio::sync::OnceCell::new(),
            contracts: tokio::sync::OnceCell::new(),
            workers_seen: Default::default(),
            publish_wake: tokio::sync::Notify::new(),
        }
    }

    pub fn with_catalog(self, catalog: CatalogConfig) -> Self {
        Self {
            catalog: Some(catalog),
            ..self
        }
    }

    /// Records the tasks whose commits are in the tables but not in the ledger
    /// (see [`crate::reconcile`]). Returns how many.
    pub async fn reconcile_from_tables(&self) -> Result<usize> {
        if self.catalog.is_none() {
            return Ok(0);
        }
        let Some(catalog) = self.catalog().await? else {
            return Ok(0);
        };
        crate::reconcile::reconcile_from_tables(&self.ledger, catalog.as_ref()).await
    }

    /// Object storage (Bronze, and the warehouse for orphan listings).
    pub fn store(&self) -> &Arc<dyn BronzeStore> {
        &self.config.store
    }

    /// Root of the Bronze files (a folder or `s3://bucket/prefix`).
    pub fn bronze(&self) -> &str {
        &self.config.bronze
    }

    /// Most days one run may cover.
    pub fn max_period_days(&self) -> usize {
        self.config.max_period_days
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Plans the run, records it and enqueues its tasks. Nothing is enqueued when
    /// the contract, the period or the input is wrong.
    pub async fn submit(&self, req: SubmitRequest) -> Result<Submitted> {
        req.period.check_length(self.config.max_period_days)?;
        let contract = Contract::parse(&req.contract.text, req.contract.origin.as_ref())
            .map_err(floe_common::FloeError::from)?;
        let models = floe_gold::check_models(&contract)
            .await
            .map_err(CoordinatorError::Model)?;
        self.check_schema(&contract).await?;
        let target = req
            .target_task_bytes
            .unwrap_or(self.config.target_task_bytes);
        let listed = plan_period(
            &contract,
            self.config.store.clone(),
            &self.config.bronze,
            &req.period,
            target,
        )
        .await?;
        let (mut plan, skipped) = (listed.plan, listed.skipped);
        let deps = ModelDeps::of(models);
        plan.extend(plan_gold(&contract.name, &deps, &plan));
        let overlaps = self.ledger.overlaps(&contract.name, &plan).await?;
        if req.explain {
            return Ok(Submitted {
                run_id: None,
                plan,
                overlaps,
                skipped,
            });
        }
        let stored = self.store_contract(&req.contract.text).await?;
        let run_id = RunId::generate();
        // The run's span: every task's spans join its trace (when traces are on).
        let span = tracing::info_span!("run", %run_id, pipeline = %contract.name, period = %req.period.label, tasks = plan.len());
        let trace_context = span.in_scope(floe_common::trace_context::inject_current);
        let run = NewRun {
            run_id: run_id.clone(),
            pipeline: contract.name.clone(),
            period: req.period.label.clone(),
            contract_text: req.contract.text.clone(),
            contract_origin: req.contract.origin.clone(),
            trace_context: trace_context.clone(),
            skipped: skipped.clone(),
            kind: RunKind::Load,
            trigger: req.trigger,
            pipeline_version: req.contract.version,
            staged: contract.target.publish.staged() || req.publish.hold,
            publish: req.publish,
        };
        let dropped = self.ledger.create_run_superseding(&run, &plan).await?;
        for (older, tasks) in &dropped {
            info!(%run_id, superseded_run = %older, tasks, "queued tasks of an older run over the same partitions dropped");
        }
        let run = self.get_run(&run_id).await?;
        let messages = first_messages(&run, &stored);
        self.enqueue(&run_id, &messages)
            .instrument(span.clone())
            .await?;
        span.in_scope(
            || info!(%run_id, tasks = plan.len(), period = %req.period.label, "run submitted"),
        );
        Ok(Submitted {
            run_id: Some(run_id),
            plan,
            overlaps,
            skipped,
        })
    }

    /// Hands up to `max` tasks to a worker, skipping tasks of cancelled runs.
    pub async fn lease(
        &self,
        worker: &str,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<Lease>> {
        self.saw_worker(worker);
        let deliveries = self
            .queue
            .receive(max, visibility, wait.min(self.config.max_wait))
            .await?;
        let mut leases = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let message = match self.config.codec.decode(&d.body) {
                Ok(m) => m,
                Err(refusal) => {
                    warn!(message_id = %d.message_id, reason = refusal.as_str(), "dead-lettering a message that is not a task this coordinator sent: {refusal}");
                    floe_process::metrics::message_refused(refusal.as_str());
                    self.queue.dead_letter(&d, refusal.as_str()).await?;
                    continue;
                }
            };
            match self
                .ledger
                .task_standing(&message.run_id, &message.task_id)
                .await?
            {
                Some((RunState::Cancelled, _)) => {
                    self.queue.delete(&d.receipt).await?;
                    continue;
                }
                Some((_, Some(TaskState::Superseded))) => {
                    info!(run_id = %message.run_id, task_id = %message.task_id, "dropping a task whose partition a newer run loads");
                    self.queue.delete(&d.receipt).await?;
                    continue;
                }
                None => {
                    warn!(run_id = %message.run_id, "dropping a task of a run the ledger does not know");
                    self.queue.delete(&d.receipt).await?;
                    continue;
                }
                _ => {}
            }
            self.ledger
                .task_started(&message.run_id, &message.task_id, d.receive_count)
                .await?;
            info!(worker, run_id = %message.run_id, task_id = %message.task_id, attempt = d.receive_count, "task leased");
            leases.push(Lease {
                receipt: d.receipt,
                message,
                attempt: d.receive_count,
            });
        }
        Ok(leases)
    }

    /// Heartbeat. Returns true when the task's run was cancelled.
    pub async fn extend(
        &self,
        receipt: &Receipt,
        run_id: &RunId,
        visibility: Duration,
    ) -> Result<bool> {
        if self.ledger.run_state(run_id).await? == Some(RunState::Cancelled) {
            return Ok(true);
        }
        self.queue.extend(receipt, visibility).await?;
        Ok(false)
    }

    /// A worker that takes tasks from the queue itself says a delivery is running.
    /// Returns true when the task should stop: its run was cancelled, or a newer
    /// run took its partition.
    pub async fn report_progress(
        &self,
        worker: &str,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
    ) -> Result<bool> {
        self.saw_worker(worker);
        if self.should_stop(run_id, task_id).await? {
            return Ok(true);
        }
        tracing::debug!(worker, %run_id, %task_id, attempt, "task progress");
        self.ledger.task_started(run_id, task_id, attempt).await?;
        Ok(false)
    }

    pub async fn queue_depth(&self) -> Result<floe_queue::QueueDepth> {
        Ok(self.queue.depth().await?)
    }

    /// True when the task's run was cancelled or a newer run took its partition.
    async fn should_stop(&self, run_id: &RunId, task_id: &TaskId) -> Result<bool> {
        Ok(matches!(
            self.ledger.task_standing(run_id, task_id).await?,
            Some((RunState::Cancelled, _) | (_, Some(TaskState::Superseded)))
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn complete(
        &self,
        receipt: &Receipt,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
        stats: &TaskStats,
        snapshots: &[SnapshotRecord],
    ) -> Result<()> {
        // The ledger first: if the ack is lost, the redelivered task finds its
        // snapshots and completes again, idempotently.
        self.ledger
            .task_succeeded(run_id, task_id, attempt, stats, snapshots)
            .await?;
        self.ack(receipt).await?;
        self.release_waiting(run_id).await?;
        self.wake_publisher_if_ready(run_id).await;
        Ok(())
    }

    pub async fn fail(
        &self,
        receipt: &Receipt,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
        error: &str,
        retry_after: Option<Duration>,
    ) -> Result<()> {
        self.ledger
            .task_failed(run_id, task_id, attempt, error, retry_after.is_some())
            .await?;
        if let Some(after) = retry_after {
            // Visible again after the worker's backoff (hidden that long, as a
            // lease would); after the maximum receives it is dead-lettered.
            let handed_back = if after.is_zero() {
                self.queue.release(receipt).await
            } else {
                self.queue.extend(receipt, after).await
            };
            handed_back.or_else(ignore_stale)
        } else {
            self.ack(receipt).await?;
            self.release_waiting(run_id).await?;
            self.wake_publisher_if_ready(run_id).await;
            Ok(())
        }
    }

    /// The task's commit was refused by its partition's fence: a newer run owns
    /// the partition. Final for the task (acknowledged, never retried).
    pub async fn superseded(
        &self,
        receipt: &Receipt,
        run_id: &RunId,
        task_id: &TaskId,
        attempt: u32,
        by: Option<&RunId>,
        error: &str,
    ) -> Result<()> {
        info!(%run_id, %task_id, by = ?by.map(RunId::as_str), "task superseded by a newer run");
        self.ledger
            .task_superseded(run_id, task_id, attempt, by, error)
            .await?;
        self.ack(receipt).await?;
        self.release_waiting(run_id).await?;
        self.wake_publisher_if_ready(run_id).await;
        Ok(())
    }

    pub async fn release(&self, receipt: &Receipt) -> Result<()> {
        self.queue.release(receipt).await.or_else(ignore_stale)
    }

    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        self.queue.delete(receipt).await.or_else(ignore_stale)
    }

    /// Records dead-lettered tasks in the ledger. Returns how many there were.
    pub async fn reconcile_dead_letters(&self) -> Result<usize> {
        let dead = self.queue.take_dead_letters(100).await?;
        for d in &dead {
            match self.config.codec.decode(&d.body) {
                Ok(m) => {
                    warn!(run_id = %m.run_id, task_id = %m.task_id, receives = d.receive_count, "task dead-lettered");
                    self.ledger
                        .task_dead(&m.run_id, &m.task_id, d.receive_count)
                        .await?;
                    self.release_waiting(&m.run_id).await?;
                }
                Err(refusal) => {
                    warn!(message_id = %d.message_id, reason = refusal.as_str(), "a dead letter that is not a task this coordinator sent: {refusal}")
                }
            }
        }
        Ok(dead.len())
    }

    pub async fn get_run(&self, run_id: &RunId) -> Result<RunRecord> {
        self.ledger
            .get_run(run_id)
            .await?
            .ok_or_else(|| CoordinatorError::UnknownRun(run_id.clone()))
    }

    pub async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>> {
        self.ledger.list_runs(limit).await
    }

    pub async fn cancel_run(&self, run_id: &RunId) -> Result<RunRecord> {
        self.ledger
            .cancel_run(run_id)
            .await?
            .ok_or_else(|| CoordinatorError::UnknownRun(run_id.clone()))
    }
}

/// A stale receipt means the task was redelivered elsewhere: nothing to do here.
fn ignore_stale(e: floe_queue::QueueError) -> Result<()> {
    if e.is_stale() {
        Ok(())
    } else {
        Err(e.into())
    }
}

#[cfg(test)]
pub(crate) mod tests;
