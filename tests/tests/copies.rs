//! A byte-identical file landed twice — under another name, or in another
//! day's folder, as upstream systems resend — is loaded once, and the run names
//! the copy and what it repeats.

use std::time::Duration;

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_file_is_loaded_once_and_named_in_the_summary() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let days = ["2025-01-01", "2025-01-02", "2025-01-03"];
    let original = lake.bronze().join(&truth.days[days[1]].files[0]);
    let renamed = original.with_file_name("part-00000.resent.csv");
    std::fs::copy(&original, &renamed).unwrap();
    let elsewhere = lake
        .bronze()
        .join(&truth.days[days[2]].files[0])
        .with_file_name("part-99999.csv");
    std::fs::copy(&original, &elsewhere).unwrap();

    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let period = ["--from", days[0], "--to", days[2]];
    let explain = cluster.cli(&[
        "submit",
        "--pipeline",
        contract_path().to_str().unwrap(),
        "--from",
        days[0],
        "--to",
        days[2],
        "--explain",
    ]);
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains(&format!(
            "skipped: {} is a byte-identical copy of {}",
            renamed.display(),
            original.display()
        )),
        "{text}"
    );
    let run_id = cluster.submit(&contract_path(), &period);
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(120));
    assert_run_totals(&run, &truth, &days);
    let skipped = run["skipped_files"].as_array().unwrap();
    let pairs: Vec<(String, String)> = skipped
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap().to_string(),
                s["duplicate_of"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let show = |p: &std::path::Path| p.display().to_string();
    assert_eq!(
        pairs,
        [
            (show(&renamed), show(&original)),
            (show(&elsewhere), show(&original)),
        ]
    );
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;
}
