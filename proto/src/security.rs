//! Who may call the gRPC API, and over what: a shared bearer token checked on
//! every call, and TLS when the coordinator has a certificate.
//!
//! The token never leaves this module in clear except in the `authorization`
//! header: it has no `Debug` or `Display` of its value, refusals log the peer
//! and the reason but not what was presented, and error messages name the
//! variable or file it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{
    Certificate, Channel, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig,
};
use tonic::{Request, Status};
use tracing::warn;

/// A channel that adds the bearer token to every call.
pub type AuthChannel = InterceptedService<Channel, Authorize>;

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("the auth token from {source_name} is empty or has characters other than printable ASCII: use a random string such as `openssl rand -hex 32`")]
    BadToken { source_name: String },
    #[error("cannot read {what} {path}: {message}")]
    Read {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("the TLS {what} is not usable: {message}")]
    Tls { what: &'static str, message: String },
    #[error("{url} is not a valid coordinator address ({message}): use http://HOST:PORT, or https://HOST:PORT with TLS")]
    Address { url: String, message: String },
    #[error("the coordinator on {listen} would accept calls without a token: set FLOE_AUTH_TOKEN (e.g. `export FLOE_AUTH_TOKEN=$(openssl rand -hex 32)`, the same for the workers and the CLI) or --auth-token-file, or pass --allow-unauthenticated to accept any caller")]
    Unauthenticated { listen: SocketAddr },
}

/// The shared secret. Compared in constant time; never printed.
#[derive(Clone)]
pub struct Token(Arc<str>);

impl Token {
    /// `source_name` says where it came from, for the error message only.
    pub fn new(value: &str, source_name: &str) -> Result<Self, SecurityError> {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SecurityError::BadToken {
                source_name: source_name.into(),
            });
        }
        Ok(Self(value.into()))
    }

    pub fn from_file(path: &Path) -> Result<Self, SecurityError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecurityError::Read {
            what: "the auth token file",
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::new(&text, &path.display().to_string())
    }

    fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }

    fn header(&self) -> MetadataValue<Ascii> {
        let mut value: MetadataValue<Ascii> = format!("Bearer {}", self.0)
            .parse()
            .expect("a token of printable ASCII is a valid header value");
        value.set_sensitive(true);
        value
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The token flags shared by the coordinator's commands and the worker.
#[derive(clap::Args, Clone, Default)]
pub struct TokenArgs {
    /// The bearer token every gRPC call carries (prefer the file or the
    /// variable: a flag shows in the process list).
    #[arg(long, env = "FLOE_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// A file holding the bearer token.
    #[arg(long, env = "FLOE_AUTH_TOKEN_FILE", conflicts_with = "auth_token")]
    pub auth_token_file: Option<PathBuf>,
}

impl std::fmt::Debug for TokenArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenArgs")
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("auth_token_file", &self.auth_token_file)
            .finish()
    }
}

impl TokenArgs {
    pub fn token(&self) -> Result<Option<Token>, SecurityError> {
        match (&self.auth_token, &self.auth_token_file) {
            (Some(value), _) => Token::new(value, "FLOE_AUTH_TOKEN / --auth-token").map(Some),
            (None, Some(path)) => Token::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// How a client reaches the coordinator.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ClientArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// PEM file of the CA that signed the coordinator's certificate (for an
    /// https:// address; the system's roots are trusted otherwise).
    #[arg(long, env = "FLOE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// The name the coordinator's certificate is checked against (default: the
    /// address's host).
    #[arg(long, env = "FLOE_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
}

impl ClientArgs {
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
            if let Some(ca) = &self.tls_ca {
                tls = tls.ca_certificate(Certificate::from_pem(read(ca, "the TLS CA file")?));
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

    /// The interceptor that adds this client's token, if it has one.
    pub fn authorize(&self) -> Result<Authorize, SecurityError> {
        Ok(Authorize(self.token.token()?))
    }
}

/// Adds `authorization: Bearer <token>` to each outgoing call.
#[derive(Clone, Debug)]
pub struct Authorize(Option<Token>);

impl Interceptor for Authorize {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.header());
        }
        Ok(request)
    }
}

/// Refuses each incoming call without the expected token.
#[derive(Clone, Debug)]
pub struct RequireToken(Option<Token>);

impl RequireToken {
    /// `None` accepts every call (`--allow-unauthenticated`).
    pub fn new(token: Option<Token>) -> Self {
        Self(token)
    }
}

impl Interceptor for RequireToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        let reason = match presented {
            Some(p) if expected.matches(p) => return Ok(request),
            Some(_) => "wrong bearer token",
            None => "no bearer token",
        };
        let peer = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown".into());
        warn!(peer = %peer, reason, "refused a gRPC call");
        Err(Status::unauthenticated(format!(
            "{reason}: set FLOE_AUTH_TOKEN (or --auth-token-file) to the coordinator's token"
        )))
    }
}

/// The coordinator's side: its token and, optionally, its certificate.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServerArgs {
    #[command(flatten)]
    pub token: TokenArgs,
    /// PEM certificate chain: serve gRPC over TLS (with --tls-key).
    #[arg(long, env = "FLOE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "FLOE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept calls without a token (from anyone who can reach the address).
    #[arg(long, env = "FLOE_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
}

/// What the server needs, read and checked at start-up.
#[derive(Clone, Debug)]
pub struct ServerSecurity {
    pub token: Option<Token>,
    pub tls: Option<ServerTlsConfig>,
}

impl ServerArgs {
    /// Reads the token and the certificate; refuses to serve without a token
    /// unless that was asked for explicitly.
    pub fn load(&self, listen: SocketAddr) -> Result<ServerSecurity, SecurityError> {
        let token = self.token.token()?;
        if token.is_none() && !self.allow_unauthenticated {
            return Err(SecurityError::Unauthenticated { listen });
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(ServerTlsConfig::new().identity(Identity::from_pem(
                read(cert, "the TLS certificate")?,
                read(key, "the TLS key")?,
            ))),
            _ => None,
        };
        Ok(ServerSecurity { token, tls })
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, SecurityError> {
    std::fs::read(path).map_err(|e| SecurityError::Read {
        what,
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call_with(header: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(h) = header {
            r.metadata_mut().insert("authorization", h.parse().unwrap());
        }
        r
    }

    #[test]
    fn only_the_right_token_passes() {
        let mut check = RequireToken::new(Some(Token::new("s3cret-token", "test").unwrap()));
        assert!(check.call(call_with(Some("Bearer s3cret-token"))).is_ok());
        for bad in [
            None,
            Some("Bearer planted-guess"),
            Some("s3cret-token"),
            Some("Bearer s3cret-toke"),
        ] {
            let refused = check.call(call_with(bad)).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::Unauthenticated);
            assert!(!refused.message().contains("planted-guess"));
            assert!(!refused.message().contains("s3cret"));
        }
        let mut open = RequireToken::new(None);
        assert!(open.call(call_with(None)).is_ok());
    }

    #[test]
    fn the_client_adds_the_header_and_the_server_accepts_it() {
        let token = Token::new("abc123", "test").unwrap();
        let sent = Authorize(Some(token.clone()))
            .call(Request::new(()))
            .unwrap();
        assert!(RequireToken::new(Some(token)).call(sent).is_ok());
    }

    #[test]
    fn the_token_never_prints() {
        let token = Token::new("planted-value", "test").unwrap();
        assert!(!format!("{token:?}").contains("planted-value"));
        let args = TokenArgs {
            auth_token: Some("planted-value".into()),
            auth_token_file: None,
        };
        assert!(!format!("{args:?}").contains("planted-value"));
        let blank = TokenArgs {
            auth_token: Some(" ".into()),
            auth_token_file: None,
        };
        let err = blank.token().unwrap_err().to_string();
        assert!(err.contains("FLOE_AUTH_TOKEN"), "{err}");
    }

    #[test]
    fn serving_needs_a_token_unless_told_otherwise() {
        let args = ServerArgs::default();
        for listen in ["127.0.0.1:1", "0.0.0.0:1"] {
            let err = args.load(listen.parse().unwrap()).unwrap_err();
            assert!(matches!(err, SecurityError::Unauthenticated { .. }));
            assert!(err.to_string().contains("FLOE_AUTH_TOKEN"), "{err}");
        }
        let open = ServerArgs {
            allow_unauthenticated: true,
            ..Default::default()
        };
        assert!(open.load("0.0.0.0:1".parse().unwrap()).is_ok());
        let with_token = ServerArgs {
            token: TokenArgs {
                auth_token: Some("t0ken".into()),
                auth_token_file: None,
            },
            ..Default::default()
        };
        assert!(with_token
            .load("0.0.0.0:1".parse().unwrap())
            .unwrap()
            .token
            .is_some());
    }
}
