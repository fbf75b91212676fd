//! Other engines read what Floe writes: PyIceberg (SQL catalog on the same SQLite
//! file, or Glue on a moto server) and DuckDB (iceberg extension loaded from its PyPI wheel) must agree with
//! Floe on rows and sum(amount) per day, and see Floe's snapshot summaries.

use std::sync::Arc;

use floe_common::task::{run_task, TaskEnv};
use floe_lake::catalog::TableCatalog;
use floe_lake::RunId;
use floe_tests::moto::Moto;
use floe_tests::readers::*;
use floe_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_and_duckdb_agree_with_floe() {
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    agree_with_floe(&lake, catalog, &Readers::Sql(&lake)).await;
}

/// The same with the tables in Glue and the warehouse on S3 (a moto server):
/// PyIceberg through its Glue catalog, DuckDB through httpfs with an S3 secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_and_duckdb_agree_with_floe_on_glue_and_s3() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(moto.glue_catalog("lake").await);
    agree_with_floe(&lake, catalog, &Readers::Glue(&moto)).await;
}

/// Loads three days twice (appends, then overwrites) through `catalog` and
/// checks what both engines read through `readers`.
async fn agree_with_floe(lake: &Lakehouse, catalog: Arc<dyn TableCatalog>, readers: &Readers<'_>) {
    let truth = lake.generate(&small_sample(6_200));
    let contract = example_contract();
    let env = TaskEnv::new(catalog.clone());
    // Two runs, so the table has an overwrite snapshot on top of appends.
    for _ in 0..2 {
        let run = RunId::generate();
        for day in ["2025-01-01", "2025-01-02", "2025-01-03"] {
            run_task(&env, &day_task(lake, &contract, &truth, day, &run))
                .await
                .unwrap();
        }
    }
    let floe = silver_by_day(catalog.as_ref(), &contract.target.table).await;
    let table = contract.target.table.to_string();
    for engine in ENGINES {
        let answer = read(readers, engine, &table, None);
        let per_day = per_day(&answer);
        assert_eq!(per_day, floe, "{engine} per day");
        let expected_rows: u64 = floe.values().map(|v| v.0).sum();
        assert_eq!(
            answer["rows"].as_u64(),
            Some(expected_rows),
            "{engine} rows"
        );
        let snapshots = answer["snapshots"].as_array().unwrap();
        assert_eq!(snapshots.len(), 6, "{engine}: one snapshot per task");
        for s in snapshots {
            let summary = &s["summary"];
            assert!(
                summary["floe.run-id"].as_str().unwrap().starts_with("run-"),
                "{engine}: {s}"
            );
            assert!(summary["floe.task-id"].is_string(), "{engine}: {s}");
        }
        let ops: Vec<&str> = snapshots
            .iter()
            .map(|s| s["operation"].as_str().unwrap())
            .collect();
        assert_eq!(&ops[..3], ["append"; 3], "{engine}");
        assert_eq!(&ops[3..], ["overwrite"; 3], "{engine}");
    }
    // The lineage columns read the same everywhere (line numbers are stored as deltas).
    let silver = scan(catalog.as_ref(), &contract.target.table).await;
    let lines: i64 = silver
        .iter()
        .map(|b| {
            let lines = column::<arrow_array::Int64Array>(b, "_floe_source_line");
            lines.iter().flatten().sum::<i64>()
        })
        .sum();
    for engine in ENGINES {
        let answer = read_sum(readers, engine, &table, "_floe_source_line");
        assert_eq!(answer["sum"], lines.to_string(), "{engine}: {answer}");
    }
}
