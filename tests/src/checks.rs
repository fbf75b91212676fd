//! What an end-to-end run must show: run totals and table contents equal to the
//! generator's ground truth, one copy of every row.

use std::path::PathBuf;

use floe_lake::catalog::TableCatalog;
use floe_sample::{Counts, GroundTruth};
use serde_json::Value;

use crate::{example_contract, rows_by_source_partition, silver_by_day};

pub fn contract_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/transactions.toml"
    ))
}

pub fn all_days(truth: &GroundTruth) -> Vec<&str> {
    truth.days.keys().map(String::as_str).collect()
}

/// The tables hold exactly one copy of the truth for `days`.
pub async fn assert_tables_match(catalog: &dyn TableCatalog, truth: &GroundTruth, days: &[&str]) {
    let contract = example_contract();
    let silver = silver_by_day(catalog, &contract.target.table).await;
    let quarantine = rows_by_source_partition(catalog, &contract.target.quarantine_table).await;
    let condemned = rows_by_source_partition(catalog, &contract.target.condemned_table).await;
    for day in days {
        let t = &truth.days[*day].counts;
        assert_eq!(
            silver.get(*day),
            Some(&(t.valid, t.sum_amount_valid_cents)),
            "silver {day}"
        );
        assert_eq!(
            quarantine.get(*day).copied().unwrap_or(0),
            t.bad,
            "quarantine {day}"
        );
        assert_eq!(
            condemned.get(*day).copied().unwrap_or(0),
            t.duplicates,
            "condemned {day}"
        );
    }
    assert_eq!(silver.len(), days.len(), "no other day in Silver");
}

/// The run succeeded and its row totals are the truth's for `days`.
/// The run's Silver tasks (a Gold task's id has `-gold-` in it).
pub fn silver_tasks(run: &Value) -> Vec<&Value> {
    run["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["model"].is_null())
        .collect()
}

pub fn assert_run_totals(run: &Value, truth: &GroundTruth, days: &[&str]) {
    let sum = |f: fn(&Counts) -> u64| days.iter().map(|d| f(&truth.days[*d].counts)).sum::<u64>();
    assert_eq!(run["state"], "succeeded", "{run:#}");
    assert_eq!(run["rows"]["rows_in"], sum(|c| c.rows), "{run:#}");
    assert_eq!(run["rows"]["valid"], sum(|c| c.valid));
    assert_eq!(run["rows"]["quarantined"], sum(|c| c.bad));
    assert_eq!(run["rows"]["condemned"], sum(|c| c.duplicates));
}
