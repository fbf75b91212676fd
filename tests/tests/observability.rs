//! Prometheus `/metrics` on the coordinator and on a worker, scraped over HTTP
//! while a real run goes through: tasks by state, queue depth, workers, the
//! autoscaling signal, rows by outcome, bytes, commits.

use std::time::{Duration, Instant};

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::scrape::{free_port, sample, scrape};
use floe_tests::*;

/// Polls the coordinator's metrics until `ok` holds for them.
fn wait_for(port: u16, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let m = scrape(port);
        if ok(&m) {
            return m;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{what}:\n{m}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_and_worker_metrics_follow_a_run() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let (coordinator_port, worker_port) = (free_port(), free_port());
    let mut cluster = Cluster::new(lake.dir.path());
    // Counts are exact only if no lease runs out under a busy CI machine (a task
    // redelivered to the one worker finishes twice); nothing here tests expiry.
    cluster.visibility_seconds = 30;
    cluster.coordinator_args = vec![
        "--metrics-listen".into(),
        format!("127.0.0.1:{coordinator_port}"),
    ];
    cluster.start_coordinator();

    // No worker yet: the whole backlog is the autoscaling signal.
    let days = ["2025-01-01", "2025-01-02"];
    let run_id = cluster.submit(&contract_path(), &["--from", days[0], "--to", days[1]]);
    let m = wait_for(coordinator_port, "two waiting tasks", |m| {
        sample(m, "floe_queue_visible") == 2.0
    });
    assert_eq!(sample(&m, "floe_workers"), 0.0);
    assert_eq!(sample(&m, "floe_backlog_per_worker"), 2.0);
    // Two Silver tasks, and the four Gold tasks (two models, two days) that
    // wait in the ledger for them.
    assert_eq!(sample(&m, "floe_tasks{state=\"queued\"}"), 6.0);

    cluster.worker_env = vec![
        (
            "FLOE_METRICS_LISTEN".into(),
            format!("127.0.0.1:{worker_port}"),
        ),
        ("FLOE_LOG_FORMAT".into(), "json".into()),
    ];
    cluster.start_worker();
    let run = cluster.wait_for_run(&run_id, Duration::from_secs(120));
    assert_run_totals(&run, &truth, &days);

    let w = scrape(worker_port);
    let total = |f: fn(&floe_sample::Counts) -> u64| {
        days.iter().map(|d| f(&truth.days[*d].counts)).sum::<u64>() as f64
    };
    assert_eq!(
        sample(&w, "floe_rows_total{outcome=\"valid\"}"),
        total(|c| c.valid)
    );
    assert_eq!(
        sample(&w, "floe_rows_total{outcome=\"quarantined\"}"),
        total(|c| c.bad)
    );
    assert_eq!(
        sample(&w, "floe_rows_total{outcome=\"condemned\"}"),
        total(|c| c.duplicates)
    );
    assert_eq!(
        sample(&w, "floe_tasks_finished_total{result=\"succeeded\"}"),
        6.0
    );
    assert!(sample(&w, "floe_bytes_read_total") > 0.0);
    // Three tables per Silver task, one commit each; one per Gold task.
    assert_eq!(sample(&w, "floe_commit_seconds_count"), 2.0 * 3.0 + 4.0);

    let m = wait_for(coordinator_port, "an idle queue with one worker", |m| {
        sample(m, "floe_queue_visible") == 0.0 && sample(m, "floe_workers") == 1.0
    });
    assert_eq!(sample(&m, "floe_backlog_per_worker"), 0.0);
    // Bounded labels only: no run or task id ever becomes a label.
    for text in [&m, &w] {
        assert!(
            !text.contains("run-") && !text.contains("transactions-2025"),
            "{text}"
        );
    }

    // JSON logs: every line an object; task events carry the run and task ids
    // of their span.
    let log = std::fs::read_to_string(lake.dir.path().join("logs/worker-0.log")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let in_task: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["span"]["name"] == "task")
        .collect();
    assert!(!in_task.is_empty(), "{log}");
    for e in in_task {
        assert_eq!(e["span"]["run_id"], run_id.as_str(), "{e}");
        assert!(
            e["span"]["task_id"]
                .as_str()
                .unwrap()
                .starts_with("transactions-2025-01-0"),
            "{e}"
        );
    }
}
