//! Continuous loads with real processes on loopback: registered pipelines
//! that the coordinator loads by itself, with nobody typing `submit`.

use std::time::{Duration, Instant};

use chrono::{Datelike, Timelike, Utc};
use floe_sample::SampleConfig;
use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::*;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Today (UTC), at least two minutes before midnight, so the ticks this test
/// waits for all load the same day.
fn a_day_with_minutes_left() -> chrono::NaiveDate {
    let now = Utc::now();
    let left = 86_400 - now.num_seconds_from_midnight();
    if left < 120 {
        std::thread::sleep(Duration::from_secs(left as u64 + 2));
    }
    Utc::now().date_naive()
}

/// A registered pipeline whose contract has a `[schedule]` is loaded by the
/// coordinator at its tick: the run says its schedule started it and which
/// registered version it ran, and accounts for every row of the day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_pipeline_is_loaded_at_its_tick_without_a_submit() {
    let today = a_day_with_minutes_left();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&SampleConfig {
        year: today.year(),
        month: today.month(),
        ..small_sample(3_100)
    });
    let day = today.format("%Y-%m-%d").to_string();
    let text = std::fs::read_to_string(contract_path()).unwrap();
    let contract = lake.dir.path().join("scheduled.toml");
    std::fs::write(
        &contract,
        format!("{text}\n[schedule]\ncron = \"* * * * *\"\ntimezone = \"UTC\"\nload = \"today\"\n"),
    )
    .unwrap();
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.coordinator_args = vec!["--schedule-tick-seconds".into(), "1".into()];
    cluster.start_coordinator();
    cluster.start_worker();
    let applied = cluster.cli(&["pipeline", "apply", contract.to_str().unwrap()]);
    assert!(applied.status.success(), "{applied:?}");

    // The next minute's tick: at most a minute away.
    let started = Instant::now();
    let scheduled = loop {
        let runs: Value = serde_json::from_slice(&cluster.cli(&["runs", "--json"]).stdout).unwrap();
        if let Some(run) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["trigger"] == "schedule")
        {
            break run.clone();
        }
        assert!(started.elapsed() < TIMEOUT, "no scheduled run: {runs:#}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(scheduled["period"], day.as_str());
    assert_eq!(scheduled["pipeline_version"], 1);
    let tick = scheduled["scheduled_for_ms"].as_i64().unwrap();
    assert_eq!(tick % 60_000, 0, "a tick is on the minute");
    let run = cluster.wait_for_run(scheduled["run_id"].as_str().unwrap(), TIMEOUT);
    assert_run_totals(&run, &truth, &[&day]);
    assert_tables_match(lake.catalog.as_ref(), &truth, &[&day]).await;

    let list: Value =
        serde_json::from_slice(&cluster.cli(&["pipeline", "list", "--json"]).stdout).unwrap();
    let schedule = &list[0]["schedule"];
    assert_eq!(schedule["describe"], "* * * * * UTC, loads today");
    assert!(
        schedule["last_fired_ms"].as_i64().unwrap() >= tick,
        "{schedule:#}"
    );
    assert!(
        schedule["next_tick_ms"].as_i64().unwrap() > tick,
        "{schedule:#}"
    );
    // One run per tick, whatever the coordinator's checks in between.
    let runs: Value = serde_json::from_slice(&cluster.cli(&["runs", "--json"]).stdout).unwrap();
    let mut ticks: Vec<i64> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["scheduled_for_ms"].as_i64())
        .collect();
    let fired = ticks.len();
    ticks.dedup();
    assert_eq!(ticks.len(), fired, "{runs:#}");
}

/// Moves `file` (relative to Bronze) from `staging` into Bronze the way an
/// upstream writer should: written aside, then renamed into place.
fn land(staging: &std::path::Path, bronze: &std::path::Path, file: &str) {
    let to = bronze.join(file);
    let aside = to.with_extension("landing");
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(staging.join(file), &aside).unwrap();
    std::fs::rename(&aside, &to).unwrap();
}

/// The append runs, oldest first, once `n` exist and all finished.
fn wait_for_appends(cluster: &Cluster, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let runs: Value = serde_json::from_slice(&cluster.cli(&["runs", "--json"]).stdout).unwrap();
        let mut appends: Vec<Value> = runs
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "append")
            .cloned()
            .collect();
        if appends.len() >= n && appends.iter().all(|r| r["state"] != "running") {
            appends.reverse();
            return appends;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "waiting for {n} append runs: {runs:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A continuous pipeline (`source.poll`) appends each file that lands, once:
/// across files (the dedupe key holds across appends), across a coordinator
/// killed while a file waits its window, and beside a reload of the day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_landing_in_bronze_are_appended_once_each_by_a_continuous_pipeline() {
    let today = a_day_with_minutes_left();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&SampleConfig {
        year: today.year(),
        month: today.month(),
        files_per_day: 3,
        duplicate_rate: 0.05,
        ..small_sample(6_200)
    });
    let day = today.format("%Y-%m-%d").to_string();
    let files = truth.days[&day].files.clone();
    let staging = lake.dir.path().join("staging");
    for f in &files {
        std::fs::create_dir_all(staging.join(f).parent().unwrap()).unwrap();
        std::fs::rename(lake.bronze().join(f), staging.join(f)).unwrap();
    }
    let text = std::fs::read_to_string(contract_path()).unwrap().replacen(
        "location = \"transactions/date={date}/*.csv\"",
        "location = \"transactions/date={date}/*.csv\"\npoll = \"1s\"\npoll_days = 1\nwindow = \"3s\"",
        1,
    ) + "\n[freshness]\npartition_by = \"06:00\"\nmax_age = \"1h\"\n";
    let contract = lake.dir.path().join("continuous.toml");
    std::fs::write(&contract, text).unwrap();
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.start_coordinator();
    cluster.start_worker();
    let applied = cluster.cli(&["pipeline", "apply", contract.to_str().unwrap()]);
    assert!(applied.status.success(), "{applied:?}");

    land(&staging, &lake.bronze(), &files[0]);
    let appends = wait_for_appends(&cluster, 1);
    assert_eq!(appends[0]["trigger"], "new-files");
    land(&staging, &lake.bronze(), &files[1]);
    wait_for_appends(&cluster, 2);
    // Killed once the third file was seen (polled every second) and before
    // its 3s window ends: it waits in the ledger.
    land(&staging, &lake.bronze(), &files[2]);
    std::thread::sleep(Duration::from_millis(1_600));
    cluster.kill_coordinator();
    cluster.start_coordinator();
    let appends = wait_for_appends(&cluster, 3);
    assert_eq!(appends.len(), 3, "one append per file: {appends:#?}");
    let mut rows_in = 0;
    for a in &appends {
        let run = cluster.status(a["run_id"].as_str().unwrap()).unwrap();
        assert_eq!(run["state"], "succeeded", "{run:#}");
        rows_in += run["rows"]["rows_in"].as_u64().unwrap();
    }
    assert_eq!(rows_in, truth.days[&day].counts.rows);
    assert_tables_match(lake.catalog.as_ref(), &truth, &[&day]).await;
    let list: Value =
        serde_json::from_slice(&cluster.cli(&["pipeline", "list", "--json"]).stdout).unwrap();
    let freshness = &list[0]["freshness"];
    assert_eq!(freshness["newest_partition"], day.as_str(), "{freshness:#}");
    assert!(
        freshness["newest_file_ms"].as_i64().is_some(),
        "{freshness:#}"
    );
    assert_eq!(
        (freshness["expected"].clone(), freshness["missed"].clone()),
        (Value::Bool(true), serde_json::json!([]))
    );

    // A reload of the day takes the files over; nothing is appended again.
    let reload = cluster.cli(&["submit", "--date", &day, "--json"]);
    assert!(reload.status.success(), "{reload:?}");
    let reload: Value = serde_json::from_slice(&reload.stdout).unwrap();
    let run = cluster.wait_for_run(reload["run_id"].as_str().unwrap(), TIMEOUT);
    assert_run_totals(&run, &truth, &[&day]);
    let status = cluster.cli(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    let line = format!("pipeline transactions: newest partition {day}, last load ");
    assert!(
        text.contains(&line) && text.contains("fresh as its contract expects"),
        "{text}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(wait_for_appends(&cluster, 3).len(), 3);
    assert_tables_match(lake.catalog.as_ref(), &truth, &[&day]).await;
}

/// Puts `file` (relative to Bronze) into `s3://lake/bronze/`.
async fn put_bronze(moto: &floe_tests::moto::Moto, lake: &Lakehouse, file: &str) {
    let s3 = floe_lake::aws::s3_client(&moto.sdk_config().await);
    let body = std::fs::read(lake.bronze().join(file)).unwrap();
    s3.put_object()
        .bucket(BUCKET)
        .key(format!("bronze/{file}"))
        .body(aws_sdk_s3::primitives::ByteStream::from(body))
        .send()
        .await
        .unwrap();
}

const BUCKET: &str = "lake";

/// `source.events` on moto: the Bronze bucket notifies an SQS queue of each
/// object created, and the coordinator appends each notified file once: a
/// notification delivered twice, and a coordinator killed while a file waits
/// its window, load nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_notifications_append_each_new_object_once() {
    use floe_tests::moto::Moto;
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&SampleConfig {
        files_per_day: 3,
        duplicate_rate: 0.05,
        ..small_sample(6_200)
    });
    const DAY: &str = "2025-01-07";
    let files = truth.days[DAY].files.clone();
    let mut cluster = moto.cluster(&lake, BUCKET, "floe-events-tasks").await;
    cluster.bronze = Some(format!("s3://{BUCKET}/bronze"));
    let sdk = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let events = sqs
        .create_queue()
        .queue_name("bronze-events")
        .send()
        .await
        .unwrap();
    let events_url = events.queue_url().unwrap().to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&events_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let s3 = floe_lake::aws::s3_client(&sdk);
    let notify = aws_sdk_s3::types::QueueConfiguration::builder()
        .queue_arn(arn)
        .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(BUCKET)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(notify)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let text = std::fs::read_to_string(contract_path()).unwrap().replacen(
        "location = \"transactions/date={date}/*.csv\"",
        "location = \"transactions/date={date}/*.csv\"\nevents = \"bronze-events\"\nwindow = \"3s\"",
        1,
    );
    let contract = lake.dir.path().join("events.toml");
    std::fs::write(&contract, text).unwrap();
    cluster.start_coordinator();
    cluster.start_worker();
    let applied = cluster.cli(&["pipeline", "apply", contract.to_str().unwrap()]);
    assert!(applied.status.success(), "{applied:?}");

    put_bronze(&moto, &lake, &files[0]).await;
    wait_for_appends(&cluster, 1);
    // The same notification again (S3 delivers at least once): nothing new.
    let duplicate = serde_json::json!({"Records": [{
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": format!("bronze/{}", files[0])}}
    }]});
    sqs.send_message()
        .queue_url(&events_url)
        .message_body(duplicate.to_string())
        .send()
        .await
        .unwrap();
    put_bronze(&moto, &lake, &files[1]).await;
    wait_for_appends(&cluster, 2);
    // Killed while the third file waits its window: its record is durable.
    put_bronze(&moto, &lake, &files[2]).await;
    std::thread::sleep(Duration::from_millis(1_500));
    cluster.kill_coordinator();
    cluster.start_coordinator();
    let appends = wait_for_appends(&cluster, 3);
    std::thread::sleep(Duration::from_secs(4));
    let appends_after = wait_for_appends(&cluster, 3);
    assert_eq!(appends_after.len(), 3, "one append per file: {appends:#?}");
    let mut rows_in = 0;
    for a in &appends_after {
        let run = cluster.status(a["run_id"].as_str().unwrap()).unwrap();
        assert_eq!(run["state"], "succeeded", "{run:#}");
        rows_in += run["rows"]["rows_in"].as_u64().unwrap();
    }
    assert_eq!(rows_in, truth.days[DAY].counts.rows);
    let catalog = moto.glue_catalog(BUCKET).await;
    assert_tables_match(&catalog, &truth, &[DAY]).await;
}
