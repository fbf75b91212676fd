//! Freshness per registered pipeline: the newest partition loaded and when
//! the last load finished, checked against the contract's `[freshness]`.
//! Exported as metrics (so an alarm fires when an expectation is missed) and
//! shown by `pipeline list`.

use chrono::{DateTime, NaiveDate, Utc};
use floe_common::contract::{Contract, FreshnessCheck};
use floe_process::metrics::{metrics, PipelineLabel};

use crate::ledger::Loaded;
use crate::service::Coordinator;
use crate::CoordinatorError;

/// How fresh one pipeline's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFreshness {
    pub pipeline: String,
    pub loaded: Loaded,
    /// Against the contract's `[freshness]`, when it has one.
    pub check: Option<FreshnessCheck>,
}

/// The freshness of the pipeline whose latest registered contract is `text`.
pub async fn freshness_of(
    coordinator: &Coordinator,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Option<PipelineFreshness>, CoordinatorError> {
    let Ok(contract) = Contract::parse(text, "registered".as_ref()) else {
        return Ok(None);
    };
    let loaded = coordinator.ledger().loaded(&contract.name).await?;
    let newest = loaded
        .newest_partition
        .as_deref()
        .and_then(|p| p.parse::<NaiveDate>().ok());
    let last_load = loaded
        .last_load_ms
        .and_then(DateTime::from_timestamp_millis);
    let check = contract
        .freshness
        .as_ref()
        .map(|f| f.check(newest, last_load, now));
    Ok(Some(PipelineFreshness {
        pipeline: contract.name,
        loaded,
        check,
    }))
}

/// Sets the freshness gauges of every registered pipeline.
pub async fn export(coordinator: &Coordinator, now: DateTime<Utc>) -> Result<(), CoordinatorError> {
    let m = metrics();
    let mut stale = 0;
    for pipeline in coordinator.pipelines().await? {
        let Some(f) = freshness_of(coordinator, &pipeline.contract_text, now).await? else {
            continue;
        };
        let label = PipelineLabel {
            pipeline: f.pipeline.clone(),
        };
        if let Some(ms) = f.loaded.last_load_ms {
            let age = (now.timestamp_millis() - ms).max(0) / 1000;
            m.last_load_age_seconds.get_or_create(&label).set(age);
        }
        if let Some(ms) = f.loaded.newest_file_ms {
            let age = (now.timestamp_millis() - ms).max(0) / 1000;
            m.newest_file_age_seconds.get_or_create(&label).set(age);
        }
        if let Some(day) = f.loaded.newest_partition.as_deref().and_then(day_end) {
            let age = (now - day).num_seconds().max(0);
            m.newest_partition_age_seconds
                .get_or_create(&label)
                .set(age);
        }
        if let Some(check) = &f.check {
            let missed = i64::from(!check.missed.is_empty());
            m.freshness_missed.get_or_create(&label).set(missed);
            stale += missed;
        }
    }
    m.pipelines_stale.set(stale);
    Ok(())
}

/// The end (next midnight, UTC) of a day partition's label.
fn day_end(label: &str) -> Option<DateTime<Utc>> {
    let day = label.parse::<NaiveDate>().ok()?.succ_opt()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{NewRun, RunKind, RunTrigger};
    use crate::plan::PlannedTask;
    use crate::service::tests::{config, example_contract, ledger_and_queue};
    use floe_common::task::TaskStats;
    use floe_lake::{RunId, TaskId};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[tokio::test]
    async fn a_pipeline_misses_its_freshness_until_yesterdays_partition_is_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, queue) = ledger_and_queue(dir.path()).await;
        let coordinator = Coordinator::new(ledger, queue, config(dir.path()));
        let text = format!(
            "{}\n[freshness]\npartition_by = \"06:00\"\ntimezone = \"UTC\"\n",
            example_contract()
        );
        coordinator.apply_pipeline(&text, "t.toml").await.unwrap();
        let fresh = |now: &'static str| {
            let (coordinator, text) = (&coordinator, &text);
            async move {
                freshness_of(coordinator, text, at(now))
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        let never = fresh("2025-01-10T07:00:00Z").await;
        assert_eq!(never.loaded, Loaded::default());
        assert!(never.check.unwrap().missed[0].contains("the newest loaded is none"));

        let run = NewRun {
            run_id: RunId::generate(),
            pipeline: "transactions".into(),
            period: "2025-01-09".into(),
            contract_text: text.clone(),
            contract_origin: "t.toml".into(),
            trace_context: Default::default(),
            skipped: Vec::new(),
            kind: RunKind::Load,
            trigger: RunTrigger::Manual,
            pipeline_version: Some(1),
            staged: false,
            publish: Default::default(),
        };
        let task = PlannedTask {
            task_id: TaskId::new("transactions-2025-01-09-000"),
            partition: Some("2025-01-09".into()),
            inputs: vec!["/b/a.csv".into()],
            fingerprints: Default::default(),
            ranges: Default::default(),
            notes: Vec::new(),
            bytes: 1,
            gold: None,
            dedupe: None,
            pass: None,
        };
        let ledger = coordinator.ledger();
        ledger
            .create_run(&run, std::slice::from_ref(&task))
            .await
            .unwrap();
        let stats = TaskStats {
            rows_in: 1,
            valid: 1,
            ..Default::default()
        };
        ledger
            .task_succeeded(&run.run_id, &task.task_id, 1, &stats, &[])
            .await
            .unwrap();
        let loaded = fresh("2025-01-10T07:00:00Z").await;
        assert_eq!(
            loaded.loaded.newest_partition.as_deref(),
            Some("2025-01-09")
        );
        assert!(loaded.loaded.last_load_ms.is_some());
        assert_eq!(loaded.check.unwrap().missed, Vec::<String>::new());
        let next_day = fresh("2025-01-11T06:30:00Z").await.check.unwrap();
        assert!(
            next_day.missed[0].contains("partition 2025-01-10"),
            "{next_day:?}"
        );
    }
}
