//! The example contract's Gold models checked against DuckDB: the aggregates
//! each model stands for, computed by DuckDB over the Silver table, must equal
//! what Floe's Gold tables hold, to the cent (needs FLOE_PYTHON).

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::readers::{cents, python};
use crate::Lakehouse;

/// The Silver query each model stands for, computed by DuckDB.
pub const DAILY_REVENUE_IN_DUCKDB: &str = "SELECT CAST(ts AS DATE) AS day, merchant_id, \
     COALESCE(category, 'unknown') AS category, currency, COUNT(*) AS transactions, \
     SUM(amount) AS revenue FROM silver.transactions WHERE status = 'settled' GROUP BY ALL";
pub const CURRENCY_TOTALS_IN_DUCKDB: &str = "SELECT CAST(ts AS DATE) AS day, currency, \
     COUNT(*) AS transactions, SUM(amount) AS revenue, COUNT(DISTINCT merchant_id) AS merchants \
     FROM silver.transactions WHERE status = 'settled' GROUP BY ALL";

/// DuckDB's answer to `sql` over `tables` of the lakehouse's catalog.
pub fn duckdb(lake: &Lakehouse, tables: &[&str], sql: &str) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/duckdb_sql.py");
    let mut command = Command::new(python());
    command
        .arg(script)
        .arg("--catalog-db")
        .arg(lake.catalog_db());
    for t in tables {
        command.args(["--table", t]);
    }
    let out = command
        .args(["--sql", sql])
        .output()
        .expect("run duckdb_sql.py");
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Floe's own answer (`floe-coordinator sql --json`).
pub fn floe_sql(lake: &Lakehouse, sql: &str, as_of: Option<&str>) -> Vec<Value> {
    let mut args = vec!["sql", sql, "--json"];
    if let Some(a) = as_of {
        args.extend(["--as-of", a]);
    }
    lake.cli_json(&args).as_array().unwrap().clone()
}

/// Rows as comparable text: numbers and decimal strings become cents or
/// integers, so `12.5`, `"12.50"` and `12.50` are one value.
pub fn normalized(rows: &[Value], money: &[&str]) -> BTreeSet<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut fields: Vec<(String, String)> = r
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let text = if money.contains(&k.as_str()) {
                        cents(&text).to_string()
                    } else {
                        text
                    };
                    (k.clone(), text)
                })
                .collect();
            fields.sort();
            fields
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        })
        .collect()
}

/// Both Gold tables equal DuckDB's aggregates over Silver, and DuckDB reads
/// the Gold table Floe wrote with the same answer.
pub fn assert_gold_equals_duckdb(lake: &Lakehouse) {
    let gold = floe_sql(lake, "SELECT * FROM gold.daily_revenue", None);
    let expected = duckdb(lake, &["silver.transactions"], DAILY_REVENUE_IN_DUCKDB);
    assert!(!gold.is_empty());
    assert_eq!(
        normalized(&gold, &["revenue"]),
        normalized(&expected, &["revenue"])
    );
    // DuckDB reads the Gold table Floe wrote, with the same answer.
    let read = duckdb(
        lake,
        &["gold.daily_revenue"],
        "SELECT * FROM gold.daily_revenue",
    );
    assert_eq!(
        normalized(&read, &["revenue"]),
        normalized(&expected, &["revenue"])
    );

    let totals = floe_sql(lake, "SELECT * FROM gold.daily_currency_totals", None);
    let expected = duckdb(lake, &["silver.transactions"], CURRENCY_TOTALS_IN_DUCKDB);
    assert_eq!(
        normalized(&totals, &["revenue"]),
        normalized(&expected, &["revenue"])
    );
}
