//! Staged runs in the ledger: a run whose tasks all ended well stays
//! `publishing` until its partitions are on the tables' `main`.

use floe_lake::RunId;

use super::model::{AuditResult, RunState};
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

    /// Records the audits run before publishing. When one failed, the run
    /// fails, naming each failure, and is never published.
    pub async fn record_audits(&self, run_id: &RunId, audits: &[AuditResult]) -> Result<()> {
        let failed: Vec<String> = audits
            .iter()
            .filter(|a| !a.passed)
            .map(|a| format!("{} for {}: {}", a.name, a.partition, a.detail))
            .collect();
        let error = (!failed.is_empty()).then(|| {
            format!(
                "the run was not published: {} audit(s) failed: {}. Its rows stay on its \
                 branch for inspection; fix the input and submit the run again",
                failed.len(),
                failed.join("; ")
            )
        });
        let text = serde_json::to_string(audits).map_err(|e| self.err(e))?;
        let update = sqlx::query("UPDATE runs SET audits = ?, publish_error = ? WHERE run_id = ?")
            .bind(text)
            .bind(error);
        self.update_run(run_id, update).await
    }

    /// Records that the run can never be published (its branch is gone, or it
    /// was rolled back): it fails with `error`.
    pub async fn publish_refused(&self, run_id: &RunId, error: &str) -> Result<()> {
        let update = sqlx::query("UPDATE runs SET publish_error = ? WHERE run_id = ?").bind(error);
        self.update_run(run_id, update).await
    }

    /// Records that the run's partitions are on `main`: the run ends as its
    /// tasks say (succeeded, or superseded). Recording it twice keeps the first.
    pub async fn run_published(&self, run_id: &RunId) -> Result<()> {
        let update = sqlx::query(
            "UPDATE runs SET published_at_ms = coalesce(published_at_ms, ?) WHERE run_id = ?",
        )
        .bind(now_ms());
        self.update_run(run_id, update).await
    }

    /// Runs `update` (of the run's row; its last bind, the run id, is added
    /// here) and recomputes the run's state, in one transaction.
    pub(super) async fn update_run<'q>(
        &self,
        run_id: &'q RunId,
        update: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<()> {
        let mut tx = self.write().await?;
        update
            .bind(run_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        recompute(&mut tx, &self.path, run_id, now_ms()).await?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ledger, new_run, planned, run, snaps, stats};
    use super::super::NewRun;
    use super::*;

    async fn create_staged(l: &Ledger, id: &RunId, tasks: usize) {
        let run = NewRun {
            staged: true,
            ..new_run(id.as_str())
        };
        l.create_run(&run, &planned(tasks)).await.unwrap();
    }

    async fn finish_all(l: &Ledger, id: &RunId, n: usize) {
        for (i, t) in planned(n).iter().enumerate() {
            l.task_succeeded(id, &t.task_id, 1, &stats(i as u64), &snaps(i as i64))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_run_keeps_its_publish_options() {
        let (_dir, l) = ledger().await;
        let id = RunId::new("run-held");
        let options = super::super::PublishOptions {
            hold: true,
            allow_shrink: true,
        };
        let held = NewRun {
            staged: true,
            publish: options,
            ..new_run(id.as_str())
        };
        l.create_run(&held, &planned(1)).await.unwrap();
        assert_eq!(run(&l, &id).await.publish, options);
        create_staged(&l, &RunId::new("run-plain"), 1).await;
        let plain = run(&l, &RunId::new("run-plain")).await;
        assert_eq!(plain.publish, Default::default());
    }

    #[tokio::test]
    async fn a_staged_run_publishes_before_it_ends() {
        let (_dir, l) = ledger().await;
        let staged = RunId::new("run-staged");
        let direct = RunId::new("run-direct");
        create_staged(&l, &staged, 2).await;
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
    async fn a_failed_audit_fails_the_run_and_passed_ones_are_kept() {
        let (_dir, l) = ledger().await;
        let (good, bad) = (RunId::new("run-good"), RunId::new("run-bad"));
        for id in [&good, &bad] {
            create_staged(&l, id, 1).await;
            finish_all(&l, id, 1).await;
        }
        let audit = |passed: bool| AuditResult {
            name: "max_row_change".into(),
            partition: "ts_day=2025-01-01".into(),
            passed,
            detail: "Silver rows 40 against 100 on main (-60.0%), allowed ±20%".into(),
        };
        l.record_audits(&good, &[audit(true)]).await.unwrap();
        l.record_audits(&bad, &[audit(true), audit(false)])
            .await
            .unwrap();
        let g = run(&l, &good).await;
        assert_eq!(
            (g.state, g.audits.clone()),
            (RunState::Publishing, vec![audit(true)])
        );
        let b = run(&l, &bad).await;
        assert_eq!(b.state, RunState::Failed);
        let error = b.error.unwrap();
        assert!(
            error.contains("max_row_change for ts_day=2025-01-01"),
            "{error}"
        );
        assert_eq!(b.audits.len(), 2);
        assert_eq!(l.runs_to_publish().await.unwrap(), vec![good]);
    }

    #[tokio::test]
    async fn a_pass_waits_until_the_staged_run_over_its_days_is_published() {
        let (_dir, l) = ledger().await;
        let staged = RunId::new("run-staged");
        create_staged(&l, &staged, 1).await;
        finish_all(&l, &staged, 1).await;
        assert_eq!(run(&l, &staged).await.state, RunState::Publishing);
        let pass = new_run("reprocess-1");
        let busy = l.create_run_if_free(&pass, &planned(1)).await.unwrap();
        assert_eq!(busy.len(), 1, "{busy:?}");
        assert_eq!(busy[0].run_id, staged);
        assert!(l.get_run(&pass.run_id).await.unwrap().is_none());

        l.run_published(&staged).await.unwrap();
        let busy = l.create_run_if_free(&pass, &planned(1)).await.unwrap();
        assert!(busy.is_empty(), "{busy:?}");
    }

    #[tokio::test]
    async fn a_run_whose_publish_is_refused_fails_with_the_reason() {
        let (_dir, l) = ledger().await;
        let id = RunId::new("run-gone");
        create_staged(&l, &id, 1).await;
        finish_all(&l, &id, 1).await;
        assert_eq!(l.runs_to_publish().await.unwrap(), vec![id.clone()]);
        l.publish_refused(&id, "its branch is gone").await.unwrap();
        let r = run(&l, &id).await;
        assert_eq!(r.state, RunState::Failed);
        assert!(r.error.unwrap().contains("its branch is gone"));
        assert!(l.runs_to_publish().await.unwrap().is_empty());
        assert!(!l.unfinished_runs().await.unwrap().contains(&id));
    }

    #[tokio::test]
    async fn a_failed_staged_run_is_never_published() {
        let (_dir, l) = ledger().await;
        let id = RunId::new("run-failing");
        create_staged(&l, &id, 2).await;
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
