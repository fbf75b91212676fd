//! Other engines read what Floe writes: PyIceberg (SQL catalog on the same SQLite
//! file, or Glue on a moto server) and DuckDB (iceberg extension loaded from its PyPI wheel) must agree with
//! Floe on rows and sum(amount) per day, and see Floe's snapshot summaries.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use floe_common::catalog::TableCatalog;
use floe_common::task::{run_task, TaskEnv};
use floe_common::RunId;
use floe_tests::moto::Moto;
use floe_tests::*;
use serde_json::Value;

fn python() -> String {
    std::env::var("FLOE_PYTHON").unwrap_or_else(|_| {
        panic!("FLOE_PYTHON is not set: run the suite with `bash scripts/test.sh`, which installs PyIceberg and DuckDB")
    })
}

/// Where the other engines find the catalog.
enum Catalog<'a> {
    Sql(&'a Lakehouse),
    /// A moto server serving Glue and S3.
    Glue(&'a Moto),
}

fn read(catalog: &Catalog, engine: &str, table: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/read_iceberg.py");
    let mut command = Command::new(python());
    command.arg(script).args([
        "--engine",
        engine,
        "--catalog-name",
        CATALOG_NAME,
        "--table",
        table,
    ]);
    match catalog {
        Catalog::Sql(lake) => command
            .arg("--catalog-db")
            .arg(lake.catalog_db())
            .arg("--warehouse")
            .arg(lake.warehouse()),
        Catalog::Glue(moto) => command.args(["--glue-endpoint", &moto.endpoint]),
    };
    let out = command
        .args(["--group-by-day-of", "ts", "--sum", "amount"])
        .output()
        .expect("run read_iceberg.py");
    assert!(
        out.status.success(),
        "{engine} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from read_iceberg.py")
}

fn cents(sum: &str) -> i64 {
    let (units, frac) = sum.split_once('.').unwrap_or((sum, "0"));
    let frac = format!("{frac:0<2}");
    units.parse::<i64>().unwrap() * 100
        + frac[..2].parse::<i64>().unwrap() * if units.starts_with('-') { -1 } else { 1 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_and_duckdb_agree_with_floe() {
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = lake.catalog.clone();
    agree_with_floe(&lake, catalog, &Catalog::Sql(&lake)).await;
}

/// The same with the tables in Glue and the warehouse on S3 (a moto server):
/// PyIceberg through its Glue catalog, DuckDB through httpfs with an S3 secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_and_duckdb_agree_with_floe_on_glue_and_s3() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let catalog: Arc<dyn TableCatalog> = Arc::new(moto.glue_catalog("lake").await);
    agree_with_floe(&lake, catalog, &Catalog::Glue(&moto)).await;
}

/// Loads three days twice (appends, then overwrites) through `catalog` and
/// checks what both engines read through `readers`.
async fn agree_with_floe(lake: &Lakehouse, catalog: Arc<dyn TableCatalog>, readers: &Catalog<'_>) {
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
    for engine in ["pyiceberg", "duckdb"] {
        let answer = read(readers, engine, &table);
        let per_day: BTreeMap<String, (u64, i64)> = answer["per_day"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(day, v)| {
                (
                    day.clone(),
                    (
                        v["rows"].as_u64().unwrap(),
                        cents(v["sum"].as_str().unwrap()),
                    ),
                )
            })
            .collect();
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
}

#[test]
fn cents_parses_decimal_text() {
    assert_eq!(cents("12.34"), 1234);
    assert_eq!(cents("-0.5"), -50);
    assert_eq!(cents("7"), 700);
}
