//! Gold tasks wait in the ledger until the tasks they depend on succeed; the
//! coordinator then queues them, pinned to the snapshots those tasks committed.

use floe_common::task::{GoldTask, TaskMessage};
use floe_common::{RunId, TaskId};
use tracing::info;

use super::{Coordinator, Result};

impl Coordinator {
    /// Enqueues the Gold tasks of every running run whose dependencies have
    /// succeeded (and fails those whose dependencies failed).
    pub async fn release_all_gold(&self) -> Result<usize> {
        let mut released = 0;
        for run_id in self.ledger.unfinished_runs().await? {
            released += self.release_gold(&run_id).await?;
        }
        Ok(released)
    }

    /// Enqueues the Gold tasks of `run_id` whose dependencies have all
    /// succeeded, each pinned to the snapshots they committed. Enqueueing twice
    /// (a crash before the ledger records it) is harmless: commits are idempotent.
    pub async fn release_gold(&self, run_id: &RunId) -> Result<usize> {
        let ready = self.ledger.gold_ready(run_id).await?;
        if ready.is_empty() {
            return Ok(0);
        }
        let run = self.get_run(run_id).await?;
        let messages: Vec<TaskMessage> = ready
            .iter()
            .map(|g| TaskMessage {
                run_id: run_id.clone(),
                task_id: g.task_id.clone(),
                contract_text: run.contract_text.clone(),
                contract_origin: run.contract_origin.clone(),
                inputs: Vec::new(),
                fingerprints: Default::default(),
                partition: g.partition.clone(),
                mode: run.mode,
                trace_context: run.trace_context.clone(),
                gold: Some(GoldTask {
                    model: g.model.clone(),
                    pins: g.pins.clone(),
                }),
            })
            .collect();
        let bodies: Vec<String> = messages.iter().map(TaskMessage::to_json).collect();
        for chunk in bodies.chunks(100) {
            self.queue.send_batch(chunk).await?;
        }
        let ids: Vec<TaskId> = ready.into_iter().map(|g| g.task_id).collect();
        self.ledger.mark_tasks_enqueued(run_id, &ids).await?;
        info!(%run_id, tasks = ids.len(), "gold tasks enqueued");
        Ok(ids.len())
    }
}
