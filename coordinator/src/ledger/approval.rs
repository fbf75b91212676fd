//! Manual publishing in the ledger: a staged run of a `publish = "manual"`
//! pipeline whose audits passed waits in `awaiting_approval` until an
//! operator approves its publish (recorded with who and why) or discards it.

use floe_lake::RunId;

use super::model::RunState;
use super::transition::recompute;
use super::{now_ms, store, Ledger, Result};
use crate::CoordinatorError;

impl Ledger {
    /// The run's audits passed and its pipeline publishes on approval: it waits.
    pub async fn await_approval(&self, run_id: &RunId) -> Result<()> {
        let update = sqlx::query("UPDATE runs SET awaiting_approval = 1 WHERE run_id = ?");
        self.update_run(run_id, update).await
    }

    /// Approves the publish of a run awaiting approval: it goes on to
    /// `publishing`, and its publish snapshots record `by` and `reason`.
    pub async fn approve_publish(&self, run_id: &RunId, by: &str, reason: &str) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let (state, _) = store::run_state(&mut tx, &self.path, run_id).await?;
        if state != RunState::AwaitingApproval {
            return Err(CoordinatorError::NotPublishable {
                run_id: run_id.clone(),
                state: state.as_str().to_string(),
                action: "approving a publish applies to",
                when: "whose audits passed and that awaits approval",
            });
        }
        sqlx::query("UPDATE runs SET approved_by = ?, approval_reason = ? WHERE run_id = ?")
            .bind(by)
            .bind(reason)
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }

    /// Discards a staged run that awaits approval or failed: it ends
    /// `discarded` and is never published. Its branches are the caller's to remove.
    pub async fn discard(&self, run_id: &RunId) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        let run = store::load_run(&mut tx, &self.path, run_id)
            .await?
            .ok_or_else(|| CoordinatorError::UnknownRun(run_id.clone()))?;
        let discardable = matches!(run.state, RunState::AwaitingApproval | RunState::Failed);
        if !run.staged || !discardable {
            return Err(CoordinatorError::NotPublishable {
                run_id: run_id.clone(),
                state: run.state.as_str().to_string(),
                action: "discarding applies to",
                when: "that awaits approval or failed",
            });
        }
        sqlx::query("UPDATE runs SET state = ?, finished_at_ms = ? WHERE run_id = ?")
            .bind(RunState::Discarded.as_str())
            .bind(now)
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ledger, new_run, planned, run, snaps, stats};
    use super::super::NewRun;
    use super::*;

    async fn audited_staged_run(l: &Ledger, id: &RunId) {
        let staged = NewRun {
            staged: true,
            ..new_run(id.as_str())
        };
        l.create_run(&staged, &planned(1)).await.unwrap();
        let task = &planned(1)[0];
        l.task_succeeded(id, &task.task_id, 1, &stats(0), &snaps(0))
            .await
            .unwrap();
        assert_eq!(run(l, id).await.state, RunState::Publishing);
        l.await_approval(id).await.unwrap();
    }

    #[tokio::test]
    async fn an_approved_run_goes_on_to_publish_and_a_discarded_one_ends() {
        let (_dir, l) = ledger().await;
        let (a, b) = (RunId::new("run-a"), RunId::new("run-b"));
        audited_staged_run(&l, &a).await;
        audited_staged_run(&l, &b).await;
        let waiting = run(&l, &a).await;
        assert_eq!(waiting.state, RunState::AwaitingApproval);
        assert!(!waiting.is_finished() && waiting.finished_at_ms.is_none());
        assert!(l.runs_to_publish().await.unwrap().is_empty());
        assert!(l.unfinished_runs().await.unwrap().contains(&a));

        l.approve_publish(&a, "alice", "numbers checked")
            .await
            .unwrap();
        let approved = run(&l, &a).await;
        assert_eq!(approved.state, RunState::Publishing);
        assert_eq!(approved.approved_by.as_deref(), Some("alice"));
        assert_eq!(approved.approval_reason.as_deref(), Some("numbers checked"));
        let again = l.approve_publish(&a, "bob", "twice").await.unwrap_err();
        assert!(again.to_string().contains("is publishing"), "{again}");
        l.run_published(&a).await.unwrap();
        assert_eq!(run(&l, &a).await.state, RunState::Succeeded);

        l.discard(&b).await.unwrap();
        let discarded = run(&l, &b).await;
        assert_eq!(discarded.state, RunState::Discarded);
        assert!(discarded.finished_at_ms.is_some());
        // A late report of its task changes nothing.
        let task = &planned(1)[0];
        l.task_succeeded(&b, &task.task_id, 2, &stats(0), &snaps(0))
            .await
            .unwrap();
        assert_eq!(run(&l, &b).await.state, RunState::Discarded);
        let late = l
            .approve_publish(&b, "alice", "too late")
            .await
            .unwrap_err();
        assert!(late.to_string().contains("is discarded"), "{late}");
        let direct = RunId::new("run-direct");
        l.create_run(&new_run(direct.as_str()), &planned(1))
            .await
            .unwrap();
        assert!(
            l.discard(&direct).await.is_err(),
            "a direct run cannot be discarded"
        );
    }
}
