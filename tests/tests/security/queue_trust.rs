//! Workers do not trust the queue: a message the coordinator did not sign is
//! dead-lettered unread, and a signed task is still checked before it runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use floe_common::task::{GoldTask, SigningKeys, TaskMessage};
use floe_lake::{RunId, TaskId};
use floe_queue::sqs::SqsQueue;
use floe_queue::TaskQueue;
use floe_tests::checks::contract_path;
use floe_tests::moto::Moto;
use floe_tests::scrape::{free_port, sample, scrape};
use floe_tests::Lakehouse;

/// The example contract without its models, plus `models`.
pub fn contract_with_models(models: &str) -> String {
    let text = std::fs::read_to_string(contract_path()).unwrap();
    let base = text.split("\n[[models]]").next().unwrap().to_string();
    format!("{base}\n{models}")
}

/// The model `owned` whose SQL is `sql`.
fn model_owned(sql: &str) -> String {
    format!(
        "[[models]]\nname = \"owned\"\ntable = \"gold.owned\"\npartition = \"identity(day)\"\nsql = \"\"\"\n{sql}\n\"\"\"\n"
    )
}

/// A model that writes a file when run, which no check may let through.
pub fn writing_model(target: &Path) -> String {
    model_owned(&format!(
        "EXPLAIN ANALYZE COPY (VALUES ('owned')) TO '{}' STORED AS CSV",
        target.display()
    ))
}

fn task(contract_text: String, inputs: Vec<String>) -> TaskMessage {
    TaskMessage {
        run_id: RunId::new("run-forged"),
        task_id: TaskId::new(format!("task-{}", uuid::Uuid::new_v4().simple())),
        contract: None,
        contract_text,
        contract_origin: "forged.toml".into(),
        inputs,
        fingerprints: Default::default(),
        ranges: Default::default(),
        partition: Some("2025-01-02".into()),
        trace_context: Default::default(),
        gold: None,
        dedupe: None,
        pass: None,
        append: false,
        staged: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_forged_messages_are_dead_lettered_without_reading_a_file() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let queue_name = "floe-trust";
    let mut cluster = moto.cluster(&lake, "lake", queue_name).await;
    let sdk = moto.sdk_config().await;
    let queue = SqsQueue::create(aws_sdk_sqs::Client::new(&sdk), queue_name, 2)
        .await
        .unwrap();
    // No coordinator: a worker on SQS refuses messages without one.
    cluster.addr = "127.0.0.1:9".into();
    let port = free_port();
    // Its Bronze root is the lakehouse's (Cluster sets FLOE_BRONZE_ROOT).
    cluster.worker_env = vec![("FLOE_METRICS_LISTEN".into(), format!("127.0.0.1:{port}"))];
    cluster.start_worker();

    let secret = lake.dir.path().join("secret.txt");
    std::fs::write(&secret, "PLANTED-SECRET-LINE\n").unwrap();
    let contract = std::fs::read_to_string(contract_path()).unwrap();
    let reads_secret = task(contract.clone(), vec![secret.display().to_string()]);
    let key = cluster.signing_key.clone().unwrap();
    let ours = SigningKeys::parse(&key).unwrap();
    let theirs = SigningKeys::parse("an-attacker-key-0123456789abcdef0123").unwrap();
    // Signed with our key for a harmless input, then pointed at the secret.
    let harmless = lake.bronze().join("transactions/2025-01-02/x.csv");
    let mut innocent = reads_secret.clone();
    innocent.inputs = vec![harmless.display().to_string()];
    let altered = ours.seal(&innocent).replace(
        &harmless.display().to_string(),
        &secret.display().to_string(),
    );
    // Correctly signed, as if the coordinator had been fooled: the worker
    // checks the model again and refuses it.
    let owned = lake.dir.path().join("owned.csv");
    let mut gold = task(contract_with_models(&writing_model(&owned)), vec![]);
    gold.gold = Some(GoldTask {
        model: "owned".into(),
        pins: Default::default(),
    });
    let sent = vec![
        reads_secret.to_json(),
        theirs.seal(&reads_secret),
        altered,
        ours.seal(&gold),
    ];
    queue.send_batch(&sent).await.unwrap();

    let mut dead = BTreeSet::new();
    let started = Instant::now();
    while dead.len() < sent.len() && started.elapsed() < Duration::from_secs(90) {
        for letter in queue.take_dead_letters(10).await.unwrap() {
            dead.insert(letter.body);
        }
    }
    assert_eq!(
        dead,
        sent.iter().cloned().collect(),
        "every message is dead-lettered"
    );
    let metrics = scrape(port);
    for reason in ["unsigned", "unknown_key", "bad_signature"] {
        let name = format!("floe_messages_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&metrics, &name), 1.0, "{reason}:\n{metrics}");
    }
    cluster.terminate_worker(0);
    let log = std::fs::read_to_string(lake.dir.path().join("logs/worker-0.log")).unwrap();
    assert_eq!(log.matches("refusing a queue message").count(), 3, "{log}");
    // The refused messages never became tasks: nothing named the secret file.
    assert!(
        !log.contains("secret.txt") && !log.contains("PLANTED-SECRET-LINE"),
        "{log}"
    );
    // The signed Gold task failed on its model, not by running it.
    assert!(
        log.contains("its SQL is a EXPLAIN ANALYZE statement"),
        "{log}"
    );
    assert!(!owned.exists(), "the model wrote {}", owned.display());
}

/// The worker's own check, on each statement kind the issue of read-only SQL
/// names: a Gold task whose contract carries such a model (as a forged or
/// altered message would) fails on the model before anything runs, without a
/// retry, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_every_writing_statement_in_a_forged_gold_task() {
    let lake = Lakehouse::new().await;
    let env = floe_common::task::TaskEnv::new(lake.catalog.clone());
    let owned = lake.dir.path().join("owned.csv");
    let at = owned.display();
    let statements = [
        (
            "COPY",
            format!("COPY (VALUES ('owned')) TO '{at}' STORED AS CSV"),
        ),
        (
            "EXPLAIN ANALYZE",
            format!("EXPLAIN ANALYZE COPY (VALUES ('owned')) TO '{at}' STORED AS CSV"),
        ),
        (
            "CREATE EXTERNAL TABLE",
            format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{at}'"),
        ),
        (
            "CREATE TABLE",
            "CREATE TABLE gold.t AS SELECT 1 AS day".to_string(),
        ),
        (
            "INSERT INTO",
            "INSERT INTO silver.transactions SELECT * FROM silver.transactions".to_string(),
        ),
        ("SET", "SET datafusion.execution.batch_size = 1".to_string()),
    ];
    for (kind, sql) in statements {
        let mut message = task(contract_with_models(&model_owned(&sql)), vec![]);
        message.gold = Some(GoldTask {
            model: "owned".into(),
            pins: Default::default(),
        });
        let contract = floe_common::contract::Contract::parse(
            &message.contract_text,
            std::path::Path::new(&message.contract_origin),
        )
        .unwrap();
        let spec = message.into_spec(1, std::sync::Arc::new(contract));
        let limits = floe_gold::Limits::default();
        let e = floe_gold::run_gold_task(&env, &spec, &limits)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(&format!("model `owned`: its SQL is a {kind} statement")),
            "{kind}: {text}"
        );
        assert!(!e.is_retryable(), "{kind}");
        assert!(!owned.exists(), "{kind} wrote {at}");
    }
}
