//! The gRPC API's guard: a bearer token on every call and TLS, with real
//! processes; and no planted credential anywhere Floe writes (logs, errors, the
//! ledger, the queue, the tables' metadata and data, the Glue catalog).
//!
//! The moto tests need FLOE_PYTHON (set by scripts/test.sh).

mod queue_trust;
mod roles;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use floe_tests::checks::*;
use floe_tests::cluster::Cluster;
use floe_tests::moto::Moto;
use floe_tests::tls::TestCerts;
use floe_tests::*;

pub const TIMEOUT: Duration = Duration::from_secs(180);

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `floe-coordinator runs` against the cluster with only the given environment
/// (no token unless one is passed).
fn runs_as(cluster: &Cluster, env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(floe_tests::cluster::binary("floe-coordinator"));
    command
        .args(["runs", "--coordinator", &cluster.url()])
        .env_remove("FLOE_AUTH_TOKEN")
        .envs(env.iter().copied());
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_only_token_holders_are_served() {
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let certs = TestCerts::create(&lake.dir.path().join("certs"));
    let ca = certs.ca.display().to_string();
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.tls = Some(certs);
    cluster.start_coordinator();
    assert!(cluster.url().starts_with("https://"));
    cluster.start_worker();
    cluster.start_worker();
    let days = ["2025-01-02", "2025-01-03"];
    let run_id = cluster.submit(&contract_path(), &["--from", days[0], "--to", days[1]]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_run_totals(&run, &truth, &days);
    assert_tables_match(lake.catalog.as_ref(), &truth, &days).await;

    let guess = "planted-guess-7d1c";
    let no_token = runs_as(&cluster, &[("FLOE_TLS_CA", &ca)]);
    let wrong_token = runs_as(
        &cluster,
        &[("FLOE_TLS_CA", &ca), ("FLOE_AUTH_TOKEN", guess)],
    );
    for (out, reason) in [
        (&no_token, "no bearer token"),
        (&wrong_token, "wrong bearer token"),
    ] {
        assert!(!out.status.success());
        let err = stderr(out);
        assert!(
            err.contains(reason) && err.contains("FLOE_AUTH_TOKEN"),
            "{err}"
        );
        assert!(!err.contains(guess), "{err}");
    }
    // Without the CA the client does not trust the coordinator at all.
    let token = cluster.auth_token.clone().unwrap();
    let untrusted = runs_as(&cluster, &[("FLOE_AUTH_TOKEN", &token)]);
    assert!(!untrusted.status.success(), "an unknown CA was trusted");

    // A worker with the wrong token stops at once and says why.
    let worker = cluster
        .command("floe-worker")
        .args(["--coordinator", &cluster.url(), "--lakehouse"])
        .arg(lake.dir.path())
        .env("FLOE_WORKER_TOKEN", guess)
        .output()
        .unwrap();
    assert!(!worker.status.success());
    assert!(
        stderr(&worker).contains("wrong bearer token"),
        "{}",
        stderr(&worker)
    );

    // The refusals are logged with the peer, never with what was presented.
    let log = std::fs::read_to_string(lake.dir.path().join("logs/coordinator.log")).unwrap();
    assert!(log.matches("refused a gRPC call").count() >= 3, "{log}");
    assert!(log.contains("peer=127.0.0.1:"), "{log}");
    assert!(!log.contains(guess) && !log.contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_tls_coordinator_is_refused() {
    let lake = Lakehouse::new().await;
    let mut cluster = Cluster::new(lake.dir.path());
    cluster.tls = Some(TestCerts::create(&lake.dir.path().join("certs")));
    cluster.start_coordinator();
    let plain = cluster.url().replace("https://", "http://");
    let out = cluster
        .command("floe-coordinator")
        .args(["runs", "--coordinator", &plain])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Values no process may ever write down.
struct Planted {
    token: String,
    worker_token: String,
    signing_key: String,
    aws_secret: String,
    session_token: String,
}

impl Planted {
    fn new() -> Self {
        let id = uuid_like();
        Self {
            token: format!("PLANTEDtoken{id}"),
            worker_token: format!("PLANTEDworker{id}"),
            signing_key: format!("PLANTEDsigningKey{id}-padded-to-length"),
            aws_secret: format!("PLANTEDawsSecret{id}"),
            session_token: format!("PLANTEDsession{id}"),
        }
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.token,
            &self.worker_token,
            &self.signing_key,
            &self.aws_secret,
            &self.session_token,
        ]
    }

    /// Panics naming `place` if any planted value is in `bytes`.
    fn assert_absent(&self, place: &str, bytes: &[u8]) {
        for secret in self.all() {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(
                !found,
                "a planted secret ({}…) is in {place}",
                &secret[..12]
            );
        }
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn assert_no_secret_in_dir(planted: &Planted, dir: &Path) -> usize {
    let mut files = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                planted.assert_absent(&path.display().to_string(), &std::fs::read(&path).unwrap());
                files += 1;
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_credentials_appear_nowhere() {
    let moto = Moto::start();
    let lake = Lakehouse::new().await;
    let truth = lake.generate(&small_sample(6_200));
    let planted = Planted::new();
    let bucket = "lake";
    let mut cluster = moto.cluster(&lake, bucket, "floe-secrets").await;
    cluster.auth_token = Some(planted.token.clone());
    cluster.worker_token = Some(planted.worker_token.clone());
    cluster.signing_key = Some(planted.signing_key.clone());
    cluster
        .shared_env
        .retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    cluster.shared_env.extend([
        ("AWS_SECRET_ACCESS_KEY".into(), planted.aws_secret.clone()),
        ("AWS_SESSION_TOKEN".into(), planted.session_token.clone()),
        // Everything Floe and its libraries log at debug, as JSON with span fields.
        ("FLOE_LOG".into(), "debug".into()),
        ("FLOE_LOG_FORMAT".into(), "json".into()),
    ]);
    cluster.bronze = Some(moto.upload_bronze(&lake, bucket).await);
    cluster.start_coordinator();
    cluster.start_worker();
    let days = ["2025-01-02", "2025-01-03"];
    let mut outputs = Vec::new();
    let run_id = cluster.submit(&contract_path(), &["--from", days[0], "--to", days[1]]);
    let run = cluster.wait_for_run(&run_id, TIMEOUT);
    assert_run_totals(&run, &truth, &days);
    // Errors too: a refused call, a failing command, a bad period.
    outputs.push(runs_as(&cluster, &[("FLOE_AUTH_TOKEN", "not-the-token")]));
    outputs.push(cluster.cli(&["status", "no-such-run"]));
    outputs.push(cluster.cli(&[
        "submit",
        "--pipeline",
        "missing.toml",
        "--date",
        "2025-01-02",
    ]));
    outputs.push(cluster.cli(&["status", &run_id, "--json"]));
    for (i, out) in outputs.iter().enumerate() {
        planted.assert_absent(&format!("the output of command {i}"), &out.stdout);
        planted.assert_absent(&format!("the errors of command {i}"), &out.stderr);
    }

    // Logs, the ledger and the embedded state; the workers logged at debug.
    let local = assert_no_secret_in_dir(&planted, lake.dir.path());
    let logs = std::fs::read_to_string(lake.dir.path().join("logs/worker-0.log")).unwrap();
    assert!(logs.lines().count() > 100, "the worker logged at debug");
    assert!(local > 10);

    // The warehouse on S3: metadata, manifests, manifest lists, data files.
    let sdk = moto.sdk_config().await;
    let s3 = floe_lake::aws::s3_client(&sdk);
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("warehouse/")
        .send()
        .await
        .unwrap();
    let objects = listed.contents();
    assert!(objects.len() > 10, "the run wrote its tables to S3");
    for object in objects {
        let key = object.key().unwrap();
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        planted.assert_absent(&format!("s3://{bucket}/{key}"), &bytes);
    }
    // The Glue catalog's table entries (parameters, locations, columns).
    let glue = aws_sdk_glue::Client::new(&sdk);
    for database in ["silver"] {
        let tables = glue
            .get_tables()
            .database_name(database)
            .send()
            .await
            .unwrap();
        planted.assert_absent(
            &format!("Glue database {database}"),
            format!("{tables:?}").as_bytes(),
        );
    }
}
