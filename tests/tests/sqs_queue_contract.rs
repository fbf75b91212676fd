//! The queue contract suite against SqsQueue, with the real AWS SDK talking to a
//! moto server on loopback (one per test process, a fresh queue pair per test);
//! `old_receipts_never_touch_a_redelivery` is skipped: it is beyond SQS. Then the
//! launcher's Glue patch: UpdateTable with a stale VersionId is refused.
//!
//! Needs FLOE_PYTHON (set by scripts/test.sh) naming a Python with moto.

use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_glue::types::{DatabaseInput, TableInput};
use floe_queue::contract_tests::{self as suite, MAX_RECEIVES};
use floe_queue::sqs::SqsQueue;
use floe_queue::{Receipt, TaskQueue};
use floe_tests::moto::Moto;

static MOTO: OnceLock<Moto> = OnceLock::new();

fn moto() -> &'static Moto {
    MOTO.get_or_init(Moto::start)
}

async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto().sdk_config().await)
}

/// A new queue and dead letter queue named after the test.
async fn fresh_queue(test: &str) -> SqsQueue {
    let name = format!("floe-{}", test.replace('_', "-"));
    SqsQueue::create(sqs_client().await, &name, MAX_RECEIVES)
        .await
        .expect("create queue")
}

macro_rules! contract_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let queue = fresh_queue(stringify!($name)).await;
            suite::$name(&queue).await;
        }
    };
}

contract_test!(send_then_receive);
contract_test!(hidden_until_visibility_expires);
contract_test!(extend_keeps_message_hidden);
contract_test!(stale_receipts_are_refused);
// Skipped: old_receipts_never_touch_a_redelivery (beyond SQS: moto, like SQS,
// accepts any receipt a message ever had).
contract_test!(delete_removes_for_good);
contract_test!(release_makes_visible_at_once);
contract_test!(long_poll_returns_on_arrival);
contract_test!(long_poll_times_out_empty);
contract_test!(concurrent_receivers_never_share);
contract_test!(max_receives_dead_letters);
contract_test!(refused_messages_are_dead_lettered_at_once);
contract_test!(depth_counts_messages);

/// More than 10 bodies take several SendMessageBatch calls and keep their order;
/// `receive` of more than 10 makes several calls; bad settings are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_beyond_ten_and_bad_settings() {
    let queue = fresh_queue("batches").await;
    let bodies: Vec<String> = (0..25).map(|i| format!("{{\"n\":{i}}}")).collect();
    let ids = queue.send_batch(&bodies).await.unwrap();
    assert_eq!(ids.len(), 25);
    let mut got = Vec::new();
    for _ in 0..20 {
        if got.len() == 25 {
            break;
        }
        let want = 25 - got.len();
        got.extend(
            queue
                .receive(want, Duration::from_secs(30), Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    let by_id: std::collections::HashMap<_, _> = got
        .iter()
        .map(|d| (d.message_id.clone(), d.body.clone()))
        .collect();
    let expected: std::collections::HashMap<_, _> = ids.into_iter().zip(bodies).collect();
    assert_eq!(by_id, expected, "ids in the order of the bodies");

    let err = SqsQueue::create(sqs_client().await, "floe-zero", 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_receives"), "{err}");
    let big = "x".repeat(floe_queue::MAX_BODY_BYTES + 1);
    let err = queue.send_batch(&[big]).await.unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("limit"),
        "{err}"
    );
}

/// A missing queue is a non-retryable failure, an endpoint that refuses
/// connections a retryable one; neither message shows the credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_classified_and_hide_credentials() {
    let secret = "floe-secret-do-not-print";
    let config = |endpoint: &str| {
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "floe-key-id",
                secret,
                None,
                None,
                "test",
            ))
            .endpoint_url(endpoint)
            .build()
    };
    let client = aws_sdk_sqs::Client::from_conf(config(&moto().endpoint));
    let missing = format!("{}/123456789012/floe-no-such-queue", moto().endpoint);
    let queue = SqsQueue::new(client, missing.clone(), missing);
    let err = queue.send_batch(&["x".into()]).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    let err = queue
        .extend(&Receipt("r".into()), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(!format!("{err} {err:?}").contains(secret), "{err:?}");

    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = aws_sdk_sqs::Client::from_conf(config(&endpoint));
    let url = format!("{endpoint}/123456789012/q");
    let queue = SqsQueue::new(client, url.clone(), url);
    let err = queue.depth().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(
        !format!("{err} {err:?} {queue:?}").contains(secret),
        "{err:?}"
    );
}

/// The moto launcher makes Glue UpdateTable honour VersionId: an update with the
/// current version succeeds, a second one with the same (now stale) version fails
/// with ConcurrentModificationException and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glue_update_table_enforces_version_id() {
    let glue = aws_sdk_glue::Client::new(&moto().sdk_config().await);
    let (db, table) = ("floe_glue_versions", "t");
    glue.create_database()
        .database_input(DatabaseInput::builder().name(db).build().unwrap())
        .send()
        .await
        .unwrap();
    let input = |location: &str| {
        TableInput::builder()
            .name(table)
            .parameters("metadata_location", location)
            .build()
            .unwrap()
    };
    glue.create_table()
        .database_name(db)
        .table_input(input("v1"))
        .send()
        .await
        .unwrap();
    let get = || async {
        glue.get_table()
            .database_name(db)
            .name(table)
            .send()
            .await
            .unwrap()
            .table
            .expect("table")
    };
    let version = get().await.version_id.expect("VersionId");

    glue.update_table()
        .database_name(db)
        .table_input(input("v2"))
        .version_id(&version)
        .send()
        .await
        .expect("update with the current VersionId");
    let err = glue
        .update_table()
        .database_name(db)
        .table_input(input("v2-lost"))
        .version_id(&version)
        .send()
        .await
        .expect_err("update with a stale VersionId must fail");
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_concurrent_modification_exception()),
        "{}",
        aws_sdk_glue::error::DisplayErrorContext(&err)
    );

    let now = get().await;
    assert_ne!(now.version_id.as_deref(), Some(version.as_str()));
    let location = now
        .parameters
        .as_ref()
        .and_then(|p| p.get("metadata_location"))
        .map(String::as_str);
    assert_eq!(location, Some("v2"), "the refused update changed nothing");
}
