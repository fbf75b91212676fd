//! Schedules fired by a coordinator over a real ledger, embedded queue and
//! Bronze folder, with the clock given: a tick fires once, missed ticks are
//! caught up by one run, a failed tick waits for the next.

use std::path::Path;

use super::*;
use crate::service::tests::{config, example_contract, ledger_and_queue};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn land(bronze: &Path, day: &str) {
    let folder = bronze.join(format!("transactions/date={day}"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("part-0.csv"),
        format!("transaction_id\n{day}\n"),
    )
    .unwrap();
}

fn scheduled(cron: &str) -> String {
    format!(
        "{}\n[schedule]\ncron = \"{cron}\"\ntimezone = \"UTC\"\nload = \"yesterday\"\n",
        example_contract()
    )
}

async fn run_of(coordinator: &Coordinator, fired: &Fired) -> crate::ledger::RunRecord {
    coordinator.get_run(&fired.run_id).await.unwrap()
}

/// A coordinator over `dir` (its ledger, queue and Bronze) with the example
/// pipeline registered to load yesterday at 02:00 UTC.
async fn daily_at_two(dir: &Path) -> Coordinator {
    let (ledger, queue) = ledger_and_queue(dir).await;
    let coordinator = Coordinator::new(ledger, queue, config(dir));
    coordinator
        .apply_pipeline(&scheduled("0 2 * * *"), "transactions.toml")
        .await
        .unwrap();
    coordinator
}

#[tokio::test]
async fn a_daily_schedule_fires_once_per_tick_and_catches_up_missed_days_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    for day in ["2025-01-10", "2025-01-11", "2025-01-12", "2025-01-13"] {
        land(dir.path(), day);
    }
    let coordinator = daily_at_two(dir.path()).await;

    // First seen at noon: armed, nothing due until the next 02:00.
    assert!(fire_due(&coordinator, utc("2025-01-10T12:00:00Z"))
        .await
        .unwrap()
        .is_empty());
    let fired = fire_due(&coordinator, utc("2025-01-11T02:00:05Z"))
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        (fired[0].period.as_str(), fired[0].caught_up),
        ("2025-01-10", false)
    );
    let run = run_of(&coordinator, &fired[0]).await;
    assert_eq!(
        run.trigger,
        RunTrigger::Schedule {
            tick_ms: utc("2025-01-11T02:00:00Z").timestamp_millis()
        }
    );
    assert_eq!(run.pipeline_version, Some(1));
    assert!(fire_due(&coordinator, utc("2025-01-11T09:00:00Z"))
        .await
        .unwrap()
        .is_empty());

    // Down from the 11th to the 14th: one run over the three missed days.
    let fired = fire_due(&coordinator, utc("2025-01-14T08:00:00Z"))
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        (fired[0].period.as_str(), fired[0].caught_up),
        ("2025-01-11..2025-01-13", true)
    );
    let partitions: Vec<_> = run_of(&coordinator, &fired[0])
        .await
        .tasks
        .iter()
        .filter(|t| t.gold.is_none())
        .filter_map(|t| t.partition.clone())
        .collect();
    assert_eq!(partitions, ["2025-01-11", "2025-01-12", "2025-01-13"]);
    assert!(fire_due(&coordinator, utc("2025-01-14T08:00:01Z"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(coordinator.list_runs(10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_tick_with_no_files_is_reported_and_its_day_loaded_at_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    land(dir.path(), "2025-01-10");
    let coordinator = daily_at_two(dir.path()).await;
    fire_due(&coordinator, utc("2025-01-10T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        fire_due(&coordinator, utc("2025-01-11T02:00:01Z"))
            .await
            .unwrap()
            .len(),
        1
    );

    // The 11th has not landed by the tick: nothing recorded, the error kept.
    assert!(fire_due(&coordinator, utc("2025-01-12T02:00:01Z"))
        .await
        .unwrap()
        .is_empty());
    let state = &coordinator.ledger().schedules().await.unwrap()[0];
    let error = state.last_error.clone().unwrap();
    assert!(error.contains("2025-01-11"), "{error}");
    assert_eq!(
        state.failed_tick_ms,
        Some(utc("2025-01-12T02:00:00Z").timestamp_millis())
    );
    // Not retried before the next tick, even once the files are there.
    land(dir.path(), "2025-01-11");
    land(dir.path(), "2025-01-12");
    assert!(fire_due(&coordinator, utc("2025-01-12T09:00:00Z"))
        .await
        .unwrap()
        .is_empty());
    let fired = fire_due(&coordinator, utc("2025-01-13T02:00:01Z"))
        .await
        .unwrap();
    assert_eq!(fired[0].period, "2025-01-11..2025-01-12");
    assert_eq!(
        coordinator.ledger().schedules().await.unwrap()[0].last_error,
        None
    );

    // A version without a schedule stops it.
    coordinator
        .apply_pipeline(&example_contract(), "transactions.toml")
        .await
        .unwrap();
    land(dir.path(), "2025-01-13");
    assert!(fire_due(&coordinator, utc("2025-01-14T02:00:01Z"))
        .await
        .unwrap()
        .is_empty());
    assert!(coordinator.ledger().schedules().await.unwrap().is_empty());
}
