//! Tasks that wait in the ledger until what they depend on succeeds: Gold tasks
//! (queued pinned to the snapshots their Silver tasks committed) and the chained
//! tasks of a split partition (queued once the task before them succeeded).

use floe_common::task::GoldTask;
use floe_lake::{RunId, TaskId};
use tracing::info;

use super::messages::task_message;
use super::{Coordinator, Result};

impl Coordinator {
    /// Enqueues the waiting tasks of every running run whose dependencies have
    /// succeeded (and ends those whose dependencies ended otherwise).
    pub async fn release_all_waiting(&self) -> Result<usize> {
        let mut released = 0;
        for run_id in self.ledger.unfinished_runs().await? {
            released += self.release_waiting(&run_id).await?;
        }
        Ok(released)
    }

    /// Enqueues the waiting tasks of `run_id` whose dependencies have all
    /// succeeded: chained Silver tasks, and Gold tasks pinned to the snapshots
    /// their dependencies committed. Enqueueing twice (a crash before the ledger
    /// records it) is harmless: commits are idempotent.
    pub async fn release_waiting(&self, run_id: &RunId) -> Result<usize> {
        let chained = self.ledger.chain_ready(run_id).await?;
        let gold = self.ledger.gold_ready(run_id).await?;
        if chained.is_empty() && gold.is_empty() {
            return Ok(0);
        }
        let run = self.get_run(run_id).await?;
        let contract = self.contract_of(&run);
        let mut messages = Vec::new();
        for t in &chained {
            messages.push(task_message(&run, t, None, &contract));
        }
        for g in &gold {
            let Some(task) = run.task(&g.task_id) else {
                continue;
            };
            let pins = GoldTask {
                model: g.model.clone(),
                pins: g.pins.clone(),
            };
            messages.push(task_message(&run, task, Some(pins), &contract));
        }
        let bodies: Vec<String> = messages
            .iter()
            .map(|m| self.config.codec.encode(m))
            .collect();
        for chunk in bodies.chunks(100) {
            self.queue.send_batch(chunk).await?;
        }
        let ids: Vec<TaskId> = messages.into_iter().map(|m| m.task_id).collect();
        self.ledger.mark_tasks_enqueued(run_id, &ids).await?;
        info!(%run_id, chained = chained.len(), gold = gold.len(), "waiting tasks enqueued");
        Ok(ids.len())
    }
}
