//! Continuous loads: every registered pipeline whose contract sets
//! `source.poll` has its newest days listed that often, and one that sets
//! `source.events` has its S3 notifications read (see [`events`]). Files nobody loaded
//! are recorded as pending (durably, in the ledger); once the oldest has
//! waited `source.window`, one append run loads them all. A file is keyed by
//! its path and version, so listing it again, or a coordinator restarted
//! mid-window, never loads it twice; a loaded file that changes is reported,
//! not appended again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use floe_common::contract::{Continuous, Contract};
use floe_process::metrics::{metrics, PipelineLabel};
use tracing::{info, warn};

use floe_queue::sqs::SqsQueue;
use floe_queue::TaskQueue;

use crate::ledger::{ChangedFile, PipelineVersion};
use crate::listing::list_day;
use crate::service::{Appended, Coordinator, ResolvedContract};
use crate::CoordinatorError;

mod events;

pub use events::{parse_notification, ObjectCreated};

/// When each pipeline was last listed (in memory: a restart lists at once),
/// and the events queues opened so far.
#[derive(Default)]
pub struct Watcher {
    last_polled_ms: HashMap<String, i64>,
    event_queues: HashMap<String, Arc<dyn TaskQueue>>,
}

impl Watcher {
    /// Lists the pipelines due for it and appends what has waited its window.
    pub async fn watch(
        &mut self,
        coordinator: &Coordinator,
        now: DateTime<Utc>,
    ) -> Result<Vec<Appended>, CoordinatorError> {
        let mut done = Vec::new();
        for pipeline in coordinator.pipelines().await? {
            let Ok(contract) = Contract::parse(&pipeline.contract_text, "registered".as_ref())
            else {
                continue;
            };
            let Some(continuous) = contract.source.continuous.clone() else {
                continue;
            };
            match self
                .watch_one(coordinator, &pipeline, &contract, continuous, now)
                .await
            {
                Ok(Some(appended)) => done.push(appended),
                Ok(None) => {}
                Err(e) => {
                    warn!(pipeline = %pipeline.name, error = %e, "watching for new files failed; will retry")
                }
            }
        }
        Ok(done)
    }

    async fn watch_one(
        &mut self,
        coordinator: &Coordinator,
        pipeline: &PipelineVersion,
        contract: &Contract,
        continuous: Continuous,
        now: DateTime<Utc>,
    ) -> Result<Option<Appended>, CoordinatorError> {
        let now_ms = now.timestamp_millis();
        if let Some(poll) = continuous.poll {
            let last = self.last_polled_ms.get(&pipeline.name).copied();
            if last.is_none_or(|l| now_ms - l >= poll.as_millis() as i64) {
                self.last_polled_ms.insert(pipeline.name.clone(), now_ms);
                list_new_files(coordinator, contract, &continuous, now).await?;
            }
        }
        if let Some(name) = &continuous.events {
            let queue = self.event_queue(name).await?;
            events::take_events(coordinator, contract, &queue, now_ms).await?;
        }
        let pending = coordinator.ledger().pending_files(&contract.name).await?;
        let label = PipelineLabel {
            pipeline: contract.name.clone(),
        };
        metrics()
            .files_pending
            .get_or_create(&label)
            .set(pending.len() as i64);
        let Some(oldest) = pending.iter().map(|p| p.seen_at_ms).min() else {
            return Ok(None);
        };
        if now_ms - oldest < continuous.window.as_millis() as i64 {
            return Ok(None);
        }
        let resolved = ResolvedContract::registered(pipeline.clone());
        Ok(Some(
            coordinator
                .submit_append(&resolved, &pending, now_ms)
                .await?,
        ))
    }
}

/// Lists the newest `poll_days` days of the pipeline's Bronze files and takes
/// note of what is new or changed.
async fn list_new_files(
    coordinator: &Coordinator,
    contract: &Contract,
    continuous: &Continuous,
    now: DateTime<Utc>,
) -> Result<(), CoordinatorError> {
    let today = now.date_naive();
    let mut files = Vec::new();
    for back in 0..continuous.poll_days {
        let Some(day) = today.checked_sub_days(Days::new(back.into())) else {
            continue;
        };
        let listed = list_day(
            coordinator.store().as_ref(),
            coordinator.bronze(),
            &contract.source.location,
            day,
        )
        .await?;
        files.extend(listed);
    }
    let changed = coordinator
        .ledger()
        .observe_files(&contract.name, &files, now.timestamp_millis())
        .await?;
    report_changed(contract, &changed);
    Ok(())
}

/// Warns of loaded files seen again with another content.
fn report_changed(contract: &Contract, changed: &[ChangedFile]) {
    for c in changed {
        warn!(pipeline = %contract.name, file = %c.path, loaded = %c.loaded, now = %c.now, run_id = %c.run_id,
            "a loaded Bronze file changed; it is not loaded again: reload its day (`submit --date`) to take the new content");
        let label = PipelineLabel {
            pipeline: contract.name.clone(),
        };
        metrics().files_changed.get_or_create(&label).inc();
    }
    if !changed.is_empty() {
        info!(pipeline = %contract.name, changed = changed.len(), "changed files reported");
    }
}

impl Watcher {
    /// Reads `queue` for the pipelines whose `source.events` names `name`
    /// instead of opening that SQS queue (tests, other queue services).
    pub fn with_event_queue(mut self, name: &str, queue: Arc<dyn TaskQueue>) -> Self {
        self.event_queues.insert(name.to_string(), queue);
        self
    }

    /// The SQS queue `name`, opened on first use.
    async fn event_queue(&mut self, name: &str) -> Result<Arc<dyn TaskQueue>, CoordinatorError> {
        if let Some(queue) = self.event_queues.get(name) {
            return Ok(queue.clone());
        }
        let sdk = floe_lake::aws::load_config().await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let queue: Arc<dyn TaskQueue> = Arc::new(SqsQueue::open(client, name).await?);
        self.event_queues.insert(name.to_string(), queue.clone());
        Ok(queue)
    }
}

/// Watches every `every` for new files of continuous pipelines.
pub async fn watch_loop(coordinator: Arc<Coordinator>, every: Duration) {
    let mut watcher = Watcher::default();
    loop {
        if let Err(e) = watcher.watch(&coordinator, Utc::now()).await {
            warn!(error = %e, "watching for new files failed; will retry");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests;
