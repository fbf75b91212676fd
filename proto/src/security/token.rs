//! Bearer tokens: read from a variable or a file, compared in constant time,
//! never printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::metadata::{Ascii, MetadataValue};

use super::SecurityError;

/// One shared secret. Compared in constant time; never printed.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// `source_name` says where it came from, for the error message only.
    pub fn new(value: &str, source_name: &str) -> Result<Self, SecurityError> {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) || value.contains(',') {
            return Err(SecurityError::BadToken {
                source_name: source_name.into(),
            });
        }
        Ok(Self(value.into()))
    }

    fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }

    pub(super) fn header(&self) -> MetadataValue<Ascii> {
        let mut value: MetadataValue<Ascii> = format!("Bearer {}", self.0)
            .parse()
            .expect("a token of printable ASCII is a valid header value");
        value.set_sensitive(true);
        value
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other.0.as_bytes())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The tokens of one role: a client sends the first, a server accepts any.
/// Several (separated by commas or newlines) let a token be rotated without
/// downtime: accept old and new, move the clients, then drop the old one.
#[derive(Clone, Debug)]
pub struct TokenSet(Vec<Token>);

impl TokenSet {
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SecurityError> {
        let tokens = text
            .split([',', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Token::new(t, source_name))
            .collect::<Result<Vec<_>, _>>()?;
        if tokens.is_empty() {
            return Err(SecurityError::BadToken {
                source_name: source_name.into(),
            });
        }
        Ok(Self(tokens))
    }

    pub fn from_file(path: &Path) -> Result<Self, SecurityError> {
        let text = super::read_text(path, "the token file")?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The token a client sends.
    pub fn first(&self) -> &Token {
        &self.0[0]
    }

    /// Whether any token matches. Every token is compared, so the time taken
    /// says nothing about which one came close.
    pub(super) fn accepts(&self, presented: &[u8]) -> bool {
        self.0
            .iter()
            .fold(false, |any, t| t.matches(presented) | any)
    }

    pub(super) fn shares_a_token_with(&self, other: &TokenSet) -> bool {
        self.0.iter().any(|t| other.0.contains(t))
    }
}

/// A token set from a value or a file; `what` names them for messages.
fn token_set(
    value: &Option<String>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<TokenSet>, SecurityError> {
    match (value, file) {
        (Some(value), _) => TokenSet::parse(value, what).map(Some),
        (None, Some(path)) => TokenSet::from_file(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// The operator token: the CLI sends it; it may make every call.
#[derive(clap::Args, Clone, Default)]
pub struct TokenArgs {
    /// The operator's bearer token (several, comma-separated, while rotating;
    /// prefer the file or the variable: a flag shows in the process list).
    #[arg(long, env = "FLOE_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// A file holding the operator's bearer token(s), one per line.
    #[arg(long, env = "FLOE_AUTH_TOKEN_FILE", conflicts_with = "auth_token")]
    pub auth_token_file: Option<PathBuf>,
}

impl TokenArgs {
    pub fn tokens(&self) -> Result<Option<TokenSet>, SecurityError> {
        token_set(
            &self.auth_token,
            &self.auth_token_file,
            "FLOE_AUTH_TOKEN / --auth-token",
        )
    }
}

/// The worker token: workers send it; it may only lease, extend, complete,
/// fail, release and report tasks.
#[derive(clap::Args, Clone, Default)]
pub struct WorkerTokenArgs {
    /// The workers' bearer token (several, comma-separated, while rotating).
    #[arg(long, env = "FLOE_WORKER_TOKEN", hide_env_values = true)]
    pub worker_token: Option<String>,
    /// A file holding the workers' bearer token(s), one per line.
    #[arg(long, env = "FLOE_WORKER_TOKEN_FILE", conflicts_with = "worker_token")]
    pub worker_token_file: Option<PathBuf>,
}

impl WorkerTokenArgs {
    pub fn tokens(&self) -> Result<Option<TokenSet>, SecurityError> {
        token_set(
            &self.worker_token,
            &self.worker_token_file,
            "FLOE_WORKER_TOKEN / --worker-token",
        )
    }
}

/// Both argument sets print without their values.
macro_rules! redacted_debug {
    ($type:ident, $value:ident, $file:ident) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    .field(
                        stringify!($value),
                        &self.$value.as_ref().map(|_| "<redacted>"),
                    )
                    .field(stringify!($file), &self.$file)
                    .finish()
            }
        }
    };
}

redacted_debug!(TokenArgs, auth_token, auth_token_file);
redacted_debug!(WorkerTokenArgs, worker_token, worker_token_file);
