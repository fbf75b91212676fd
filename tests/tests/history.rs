//! `floe-coordinator history`: a table's snapshots, newest first, with the run
//! and task of each and the rows it added and removed.

use floe_common::task::{run_task, TaskEnv};
use floe_lake::RunId;
use floe_tests::*;
use serde_json::Value;

const DAYS: [&str; 3] = ["2025-01-01", "2025-01-02", "2025-01-03"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_each_runs_snapshots_newest_first() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let runs = [RunId::generate(), RunId::generate()];
    for run in &runs {
        for day in DAYS {
            run_task(&env, &day_task(&lake, &contract, &truth, day, run))
                .await
                .unwrap();
        }
    }
    let history = lake.cli_json(&["history", "--table", "silver.transactions", "--json"]);
    let history: Vec<Value> = serde_json::from_value(history).unwrap();
    assert_eq!(history.len(), 6, "{history:#?}");
    assert_eq!(history[0]["current"], true);
    assert!(history[1..].iter().all(|e| e["current"] == false));
    assert!(history.iter().all(|e| e["on_main"] == true));
    // Newest first: the second run's three overwrites, then the first run's appends.
    for (i, entry) in history.iter().enumerate() {
        let (run, operation) = if i < 3 {
            (&runs[1], "overwrite")
        } else {
            (&runs[0], "append")
        };
        assert_eq!(entry["run_id"], run.as_str(), "{entry:#}");
        assert_eq!(entry["operation"], operation, "{entry:#}");
        let task = entry["task_id"].as_str().unwrap();
        let day = DAYS.iter().find(|d| task.ends_with(*d)).unwrap();
        let valid = truth.days[*day].counts.valid;
        assert_eq!(entry["rows_added"], valid, "{entry:#}");
        let removed = if i < 3 { valid } else { 0 };
        assert_eq!(entry["rows_removed"], removed, "{entry:#}");
        if i + 1 < history.len() {
            assert_eq!(entry["parent_id"], history[i + 1]["snapshot_id"]);
        }
    }
}

/// The text of line `line` (1-based) of a Bronze file.
fn bronze_line(file: &str, line: u64) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines().nth(line as usize - 1).unwrap().to_string()
}

/// Silver's data files store `_floe_source_line` as deltas: a fraction of a
/// byte per row instead of eight.
fn assert_line_numbers_are_delta_encoded(warehouse: &std::path::Path) {
    use parquet::basic::Encoding;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut files = Vec::new();
    let mut dirs = vec![warehouse.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet")
                && path.to_string_lossy().contains("transactions/data")
            {
                files.push(path);
            }
        }
    }
    assert!(!files.is_empty());
    for path in files {
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        let i = (0..schema.num_columns())
            .find(|&i| schema.column(i).name() == "_floe_source_line")
            .expect("a line column");
        for group in meta.row_groups() {
            let encodings: Vec<Encoding> = group.column(i).encodings().collect();
            assert!(
                encodings.contains(&Encoding::DELTA_BINARY_PACKED),
                "{path:?}: {encodings:?}"
            );
        }
    }
}

/// The first CSV field of a raw line: the sample's transaction id.
fn first_field(raw: &str) -> &str {
    raw.split(',').next().unwrap()
}

/// Every Silver row's lineage points at the Bronze line it was read from, and
/// `trace` finds a valid, a quarantined and a condemned key where they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_leads_every_silver_row_to_its_bronze_line_and_trace_finds_keys() {
    use arrow_array::{Int32Array, Int64Array, StringArray};
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let contract = example_contract();
    let env = TaskEnv::new(lake.catalog.clone());
    let run = RunId::generate();
    for day in &DAYS[..2] {
        run_task(&env, &day_task(&lake, &contract, &truth, day, &run))
            .await
            .unwrap();
    }
    let silver = scan(lake.catalog.as_ref(), &contract.target.table).await;
    let mut checked = 0;
    for b in &silver {
        let ids = column::<StringArray>(b, "transaction_id");
        let files = column::<StringArray>(b, "_floe_source_file");
        let lines = column::<Int64Array>(b, "_floe_source_line");
        let runs = column::<StringArray>(b, "_floe_run_id");
        let attempts = column::<Int32Array>(b, "_floe_attempt");
        for r in 0..b.num_rows() {
            let line = bronze_line(files.value(r), lines.value(r) as u64);
            assert_eq!(
                first_field(&line),
                ids.value(r),
                "{}:{}",
                files.value(r),
                lines.value(r)
            );
            assert_eq!(runs.value(r), run.as_str());
            assert_eq!(attempts.value(r), 1);
            checked += 1;
        }
    }
    let valid: u64 = DAYS[..2].iter().map(|d| truth.days[*d].counts.valid).sum();
    assert_eq!(checked, valid);
    assert_line_numbers_are_delta_encoded(&lake.warehouse());

    // A valid key: its Bronze line, run, task and the snapshot that committed it.
    let b = &silver[0];
    let key = column::<StringArray>(b, "transaction_id").value(0);
    let found = lake.cli_json(&[
        "trace",
        "--table",
        "silver.transactions",
        "--key",
        key,
        "--json",
    ]);
    let row = &found["silver"][0];
    assert_eq!(found["silver"].as_array().unwrap().len(), 1, "{found:#}");
    assert_eq!(
        row["source_file"],
        column::<StringArray>(b, "_floe_source_file").value(0)
    );
    assert_eq!(
        row["line"],
        column::<Int64Array>(b, "_floe_source_line").value(0)
    );
    assert_eq!(row["run_id"], run.as_str());
    assert_eq!(row["contract_version"], "1");
    let history = lake.cli_json(&["history", "--table", "silver.transactions", "--json"]);
    let committed = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["task_id"] == row["task_id"])
        .unwrap();
    assert_eq!(row["snapshot_id"], committed["snapshot_id"]);

    // A quarantined key with a well-formed id: where it was and why.
    let quarantine = scan(lake.catalog.as_ref(), &contract.target.quarantine_table).await;
    let id_shape = regex::Regex::new("^tx_[0-9a-f]{16}$").unwrap();
    let (raw, reasons, line) = quarantine
        .iter()
        .flat_map(|b| {
            let raws = column::<StringArray>(b, "raw_line");
            let reasons = column::<StringArray>(b, "reasons");
            let lines = column::<Int64Array>(b, "line_number");
            (0..b.num_rows())
                .map(|r| {
                    (
                        raws.value(r).to_string(),
                        reasons.value(r).to_string(),
                        lines.value(r),
                    )
                })
                .collect::<Vec<_>>()
        })
        .find(|(raw, ..)| id_shape.is_match(first_field(raw)))
        .expect("a quarantined row with a well-formed id");
    let key = first_field(&raw);
    let found = lake.cli_json(&[
        "trace",
        "--table",
        "silver.transactions",
        "--key",
        key,
        "--json",
    ]);
    let hits = found["quarantined"].as_array().unwrap();
    assert!(
        hits.iter()
            .any(|h| h["why"] == reasons.as_str() && h["line"] == line),
        "{found:#}"
    );

    // A condemned key: the row kept in Silver, and the duplicate condemned.
    let condemned = scan(lake.catalog.as_ref(), &contract.target.condemned_table).await;
    let raw = column::<StringArray>(&condemned[0], "raw_line").value(0);
    let key = first_field(raw);
    let found = lake.cli_json(&[
        "trace",
        "--table",
        "silver.transactions",
        "--key",
        key,
        "--json",
    ]);
    assert_eq!(found["silver"].as_array().unwrap().len(), 1, "{found:#}");
    let dup = &found["condemned"][0];
    assert!(
        dup["why"].as_str().unwrap().starts_with("duplicate of "),
        "{found:#}"
    );

    // A key that is nowhere: said so, with exit code 1.
    let out = std::process::Command::new(cluster::binary("floe-coordinator"))
        .args([
            "trace",
            "--table",
            "silver.transactions",
            "--key",
            "tx_ffffffffffffffff",
        ])
        .arg("--lakehouse")
        .arg(lake.catalog_db().parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not found in Silver, its quarantine or its condemned table"),
        "{text}"
    );
}
