//! Where each pipeline's `[schedule]` stands. The last tick a schedule fired
//! is not kept here but read from the runs it started (`runs.scheduled_for_ms`),
//! so a fired tick and its run are recorded in the same transaction.

use sqlx::Row;

use super::{Ledger, Result};

/// A pipeline's schedule as the coordinator last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleState {
    pub pipeline: String,
    /// The schedule as described by the contract (`cron zone, loads day`).
    pub schedule: String,
    /// Ticks after this are due: when the coordinator first saw this schedule.
    pub armed_at_ms: i64,
    /// The tick of the newest run the schedule started.
    pub last_fired_ms: Option<i64>,
    /// A tick whose submit failed, and why; retried at the next tick (which
    /// then loads the failed tick's days too).
    pub failed_tick_ms: Option<i64>,
    pub last_error: Option<String>,
}

const SELECT: &str = "SELECT s.pipeline, s.schedule, s.armed_at_ms, s.failed_tick_ms, s.last_error,
            (SELECT max(scheduled_for_ms) FROM runs r WHERE r.pipeline = s.pipeline) AS last_fired_ms
     FROM schedules s";

impl Ledger {
    /// The state of `pipeline`'s schedule, armed at `now_ms` when it is new
    /// or differs from the one last seen (a changed schedule starts afresh:
    /// the old one's missed ticks are not caught up).
    pub async fn arm_schedule(
        &self,
        pipeline: &str,
        schedule: &str,
        now_ms: i64,
    ) -> Result<ScheduleState> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO schedules (pipeline, schedule, armed_at_ms) VALUES (?, ?, ?)
             ON CONFLICT (pipeline) DO UPDATE SET schedule = excluded.schedule,
                 armed_at_ms = excluded.armed_at_ms, failed_tick_ms = NULL, last_error = NULL
             WHERE schedule <> excluded.schedule",
        )
        .bind(pipeline)
        .bind(schedule)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        let row = sqlx::query(&format!("{SELECT} WHERE s.pipeline = ?"))
            .bind(pipeline)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        self.schedule_of(&row)
    }

    /// Forgets `pipeline`'s schedule (its latest contract has none): a
    /// schedule added again later starts afresh.
    pub async fn disarm_schedule(&self, pipeline: &str) -> Result<()> {
        sqlx::query("DELETE FROM schedules WHERE pipeline = ?")
            .bind(pipeline)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that the submit for `tick_ms` failed (kept until a later
    /// tick fires), or with `None` clears the last failure.
    pub async fn schedule_failed(
        &self,
        pipeline: &str,
        failure: Option<(i64, &str)>,
    ) -> Result<()> {
        sqlx::query("UPDATE schedules SET failed_tick_ms = ?, last_error = ? WHERE pipeline = ?")
            .bind(failure.map(|(tick, _)| tick))
            .bind(failure.map(|(_, error)| error))
            .bind(pipeline)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// `pipeline`'s schedule, if armed.
    pub async fn schedule(&self, pipeline: &str) -> Result<Option<ScheduleState>> {
        let row = sqlx::query(&format!("{SELECT} WHERE s.pipeline = ?"))
            .bind(pipeline)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        row.map(|r| self.schedule_of(&r)).transpose()
    }

    /// Every armed schedule, by pipeline.
    pub async fn schedules(&self) -> Result<Vec<ScheduleState>> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY s.pipeline"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        rows.iter().map(|r| self.schedule_of(r)).collect()
    }

    fn schedule_of(&self, row: &sqlx::sqlite::SqliteRow) -> Result<ScheduleState> {
        let get = |e| self.err(e);
        Ok(ScheduleState {
            pipeline: row.try_get("pipeline").map_err(get)?,
            schedule: row.try_get("schedule").map_err(get)?,
            armed_at_ms: row.try_get("armed_at_ms").map_err(get)?,
            last_fired_ms: row.try_get("last_fired_ms").map_err(get)?,
            failed_tick_ms: row.try_get("failed_tick_ms").map_err(get)?,
            last_error: row.try_get("last_error").map_err(get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::tests::new_run;
    use crate::ledger::RunTrigger;

    #[tokio::test]
    async fn a_schedule_is_armed_once_and_rearmed_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("ledger.db")).await.unwrap();
        let daily = "0 2 * * * UTC, loads yesterday";
        let s = ledger.arm_schedule("p", daily, 1_000).await.unwrap();
        assert_eq!((s.armed_at_ms, s.last_fired_ms), (1_000, None));
        ledger
            .schedule_failed("p", Some((1_500, "no input")))
            .await
            .unwrap();
        let s = ledger.arm_schedule("p", daily, 2_000).await.unwrap();
        assert_eq!(s.armed_at_ms, 1_000, "the same schedule keeps its arming");
        assert_eq!(s.failed_tick_ms, Some(1_500));

        let mut run = new_run("r1");
        run.pipeline = "p".into();
        run.trigger = RunTrigger::Schedule { tick_ms: 1_800 };
        ledger.create_run(&run, &[]).await.unwrap();
        let mut later = new_run("r2");
        later.pipeline = "p".into();
        later.trigger = RunTrigger::Schedule { tick_ms: 1_900 };
        ledger.create_run(&later, &[]).await.unwrap();
        let s = ledger.arm_schedule("p", daily, 3_000).await.unwrap();
        assert_eq!(s.last_fired_ms, Some(1_900));
        let stored = ledger.get_run(&later.run_id).await.unwrap().unwrap();
        assert_eq!(stored.trigger, RunTrigger::Schedule { tick_ms: 1_900 });

        let hourly = "0 * * * * UTC, loads today";
        let s = ledger.arm_schedule("p", hourly, 4_000).await.unwrap();
        assert_eq!((s.armed_at_ms, s.failed_tick_ms), (4_000, None));
        ledger.disarm_schedule("p").await.unwrap();
        assert!(ledger.schedules().await.unwrap().is_empty());
    }
}
