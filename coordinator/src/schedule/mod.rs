//! Scheduled loads: every registered pipeline whose latest contract has a
//! `[schedule]` is submitted by the coordinator itself at each tick. Ticks
//! missed while the coordinator was down are caught up by one run over all
//! their days; a tick whose submit fails (no files yet) is retried at the next
//! tick, whose run then covers the failed tick's days too.

mod due;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use floe_common::contract::Contract;
use floe_lake::RunId;
use tracing::{info, warn};

pub use due::{due, Due};

use crate::ledger::{PipelineVersion, RunTrigger};
use crate::period::Period;
use crate::service::{Coordinator, ResolvedContract, SubmitRequest};
use crate::CoordinatorError;

/// A run a schedule started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub pipeline: String,
    pub run_id: RunId,
    pub period: String,
    pub caught_up: bool,
}

/// Submits a run for every pipeline whose schedule has a tick due at `now`.
/// A pipeline whose submit fails does not stop the others.
pub async fn fire_due(
    coordinator: &Coordinator,
    now: DateTime<Utc>,
) -> Result<Vec<Fired>, CoordinatorError> {
    let mut fired = Vec::new();
    for pipeline in coordinator.pipelines().await? {
        if let Some(run) = fire_pipeline(coordinator, pipeline, now).await? {
            fired.push(run);
        }
    }
    Ok(fired)
}

async fn fire_pipeline(
    coordinator: &Coordinator,
    pipeline: PipelineVersion,
    now: DateTime<Utc>,
) -> Result<Option<Fired>, CoordinatorError> {
    let ledger = coordinator.ledger();
    let name = pipeline.name.clone();
    // Registered contracts were checked at apply; one that no longer parses
    // (a newer Floe is stricter) is reported, and not scheduled.
    let schedule = match Contract::parse(&pipeline.contract_text, "registered".as_ref()) {
        Ok(contract) => contract.schedule,
        Err(e) => {
            warn!(pipeline = %name, error = %e, "the registered contract no longer parses; not scheduling it");
            None
        }
    };
    let Some(schedule) = schedule else {
        ledger.disarm_schedule(&name).await?;
        return Ok(None);
    };
    let state = ledger
        .arm_schedule(&name, &schedule.describe(), now.timestamp_millis())
        .await?;
    let max_days = coordinator.max_period_days() as u64;
    let Some(due) = due(
        &schedule,
        at_ms(state.armed_at_ms),
        state.last_fired_ms.map(at_ms),
        now,
        max_days,
    ) else {
        return Ok(None);
    };
    let tick_ms = due.tick.timestamp_millis();
    if state.failed_tick_ms == Some(tick_ms) {
        return Ok(None); // Failed at this tick already: wait for the next.
    }
    if due.days_dropped > 0 {
        warn!(pipeline = %name, days = due.days_dropped, max_days, "the schedule missed more days than a run may cover; loading the newest");
    }
    let period = Period::between(due.first_day, due.last_day);
    let submitted = coordinator
        .submit(SubmitRequest {
            contract: ResolvedContract::registered(pipeline),
            period: period.clone(),
            explain: false,
            target_task_bytes: None,
            trigger: RunTrigger::Schedule { tick_ms },
            publish: Default::default(),
        })
        .await;
    match submitted {
        Ok(submitted) => {
            ledger.schedule_failed(&name, None).await?;
            let run_id = submitted
                .run_id
                .expect("a submit that is not explained records a run");
            info!(pipeline = %name, %run_id, period = %period.label, tick = %due.tick, caught_up = due.catches_up(), "scheduled run submitted");
            Ok(Some(Fired {
                pipeline: name,
                run_id,
                period: period.label,
                caught_up: due.catches_up(),
            }))
        }
        Err(e) => {
            warn!(pipeline = %name, period = %period.label, tick = %due.tick, error = %e, "the scheduled run could not be submitted; retrying at the next tick");
            ledger
                .schedule_failed(&name, Some((tick_ms, &e.to_string())))
                .await?;
            Ok(None)
        }
    }
}

/// Where a pipeline's schedule stands, for `pipeline list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleView {
    pub describe: String,
    pub next_tick: Option<DateTime<Utc>>,
    pub last_fired: Option<DateTime<Utc>>,
    /// A failed tick and why.
    pub failed: Option<(DateTime<Utc>, String)>,
}

/// The schedule of `pipeline`'s latest version, if it has one.
pub async fn schedule_view(
    coordinator: &Coordinator,
    pipeline: &PipelineVersion,
    now: DateTime<Utc>,
) -> Result<Option<ScheduleView>, CoordinatorError> {
    let Ok(contract) = Contract::parse(&pipeline.contract_text, "registered".as_ref()) else {
        return Ok(None);
    };
    let Some(schedule) = contract.schedule else {
        return Ok(None);
    };
    let state = coordinator.ledger().schedule(&pipeline.name).await?;
    Ok(Some(ScheduleView {
        describe: schedule.describe(),
        next_tick: schedule.next_tick(now),
        last_fired: state.as_ref().and_then(|s| s.last_fired_ms).map(at_ms),
        failed: state.and_then(|s| Some((at_ms(s.failed_tick_ms?), s.last_error?))),
    }))
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Checks every `every` for schedules with a tick due.
pub async fn schedule_loop(coordinator: Arc<Coordinator>, every: Duration) {
    loop {
        if let Err(e) = fire_due(&coordinator, Utc::now()).await {
            warn!(error = %e, "checking the schedules failed; will retry");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests;
