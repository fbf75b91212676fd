//! Signed task messages. A worker runs whatever a task message says: which
//! files to read, which contract to apply, which SQL to run. On SQS, anyone
//! allowed to send to the queue could write one, so the coordinator signs each
//! message with a key it shares with the workers (HMAC-SHA256), and a worker
//! runs only messages whose signature it can check. A refused message is never
//! parsed as a task, so nothing it names is read.
//!
//! The body on the queue is an envelope around the task's JSON, kept as the
//! exact string that was signed:
//!
//! ```json
//! {"floe_signed":1,"key":"<key id>","sig":"<hex HMAC>","task":"<TaskMessage JSON>"}
//! ```
//!
//! Several keys may be configured, for rotation: the first signs, any of them
//! verifies. The key id (a hash of the key, not the key) tells the verifier
//! which key to try.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TaskMessage;

type HmacSha256 = Hmac<Sha256>;

/// Signed bytes start with this, so a signature can never be replayed as one
/// of another kind of Floe message.
const DOMAIN: &[u8] = b"floe-task-v1\n";

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Why a message was refused. `as_str` is the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an envelope at all: a plain task or anything else.
    Unsigned,
    /// Signed with a key this side does not hold.
    UnknownKey,
    /// The signature does not match the task: forged or altered.
    BadSignature,
    /// Correctly signed, but not a task this version understands.
    NotATask,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::UnknownKey => "unknown_key",
            Refusal::BadSignature => "bad_signature",
            Refusal::NotATask => "not_a_task",
        }
    }

    /// What an operator reads in the log and on the dead letter.
    pub fn explain(self) -> &'static str {
        match self {
            Refusal::Unsigned => {
                "the message is not signed: only the coordinator's signed tasks run (was it sent by hand, or by a coordinator without FLOE_TASK_SIGNING_KEY?)"
            }
            Refusal::UnknownKey => {
                "the message is signed with a key this worker does not hold: give coordinator and workers the same FLOE_TASK_SIGNING_KEY (during a rotation, workers hold the new and the old key)"
            }
            Refusal::BadSignature => {
                "the message's signature does not match its content: it was forged or altered on the way"
            }
            Refusal::NotATask => {
                "the message is correctly signed but is not a task this worker understands: run workers of the coordinator's version"
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.explain())
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    floe_signed: u32,
    key: String,
    sig: String,
    task: String,
}

/// One secret key and its public id.
#[derive(Clone)]
struct Key {
    id: String,
    secret: Vec<u8>,
}

impl Key {
    fn mac(&self) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(DOMAIN);
        mac
    }
}

/// The keys task messages are signed and checked with. Never printed.
#[derive(Clone)]
pub struct SigningKeys {
    keys: Vec<Key>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        write!(f, "SigningKeys(ids {ids:?})")
    }
}

impl SigningKeys {
    /// Keys from their text: separated by commas or newlines, each at least
    /// [`MIN_KEY_BYTES`] long (e.g. `openssl rand -hex 32`). The first signs.
    pub fn parse(text: &str) -> Result<Self, String> {
        let keys: Vec<Key> = text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| Key {
                id: key_id(k.as_bytes()),
                secret: k.as_bytes().to_vec(),
            })
            .collect();
        if keys.is_empty() {
            return Err("no key: it is empty".into());
        }
        if let Some(short) = keys.iter().position(|k| k.secret.len() < MIN_KEY_BYTES) {
            return Err(format!(
                "key {} of {} is shorter than {MIN_KEY_BYTES} characters: use a random string such as `openssl rand -hex 32`",
                short + 1,
                keys.len()
            ));
        }
        Ok(Self { keys })
    }

    /// The queue body of `task`: its JSON, signed with the first key.
    pub fn seal(&self, task: &TaskMessage) -> String {
        let key = &self.keys[0];
        let json = task.to_json();
        let mut mac = key.mac();
        mac.update(json.as_bytes());
        let envelope = Envelope {
            floe_signed: 1,
            key: key.id.clone(),
            sig: hex::encode(mac.finalize().into_bytes()),
            task: json,
        };
        serde_json::to_string(&envelope).expect("an envelope serializes")
    }

    /// The task in `body`, if one of these keys signed it. The task's JSON is
    /// parsed only after its signature checked out.
    pub fn open(&self, body: &str) -> Result<TaskMessage, Refusal> {
        let envelope: Envelope = serde_json::from_str(body).map_err(|_| Refusal::Unsigned)?;
        if envelope.floe_signed != 1 {
            return Err(Refusal::Unsigned);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == envelope.key)
            .ok_or(Refusal::UnknownKey)?;
        let sig = hex::decode(&envelope.sig).map_err(|_| Refusal::BadSignature)?;
        let mut mac = key.mac();
        mac.update(envelope.task.as_bytes());
        // verify_slice compares in constant time.
        mac.verify_slice(&sig).map_err(|_| Refusal::BadSignature)?;
        TaskMessage::from_json(&envelope.task).map_err(|_| Refusal::NotATask)
    }
}

/// How a queue body becomes a task: checked against keys, or taken as plain
/// JSON where no key is configured (the embedded queue, which only the
/// coordinator writes).
#[derive(Debug, Clone, Default)]
pub enum TaskCodec {
    #[default]
    Plain,
    Signed(SigningKeys),
}

impl TaskCodec {
    pub fn encode(&self, task: &TaskMessage) -> String {
        match self {
            TaskCodec::Plain => task.to_json(),
            TaskCodec::Signed(keys) => keys.seal(task),
        }
    }

    /// A plain codec also takes a signed body without checking it: messages
    /// sealed by an earlier start with a key must not be lost.
    pub fn decode(&self, body: &str) -> Result<TaskMessage, Refusal> {
        match self {
            TaskCodec::Signed(keys) => keys.open(body),
            TaskCodec::Plain => match serde_json::from_str::<Envelope>(body) {
                Ok(envelope) => TaskMessage::from_json(&envelope.task),
                Err(_) => TaskMessage::from_json(body),
            }
            .map_err(|_| Refusal::NotATask),
        }
    }
}

/// A short public name of a key: the first 16 hex digits of its SHA-256.
fn key_id(secret: &[u8]) -> String {
    let digest = Sha256::digest([b"floe-task-key\n", secret].concat());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests;
