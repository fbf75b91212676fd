//! The coordinator's gauges: tasks by state, queue depth, running workers and
//! the autoscaling signal.

use std::time::Instant;

use crate::ledger::TaskState;

use super::{Coordinator, Result, WORKER_SEEN_FOR};

impl Coordinator {
    /// Notes that `worker` is running (it leased or reported a task).
    pub(super) fn saw_worker(&self, worker: &str) {
        let mut seen = self.workers_seen.lock().expect("workers lock");
        seen.insert(worker.to_string(), Instant::now());
    }

    /// Workers heard of within the last minute.
    pub fn running_workers(&self) -> usize {
        let mut seen = self.workers_seen.lock().expect("workers lock");
        seen.retain(|_, at| at.elapsed() < WORKER_SEEN_FOR);
        seen.len()
    }

    /// Updates the gauges: tasks by state, queue depth, workers, and the
    /// autoscaling signal, waiting tasks per running worker.
    pub async fn refresh_metrics(&self) -> Result<()> {
        use floe_process::metrics::{metrics, StateLabel};
        let m = metrics();
        let depth = self.queue_depth().await?;
        m.queue_visible.set(depth.visible as i64);
        m.queue_in_flight.set(depth.in_flight as i64);
        m.queue_dead.set(depth.dead as i64);
        let workers = self.running_workers();
        m.workers.set(workers as i64);
        // With no worker running, the whole backlog is the signal: scale out.
        m.backlog_per_worker
            .set(depth.visible as f64 / workers.max(1) as f64);
        let counts = self.ledger.unfinished_task_counts().await?;
        for state in TaskState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map_or(0, |(_, n)| *n);
            m.tasks
                .get_or_create(&StateLabel {
                    state: state.as_str().to_string(),
                })
                .set(n);
        }
        crate::freshness::export(self, chrono::Utc::now()).await
    }
}
