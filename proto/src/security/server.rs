//! The coordinator's side: the tokens it accepts, by role, and its certificate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tonic::transport::{Identity, ServerTlsConfig};

use super::roles::RoleTokens;
use super::token::{TokenArgs, WorkerTokenArgs};
use super::{pem, SecurityError};

#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServerArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub worker_token: WorkerTokenArgs,
    /// PEM certificate chain: serve gRPC over TLS (with a key).
    #[arg(long, env = "FLOE_TLS_CERT", conflicts_with = "tls_cert_pem")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate chain as PEM text (e.g. injected from a secret).
    #[arg(long, env = "FLOE_TLS_CERT_PEM", hide_env_values = true)]
    pub tls_cert_pem: Option<String>,
    /// PEM private key of the certificate.
    #[arg(long, env = "FLOE_TLS_KEY", conflicts_with = "tls_key_pem")]
    pub tls_key: Option<PathBuf>,
    /// The private key as PEM text (e.g. injected from a secret).
    #[arg(long, env = "FLOE_TLS_KEY_PEM", hide_env_values = true)]
    pub tls_key_pem: Option<String>,
    /// Accept calls without a token (from anyone who can reach the address).
    #[arg(long, env = "FLOE_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
}

/// What the server needs, read and checked at start-up.
#[derive(Clone, Debug)]
pub struct ServerSecurity {
    /// None: every call is accepted (`--allow-unauthenticated`).
    pub tokens: Option<Arc<RoleTokens>>,
    pub tls: Option<ServerTlsConfig>,
}

impl ServerArgs {
    /// Reads the tokens and the certificate; refuses to serve without both
    /// roles' tokens unless that was asked for explicitly.
    pub fn load(&self, listen: SocketAddr) -> Result<ServerSecurity, SecurityError> {
        let tokens = match (self.token.tokens()?, self.worker_token.tokens()?) {
            (Some(operator), Some(worker)) => {
                if operator.shares_a_token_with(&worker) {
                    return Err(SecurityError::SameToken);
                }
                Some(Arc::new(RoleTokens { operator, worker }))
            }
            (None, None) if self.allow_unauthenticated => None,
            (operator, _) => {
                return Err(SecurityError::Unauthenticated {
                    listen,
                    missing: if operator.is_none() {
                        "FLOE_AUTH_TOKEN"
                    } else {
                        "FLOE_WORKER_TOKEN"
                    },
                })
            }
        };
        let cert = pem(&self.tls_cert, &self.tls_cert_pem, "the TLS certificate")?;
        let key = pem(&self.tls_key, &self.tls_key_pem, "the TLS key")?;
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => {
                Some(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            }
            (None, None) => None,
            _ => return Err(SecurityError::HalfTls),
        };
        Ok(ServerSecurity { tokens, tls })
    }
}
