//! `source.events`: an SQS queue receiving the Bronze bucket's S3
//! `ObjectCreated` notifications. A notification is a hint: the object is
//! looked up (its size and ETag as a listing would give them) and recorded
//! like a listed file, and the message is deleted only once that record is
//! committed. A notification delivered twice, or a message redelivered after a
//! coordinator died holding it, finds the file recorded already.

use std::sync::Arc;
use std::time::Duration;

use floe_common::contract::Contract;
use floe_queue::TaskQueue;
use serde::Deserialize;
use tracing::{debug, warn};

use crate::listing::day_of;
use crate::plan::InputFile;
use crate::service::Coordinator;
use crate::CoordinatorError;

/// An object a notification says was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    /// Decoded (S3 sends keys URL-encoded, spaces as `+`).
    pub key: String,
}

impl ObjectCreated {
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<Record>,
    /// SNS delivers the S3 notification as a string in `Message`.
    #[serde(rename = "Message")]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Named,
    object: Key,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct Key {
    key: String,
}

/// The objects an S3 notification (direct, or through SNS) reports created.
/// S3's test event and other events report none; a body that is not a
/// notification is an error.
pub fn parse_notification(body: &str) -> Result<Vec<ObjectCreated>, String> {
    let n: Notification = serde_json::from_str(body).map_err(|e| e.to_string())?;
    if let Some(inner) = n.message {
        return parse_notification(&inner);
    }
    Ok(n.records
        .into_iter()
        .filter(|r| r.event_name.starts_with("ObjectCreated"))
        .map(|r| ObjectCreated {
            bucket: r.s3.bucket.name,
            key: decode_key(&r.s3.object.key),
        })
        .collect())
}

fn decode_key(key: &str) -> String {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Messages read per call: SQS's maximum.
const BATCH: usize = 10;
/// Long enough to look the objects up and record them.
const VISIBILITY: Duration = Duration::from_secs(60);

/// Reads what `queue` holds now and records the pipeline's new files. Returns
/// how many files the notifications named for the pipeline.
pub async fn take_events(
    coordinator: &Coordinator,
    contract: &Contract,
    queue: &Arc<dyn TaskQueue>,
    now_ms: i64,
) -> Result<usize, CoordinatorError> {
    let mut named = 0;
    loop {
        let deliveries = queue.receive(BATCH, VISIBILITY, Duration::ZERO).await?;
        if deliveries.is_empty() {
            return Ok(named);
        }
        let mut files = Vec::new();
        for d in &deliveries {
            match parse_notification(&d.body) {
                Ok(objects) => {
                    for object in objects {
                        if let Some(file) = look_up(coordinator, contract, &object).await? {
                            files.push(file);
                        }
                    }
                }
                Err(e) => {
                    warn!(pipeline = %contract.name, message_id = %d.message_id, error = %e,
                        "a message on the events queue is not an S3 notification; dropping it")
                }
            }
        }
        named += files.len();
        coordinator
            .ledger()
            .observe_files(&contract.name, &files, now_ms)
            .await?;
        for d in &deliveries {
            queue.delete(&d.receipt).await?;
        }
    }
}

/// The object as a file of the pipeline, or None when the pipeline's
/// location does not name it or it is gone.
async fn look_up(
    coordinator: &Coordinator,
    contract: &Contract,
    object: &ObjectCreated,
) -> Result<Option<InputFile>, CoordinatorError> {
    let location = object.location();
    let Some(day) = day_of(coordinator.bronze(), &contract.source.location, &location) else {
        debug!(pipeline = %contract.name, %location, "not a file of this pipeline");
        return Ok(None);
    };
    let store = coordinator.store().clone();
    let at = location.clone();
    let stat = tokio::task::spawn_blocking(move || store.stat(&at))
        .await
        .map_err(|e| CoordinatorError::Listing {
            pattern: location.clone(),
            message: e.to_string(),
        })?;
    match stat {
        Ok(stored) => Ok(Some(InputFile {
            fingerprint: stored.fingerprint(),
            path: location,
            day,
        })),
        Err(e) => {
            // Deleted since (or never readable): a later event or listing tells.
            warn!(pipeline = %contract.name, %location, error = %e, "a notified object cannot be read; skipping it");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_name_the_created_objects_with_decoded_keys() {
        let body = r#"{"Records":[
            {"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
             "s3":{"bucket":{"name":"lake"},"object":{"key":"bronze/t/date%3D2025-01-03/my+file%2B1.csv","size":10,"eTag":"abc"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"lake"},"object":{"key":"x"}}}
        ]}"#;
        let objects = parse_notification(body).unwrap();
        assert_eq!(
            objects,
            [ObjectCreated {
                bucket: "lake".into(),
                key: "bronze/t/date=2025-01-03/my file+1.csv".into()
            }]
        );
        assert_eq!(
            objects[0].location(),
            "s3://lake/bronze/t/date=2025-01-03/my file+1.csv"
        );
        let sns = serde_json::json!({"Type": "Notification", "Message": body}).to_string();
        assert_eq!(parse_notification(&sns).unwrap(), objects);
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"lake"}"#;
        assert_eq!(parse_notification(test_event).unwrap(), []);
        assert!(parse_notification("not json").is_err());
    }
}
