//! A moto server (local AWS endpoints) on loopback, for tests that use the real
//! AWS SDK: `tests/py/moto_server.py` run by the tests' Python
//! ([`crate::readers::python`]).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_sqs::config::Credentials;
use floe_lake::catalog::GlueCatalog;

use crate::cluster::Cluster;

/// How long moto may take to import and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server; killed when dropped. Its stdin stays open while this
/// process lives, and the launcher exits when it closes, so a test process that
/// dies without dropping it (e.g. a `static`) leaves no server behind.
pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    child: Child,
    /// Holds the flag file that makes the server lose an `UpdateTable` answer.
    flags: tempfile::TempDir,
}

impl Moto {
    /// Starts a server and waits until it listens. Panics if it cannot.
    pub fn start() -> Moto {
        let python = crate::readers::python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/moto_server.py");
        let flags = tempfile::tempdir().expect("a folder for moto's flags");
        let mut child = Command::new(&python)
            .arg(&script)
            .env(
                "FLOE_MOTO_LOSE_UPDATE_TABLE",
                flags.path().join("lose-update-table"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python:?} {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining, so the server never blocks on a full pipe.
            lines.for_each(drop);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "moto did not start within {START_TIMEOUT:?} ({} said {other:?}); see its \
                     stderr above",
                    script.display()
                )
            }
        };
        let endpoint = match line.strip_prefix("moto listening on ") {
            Some(url) => url.trim().to_string(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("unexpected first line from {}: {line:?}", script.display())
            }
        };
        Moto {
            endpoint,
            child,
            flags,
        }
    }

    /// The next Glue `UpdateTable` takes effect, but its answer is a 500 error,
    /// as when the connection drops after Glue applied it: the SDK retries it,
    /// and Glue refuses the retry with ConcurrentModificationException.
    pub fn lose_next_update_table_answer(&self) {
        std::fs::write(self.flags.path().join("lose-update-table"), b"").unwrap();
    }

    /// True once the lost answer was given.
    pub fn update_table_answer_lost(&self) -> bool {
        !self.flags.path().join("lose-update-table").exists()
    }

    /// An SDK config for this server: region us-east-1, static test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_at(&self.endpoint).await
    }
}

/// An SDK config for a moto server at `endpoint` (as [`Moto::sdk_config`]),
/// for a process that did not start it.
pub async fn sdk_config_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .endpoint_url(endpoint)
        .load()
        .await
}

impl Moto {
    /// Creates the S3 bucket `bucket` (if absent).
    pub async fn bucket(&self, bucket: &str) {
        let s3 = floe_lake::aws::s3_client(&self.sdk_config().await);
        if s3.head_bucket().bucket(bucket).send().await.is_err() {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
        }
    }

    /// A Glue catalog on this server with its warehouse in the bucket `bucket`.
    pub async fn glue_catalog(&self, bucket: &str) -> GlueCatalog {
        self.bucket(bucket).await;
        GlueCatalog::open(
            crate::CATALOG_NAME,
            &format!("s3://{bucket}/warehouse"),
            &self.sdk_config().await,
        )
        .await
        .expect("open the Glue catalog")
    }

    /// A cluster whose tasks travel on the SQS queue `queue` and whose tables are
    /// in Glue with the warehouse in `bucket`, all on this server.
    pub async fn cluster(&self, lake: &crate::Lakehouse, bucket: &str, queue: &str) -> Cluster {
        self.bucket(bucket).await;
        let mut cluster = Cluster::new(lake.dir.path());
        cluster.shared_args = [
            "--catalog",
            "glue",
            "--warehouse",
            &format!("s3://{bucket}/warehouse"),
            "--sqs-queue",
            queue,
        ]
        .map(String::from)
        .to_vec();
        cluster.shared_env = self
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        cluster
    }

    /// Copies the lakehouse's Bronze folder to `s3://BUCKET/bronze` and returns
    /// that root.
    pub async fn upload_bronze(&self, lake: &crate::Lakehouse, bucket: &str) -> String {
        let s3 = floe_lake::aws::s3_client(&self.sdk_config().await);
        let root = lake.bronze();
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let key = format!("bronze/{}", path.strip_prefix(&root).unwrap().display());
                let body = aws_sdk_s3::primitives::ByteStream::from(std::fs::read(&path).unwrap());
                s3.put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
            }
        }
        format!("s3://{bucket}/bronze")
    }

    /// The environment a Floe process needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
