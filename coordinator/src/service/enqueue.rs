//! Putting a recorded run's tasks on the queue, at submit and after a crash.

use floe_common::task::TaskMessage;
use floe_lake::RunId;
use tracing::warn;

use super::messages::{self, MessageContract};
use super::{Coordinator, Result};
use crate::ledger::{RunRecord, TaskState};
use crate::CoordinatorError;

impl Coordinator {
    /// Puts a recorded run's tasks on the queue, then marks the run enqueued. A
    /// crash in between is repaired by [`Coordinator::resume`]; tasks enqueued twice
    /// are harmless, because commits are idempotent. A run the queue can never
    /// take (a message over its size limit) fails on its own, before any of its
    /// tasks is sent.
    pub(super) async fn enqueue(&self, run_id: &RunId, messages: &[TaskMessage]) -> Result<()> {
        let bodies: Vec<String> = messages
            .iter()
            .map(|m| self.config.codec.encode(m))
            .collect();
        if let Some((m, body)) = messages
            .iter()
            .zip(&bodies)
            .find(|(_, b)| b.len() > floe_queue::MAX_BODY_BYTES)
        {
            let error = format!(
                "task {} cannot be queued: its message is {} bytes, over the queue's limit of {} \
                 (it lists {} input paths). Shorten the contract or lower \
                 --target-task-mb so tasks list fewer files, then submit again",
                m.task_id,
                body.len(),
                floe_queue::MAX_BODY_BYTES,
                m.inputs.len()
            );
            self.ledger.fail_unqueueable_run(run_id, &error).await?;
            return Err(CoordinatorError::Unqueueable {
                run_id: run_id.clone(),
                error,
            });
        }
        for chunk in bodies.chunks(100) {
            self.queue.send_batch(chunk).await?;
        }
        self.ledger.mark_enqueued(run_id).await
    }

    /// At start-up: enqueues the queued tasks of runs recorded but not enqueued.
    /// A run that cannot be enqueued never stops the coordinator from starting:
    /// one the queue can never take has failed on its own; one the queue could
    /// not take now stays recorded for the next start.
    pub async fn resume(&self) -> Result<usize> {
        let mut resumed = 0;
        for run_id in self.ledger.runs_not_enqueued().await? {
            let run = self.get_run(&run_id).await?;
            let messages = first_messages(&run, &self.contract_of(&run));
            warn!(%run_id, tasks = messages.len(), "enqueueing the tasks of a run interrupted at submit");
            match self.enqueue(&run_id, &messages).await {
                Ok(()) => resumed += 1,
                Err(e) => warn!(%run_id, error = %e, "could not enqueue the run's tasks"),
            }
        }
        self.release_all_waiting().await?;
        Ok(resumed)
    }
}

/// The messages of a run's tasks that go on the queue at once: the queued ones
/// that wait for nothing (Gold tasks and chained tasks after the first wait in
/// the ledger until what they depend on has succeeded).
pub(super) fn first_messages(run: &RunRecord, contract: &MessageContract) -> Vec<TaskMessage> {
    run.tasks
        .iter()
        .filter(|t| t.state == TaskState::Queued && t.gold.is_none())
        .filter(|t| crate::ledger::waits_for(t).is_none())
        .map(|t| messages::task_message(run, t, None, contract))
        .collect()
}
