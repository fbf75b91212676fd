//! The coordinator runs a contract's `[maintenance]` policy on its own, with
//! real processes: compaction and expiry on schedule, every engine reading the
//! same rows.

use std::time::Duration;

use floe_common::contract::TableName;
use floe_sample::SampleConfig;
use floe_tests::readers::*;
use floe_tests::*;

fn silver() -> TableName {
    example_contract().target.table.clone()
}

/// The coordinator runs a contract's `[maintenance]` policy on its own: a day
/// loaded as two tasks (two small files) is compacted, older snapshots expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_maintains_tables_on_the_contracts_schedule() {
    use floe_tests::checks::{assert_run_totals, contract_path, silver_tasks};
    use floe_tests::cluster::Cluster;
    let lake = Lakehouse::new().await;
    // Files over 1 MiB, so a day with a 1 MiB task target is two tasks.
    let truth = lake.generate(&SampleConfig {
        files_per_day: 2,
        ..small_sample(500_000)
    });
    let day = "2025-01-02";
    let big = truth.days[day]
        .files
        .iter()
        .all(|f| std::fs::metadata(lake.bronze().join(f)).unwrap().len() > 1024 * 1024);
    assert!(big, "the sample's files must be over 1 MiB");
    let contract = lake.dir.path().join("maintained.toml");
    let text = std::fs::read_to_string(contract_path()).unwrap()
        + "\n[maintenance]\nevery = \"2s\"\ncompact_min_files = 2\nexpire_older_than = \"0s\"\nretain_last = 1\norphan_older_than = \"1d\"\nallow_unsafe_ages = true\n";
    std::fs::write(&contract, text).unwrap();

    let mut cluster = Cluster::new(lake.dir.path());
    cluster.coordinator_args = vec!["--maintenance-tick-seconds".into(), "1".into()];
    cluster.start_coordinator();
    cluster.start_worker();
    let run_id = cluster.submit(&contract, &["--date", day, "--target-task-mb", "1"]);
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(180));
    assert_run_totals(&run, &truth, &[day]);
    assert_eq!(silver_tasks(&run).len(), 2, "{run:#}");
    let expected = silver_by_day(lake.catalog.as_ref(), &silver()).await;

    // Within a few passes: one compaction snapshot, the only one kept.
    let started = std::time::Instant::now();
    loop {
        let t = lake.catalog.load_table_ok(&silver()).await;
        let meta = t.metadata();
        let current = meta.current_snapshot().unwrap();
        if current.summary().operation.as_str() == "replace" && meta.snapshots().len() == 1 {
            assert_eq!(
                current.summary().additional_properties["floe.compacted-run"],
                run_id
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(lake.dir.path().join("logs/coordinator.log"))
                .unwrap_or_default();
            let history: Vec<String> = meta
                .snapshots()
                .map(|s| format!("{} {:?}", s.snapshot_id(), s.summary()))
                .collect();
            panic!("no scheduled maintenance:\n{history:#?}\ncoordinator log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        silver_by_day(lake.catalog.as_ref(), &silver()).await,
        expected
    );
    assert_engines_read(&Readers::Sql(&lake), &silver().to_string(), None, &expected);
}
