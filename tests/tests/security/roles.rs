//! Least privilege over gRPC: the worker token makes only worker calls, a
//! worker never holds the operator token, and what an operator submits is
//! checked (names, SQL, period length) before anything is recorded.

use std::process::Output;

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;

use super::queue_trust::{contract_with_models, writing_model};
use super::{stderr, TIMEOUT};

/// A `floe-coordinator` client command whose operator token is `token`.
fn cli_with_token(cluster: &Cluster, token: &str, args: &[&str]) -> Output {
    cluster
        .command("floe-coordinator")
        .args(args)
        .args(["--coordinator", &cluster.url()])
        .env("FLOE_AUTH_TOKEN", token)
        .output()
        .unwrap()
}

fn submit_refused(cluster: &Cluster, contract: &std::path::Path, period: &[&str]) -> String {
    let mut args = vec!["submit", "--pipeline", contract.to_str().unwrap()];
    args.extend_from_slice(period);
    let out = cluster.cli(&args);
    assert!(!out.status.success(), "{args:?} was accepted");
    stderr(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_makes_only_its_calls_and_submits_are_checked() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(3_100));
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let days = ["2025-01-02"];
    let run_id = cluster.submit(&contract_path(), &["--date", days[0]]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_run_totals(&run, &truth, &days);

    // The worker token on operator calls: refused, naming the role needed.
    let worker_token = cluster.worker_token.clone().unwrap();
    for args in [
        vec!["runs"],
        vec!["cancel", run_id.as_str()],
        vec!["queue"],
        vec![
            "submit",
            "--pipeline",
            contract_path().to_str().unwrap(),
            "--date",
            days[0],
        ],
        vec![
            "rollback",
            "--table",
            "silver.transactions",
            "--before-run",
            run_id.as_str(),
        ],
    ] {
        let out = cli_with_token(&cluster, &worker_token, &args);
        assert!(
            !out.status.success(),
            "{args:?} with the worker token succeeded"
        );
        let err = stderr(&out);
        assert!(
            err.contains("needs the operator token (FLOE_AUTH_TOKEN"),
            "{args:?}: {err}"
        );
        assert!(!err.contains(&worker_token), "{err}");
    }
    let runs = cluster.cli(&["runs", "--json"]);
    assert!(runs.status.success(), "{}", stderr(&runs));
    let listed: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing was submitted");
    assert_eq!(
        cluster.status(&run_id).unwrap()["state"],
        "succeeded",
        "nor cancelled"
    );

    // A worker given only the operator token refuses to start, saying why.
    let operator_only = cluster
        .command("floe-worker")
        .args(["--coordinator", &cluster.url(), "--lakehouse"])
        .arg(lake.dir.path())
        .env_remove("FLOE_WORKER_TOKEN")
        .env("FLOE_AUTH_TOKEN", cluster.auth_token.clone().unwrap())
        .output()
        .unwrap();
    assert!(!operator_only.status.success());
    let err = stderr(&operator_only);
    assert!(
        err.contains("does not use the operator token") && err.contains("FLOE_WORKER_TOKEN"),
        "{err}"
    );

    // What an operator submits is checked first; nothing is recorded.
    let dir = lake.dir.path();
    let hostile = dir.join("hostile.toml");
    let text = std::fs::read_to_string(contract_path()).unwrap();
    std::fs::write(
        &hostile,
        text.replacen("name = \"transactions\"", "name = \"../../escape\"", 1),
    )
    .unwrap();
    let err = submit_refused(&cluster, &hostile, &["--date", days[0]]);
    assert!(
        err.contains("pipeline.name") && err.contains("letters, digits"),
        "{err}"
    );

    let owned = dir.join("owned.csv");
    let writing = dir.join("writing.toml");
    std::fs::write(&writing, contract_with_models(&writing_model(&owned))).unwrap();
    let err = submit_refused(&cluster, &writing, &["--date", days[0]]);
    assert!(
        err.contains("model `owned`: its SQL is a EXPLAIN ANALYZE statement"),
        "{err}"
    );
    assert!(!owned.exists());

    let err = submit_refused(
        &cluster,
        &contract_path(),
        &["--from", "2020-01-01", "--to", "2025-01-31"],
    );
    assert!(err.contains("1858 days, more than the 366"), "{err}");

    let copy = format!("COPY (VALUES (1)) TO '{}' STORED AS CSV", owned.display());
    let sql = cluster
        .command("floe-coordinator")
        .args(["sql", "--lakehouse", dir.to_str().unwrap(), &copy])
        .output()
        .unwrap();
    assert!(!sql.status.success());
    assert!(
        stderr(&sql).contains("is a COPY statement"),
        "{}",
        stderr(&sql)
    );
    assert!(!owned.exists());

    let runs = cluster.cli(&["runs", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "no refused submit was recorded"
    );
}
