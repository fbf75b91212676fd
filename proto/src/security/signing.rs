//! The task signing key(s), shared by the coordinator (which signs) and the
//! workers (which check): see `floe_common::task::signing`.

use std::path::PathBuf;

use floe_common::task::{SigningKeys, TaskCodec};

use super::{read_text, SecurityError};

#[derive(clap::Args, Clone, Default)]
pub struct SigningArgs {
    /// The key task messages are signed with (several, comma-separated, while
    /// rotating: the first signs, any verifies). Required with --sqs-queue.
    #[arg(long, env = "FLOE_TASK_SIGNING_KEY", hide_env_values = true)]
    pub task_signing_key: Option<String>,
    /// A file holding the task signing key(s), one per line.
    #[arg(
        long,
        env = "FLOE_TASK_SIGNING_KEY_FILE",
        conflicts_with = "task_signing_key"
    )]
    pub task_signing_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for SigningArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningArgs")
            .field(
                "task_signing_key",
                &self.task_signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("task_signing_key_file", &self.task_signing_key_file)
            .finish()
    }
}

impl SigningArgs {
    pub fn keys(&self) -> Result<Option<SigningKeys>, SecurityError> {
        let (text, source_name) = match (&self.task_signing_key, &self.task_signing_key_file) {
            (Some(value), _) => (value.clone(), "FLOE_TASK_SIGNING_KEY".to_string()),
            (None, Some(path)) => (
                read_text(path, "the task signing key file")?,
                path.display().to_string(),
            ),
            (None, None) => return Ok(None),
        };
        SigningKeys::parse(&text)
            .map(Some)
            .map_err(|message| SecurityError::BadSigningKey {
                source_name,
                message,
            })
    }

    /// The codec for a queue: signed with the keys when there are any.
    pub fn codec(&self) -> Result<TaskCodec, SecurityError> {
        Ok(self.keys()?.map_or(TaskCodec::Plain, TaskCodec::Signed))
    }
}
