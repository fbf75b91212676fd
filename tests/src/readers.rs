//! Other engines as readers: `py/read_iceberg.py` runs PyIceberg or DuckDB over a
//! table (in the SQLite catalog of a [`Lakehouse`], or in Glue on a moto server)
//! and prints what it read as JSON.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::moto::Moto;
use crate::{Lakehouse, CATALOG_NAME};

/// Both engines the tests read with.
pub const ENGINES: [&str; 2] = ["pyiceberg", "duckdb"];

/// The Python with PyIceberg, DuckDB and moto: `$FLOE_PYTHON` when set (as
/// `scripts/test.sh` sets it), otherwise the project's venv, which
/// `scripts/python-env.sh` prepares once per test process (it installs only what
/// changed, and serialises concurrent callers), so plain `cargo test` works.
pub fn python() -> String {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON
        .get_or_init(|| std::env::var("FLOE_PYTHON").unwrap_or_else(|_| prepare_python_env()))
        .clone()
}

fn prepare_python_env() -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/python-env.sh");
    let out = Command::new("bash")
        .arg(script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().last() {
        Some(path) if out.status.success() && !path.trim().is_empty() => path.trim().to_string(),
        _ => panic!(
            "FLOE_PYTHON is not set and {script} could not prepare the Python venv with \
             PyIceberg, DuckDB and moto ({}): see its messages above, or set FLOE_PYTHON \
             to a Python that has scripts/requirements-test.txt installed",
            out.status
        ),
    }
}

/// Where the other engines find the catalog.
pub enum Readers<'a> {
    Sql(&'a Lakehouse),
    /// A moto server serving Glue and S3.
    Glue(&'a Moto),
}

/// Reads `table` (at `snapshot`, or its current snapshot) with `engine`: rows and
/// sum(amount) per UTC day of `ts`, plus the snapshot list.
pub fn read(readers: &Readers, engine: &str, table: &str, snapshot: Option<i64>) -> Value {
    let per_day = ["--group-by-day-of", "ts", "--sum", "amount"];
    read_with(readers, engine, table, snapshot, &per_day)
}

/// Reads the current snapshot of `table` with `engine`: rows and the sum of `column`.
pub fn read_sum(readers: &Readers, engine: &str, table: &str, column: &str) -> Value {
    read_with(readers, engine, table, None, &["--sum", column])
}

fn read_with(
    readers: &Readers,
    engine: &str,
    table: &str,
    snapshot: Option<i64>,
    what: &[&str],
) -> Value {
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
    match readers {
        Readers::Sql(lake) => command
            .arg("--catalog-db")
            .arg(lake.catalog_db())
            .arg("--warehouse")
            .arg(lake.warehouse()),
        Readers::Glue(moto) => command.args(["--glue-endpoint", &moto.endpoint]),
    };
    if let Some(id) = snapshot {
        command.args(["--snapshot-id", &id.to_string()]);
    }
    let out = command.args(what).output().expect("run read_iceberg.py");
    assert!(
        out.status.success(),
        "{engine} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from read_iceberg.py")
}

/// Both engines read `expected` (rows and cents per day) from `table` at `snapshot`.
pub fn assert_engines_read(
    readers: &Readers,
    table: &str,
    snapshot: Option<i64>,
    expected: &BTreeMap<String, (u64, i64)>,
) {
    for engine in ENGINES {
        let answer = read(readers, engine, table, snapshot);
        assert_eq!(&per_day(&answer), expected, "{engine} at {snapshot:?}");
    }
}

/// Rows and sum in cents per day, from what [`read`] returned.
pub fn per_day(answer: &Value) -> BTreeMap<String, (u64, i64)> {
    answer["per_day"]
        .as_object()
        .expect("per_day")
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
        .collect()
}

/// `12.34` → 1234.
pub fn cents(sum: &str) -> i64 {
    let (units, frac) = sum.split_once('.').unwrap_or((sum, "0"));
    let frac = format!("{frac:0<2}");
    units.parse::<i64>().unwrap() * 100
        + frac[..2].parse::<i64>().unwrap() * if units.starts_with('-') { -1 } else { 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cents_parses_decimal_text() {
        assert_eq!(super::cents("12.34"), 1234);
        assert_eq!(super::cents("-0.5"), -50);
        assert_eq!(super::cents("7"), 700);
    }
}
