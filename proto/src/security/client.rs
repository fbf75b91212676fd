//! How a client reaches the coordinator: the address, TLS trust, its token.

use std::path::PathBuf;
use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use super::roles::Authorize;
use super::token::{TokenArgs, TokenSet, WorkerTokenArgs};
use super::{pem, SecurityError};

/// TLS trust for an https:// coordinator address.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TlsClientArgs {
    /// PEM file of the CA that signed the coordinator's certificate (for an
    /// https:// address; the system's roots are trusted otherwise).
    #[arg(long, env = "FLOE_TLS_CA", conflicts_with = "tls_ca_pem")]
    pub tls_ca: Option<PathBuf>,
    /// The same CA certificate as PEM text (e.g. from a secret or an output).
    #[arg(long, env = "FLOE_TLS_CA_PEM", hide_env_values = true)]
    pub tls_ca_pem: Option<String>,
    /// The name the coordinator's certificate is checked against (default: the
    /// address's host).
    #[arg(long, env = "FLOE_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
}

impl TlsClientArgs {
    /// An endpoint for `url`, with TLS when it is https://.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, SecurityError> {
        let address_error = |message: String| SecurityError::Address {
            url: url.into(),
            message,
        };
        let mut endpoint =
            Endpoint::from_shared(url.to_string()).map_err(|e| address_error(e.to_string()))?;
        if url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = pem(&self.tls_ca, &self.tls_ca_pem, "the TLS CA")? {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some(domain) = &self.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| SecurityError::Tls {
                what: "client configuration",
                message: e.to_string(),
            })?;
        }
        Ok(endpoint.connect_timeout(Duration::from_secs(5)))
    }
}

/// The CLI's connection: the operator token.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ClientArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

impl ClientArgs {
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, SecurityError> {
        self.tls.endpoint(url)
    }

    /// The interceptor that adds the operator token, if there is one.
    pub fn authorize(&self) -> Result<Authorize, SecurityError> {
        Ok(Authorize(self.token.tokens()?.map(|t| t.first().clone())))
    }
}

/// A worker's connection: the worker token, and never the operator's.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct WorkerClientArgs {
    #[command(flatten)]
    pub token: WorkerTokenArgs,
    #[command(flatten)]
    pub tls: TlsClientArgs,
}

impl WorkerClientArgs {
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, SecurityError> {
        self.tls.endpoint(url)
    }

    /// The interceptor that adds the worker token, if there is one.
    pub fn authorize(&self) -> Result<Authorize, SecurityError> {
        Ok(Authorize(self.tokens()?.map(|t| t.first().clone())))
    }

    fn tokens(&self) -> Result<Option<TokenSet>, SecurityError> {
        let tokens = self.token.tokens()?;
        // A worker started as before roles existed holds the operator token:
        // say what to give it instead of failing every call.
        let operator_given = ["FLOE_AUTH_TOKEN", "FLOE_AUTH_TOKEN_FILE"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|value| !value.is_empty()));
        if tokens.is_none() && operator_given {
            return Err(SecurityError::OperatorTokenOnWorker);
        }
        Ok(tokens)
    }
}
