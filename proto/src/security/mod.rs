//! Who may call the gRPC API, and over what: bearer tokens by role, checked on
//! every call, and TLS when the coordinator has a certificate; and the key
//! task messages are signed with.
//!
//! Secrets never leave this module in clear except in the `authorization`
//! header: they have no `Debug` or `Display` of their value, refusals log the
//! peer and the reason but not what was presented, and error messages name the
//! variable or file a secret came from.

mod client;
mod roles;
mod server;
mod signing;
mod token;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use client::{ClientArgs, TlsClientArgs, WorkerClientArgs};
pub use roles::{Authorize, RequireRole, Role, RoleTokens};
pub use server::{ServerArgs, ServerSecurity};
pub use signing::SigningArgs;
pub use token::{Token, TokenArgs, TokenSet, WorkerTokenArgs};

/// A channel that adds the bearer token to every call.
pub type AuthChannel = InterceptedService<Channel, Authorize>;

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("the token from {source_name} is empty or has characters other than printable ASCII (or a comma, which separates tokens): use a random string such as `openssl rand -hex 32`")]
    BadToken { source_name: String },
    #[error("cannot read {what} {path}: {message}")]
    Read {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("the TLS {what} is not usable: {message}")]
    Tls { what: &'static str, message: String },
    #[error("TLS needs both a certificate (FLOE_TLS_CERT or FLOE_TLS_CERT_PEM) and its key (FLOE_TLS_KEY or FLOE_TLS_KEY_PEM); only one was given")]
    HalfTls,
    #[error("{url} is not a valid coordinator address ({message}): use http://HOST:PORT, or https://HOST:PORT with TLS")]
    Address { url: String, message: String },
    #[error("the coordinator on {listen} has no {missing}: it needs an operator token (FLOE_AUTH_TOKEN, for the CLI) and a different worker token (FLOE_WORKER_TOKEN, for the workers), e.g. each `$(openssl rand -hex 32)`; or pass --allow-unauthenticated to accept any caller")]
    Unauthenticated {
        listen: SocketAddr,
        missing: &'static str,
    },
    #[error("the worker token (FLOE_WORKER_TOKEN) must differ from the operator token (FLOE_AUTH_TOKEN): a worker holding it could make every call")]
    SameToken,
    #[error("floe-worker does not use the operator token (FLOE_AUTH_TOKEN): give it the worker token as FLOE_WORKER_TOKEN (or --worker-token-file) instead, the one the coordinator accepts from workers")]
    OperatorTokenOnWorker,
    #[error("the task signing key from {source_name} is not usable: {message}")]
    BadSigningKey {
        source_name: String,
        message: String,
    },
}

/// PEM bytes from a file or from text given directly; `what` names them.
fn pem(
    file: &Option<PathBuf>,
    text: &Option<String>,
    what: &'static str,
) -> Result<Option<Vec<u8>>, SecurityError> {
    match (file, text) {
        (Some(path), _) => std::fs::read(path)
            .map(Some)
            .map_err(|e| SecurityError::Read {
                what,
                path: path.display().to_string(),
                message: e.to_string(),
            }),
        (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn read_text(path: &Path, what: &'static str) -> Result<String, SecurityError> {
    std::fs::read_to_string(path).map_err(|e| SecurityError::Read {
        what,
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
