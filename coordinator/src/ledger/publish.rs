//! Staged runs in the ledger: a run whose tasks all ended well stays
//! `publishing` until its partitions are on the tables' `main`.

use floe_lake::RunId;

use super::model::RunState;
use super::transition::recompute;
use super::{now_ms, Ledger, Result};

impl Ledger {
    /// Staged runs waiting to be published, oldest first.
    pub async fn runs_to_publish(&self) -> Result<Vec<RunId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT run_id FROM runs WHERE state = ? ORDER BY created_at_ms, rowid",
        )
        .bind(RunState::Publishing.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(ids.into_iter().map(RunId::new).collect())
    }

    /// Records that the run's partitions are on `main`: the run ends as its
    /// tasks say (succeeded, or superseded). Recording it twice keeps the first.
    pub async fn run_published(&self, run_id: &RunId) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE runs SET published_at_ms = coalesce(published_at_ms, ?) WHERE run_id = ?",
        )
        .bind(now)
        .bind(run_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        recompute(&mut tx, &self.path, run_id, now).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ledger, new_run, planned, run, snaps, stats};
    use super::super::NewRun;
    use super::*;

    async fn finish_all(l: &Ledger, id: &RunId, n: usize) {
        for (i, t) in planned(n).iter().enumerate() {
            l.task_succeeded(id, &t.task_id, 1, &stats(i as u64), &snaps(i as i64))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_staged_run_publishes_before_it_ends() {
        let (_dir, l) = ledger().await;
        let staged = RunId::new("run-staged");
        let direct = RunId::new("run-direct");
        l.create_run(
            &NewRun {
                staged: true,
                ..new_run(staged.as_str())
            },
            &planned(2),
        )
        .await
        .unwrap();
        l.create_run(&new_run(direct.as_str()), &planned(2))
            .await
            .unwrap();
        finish_all(&l, &staged, 2).await;
        finish_all(&l, &direct, 2).await;

        let r = run(&l, &staged).await;
        assert_eq!(r.state, RunState::Publishing);
        assert!(!r.is_finished() && r.finished_at_ms.is_none() && r.staged);
        assert_eq!(run(&l, &direct).await.state, RunState::Succeeded);
        assert_eq!(l.runs_to_publish().await.unwrap(), vec![staged.clone()]);
        assert!(l.unfinished_runs().await.unwrap().contains(&staged));

        l.run_published(&staged).await.unwrap();
        let r = run(&l, &staged).await;
        assert_eq!(r.state, RunState::Succeeded);
        assert!(r.finished_at_ms.is_some() && r.published_at_ms.is_some());
        l.run_published(&staged).await.unwrap();
        assert_eq!(run(&l, &staged).await.published_at_ms, r.published_at_ms);
        assert!(l.runs_to_publish().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_staged_run_is_never_published() {
        let (_dir, l) = ledger().await;
        let id = RunId::new("run-failing");
        l.create_run(
            &NewRun {
                staged: true,
                ..new_run(id.as_str())
            },
            &planned(2),
        )
        .await
        .unwrap();
        let tasks = planned(2);
        l.task_succeeded(&id, &tasks[0].task_id, 1, &stats(0), &snaps(0))
            .await
            .unwrap();
        l.task_failed(&id, &tasks[1].task_id, 1, "bad input", false)
            .await
            .unwrap();
        assert_eq!(run(&l, &id).await.state, RunState::Failed);
        assert!(l.runs_to_publish().await.unwrap().is_empty());
    }
}
