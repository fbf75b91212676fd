//! Who may make which call. Two roles, each with its own token(s):
//!
//! - **operator** (`FLOE_AUTH_TOKEN`): every call: submit, cancel, roll back,
//!   passes, status; and the worker calls too.
//! - **worker** (`FLOE_WORKER_TOKEN`): the `Tasks` service only: lease, extend,
//!   complete, fail, release and report progress. Workers parse untrusted
//!   files and run contract SQL on spot machines: a worker that is taken over
//!   can then not roll back tables, cancel runs or submit work.
//!
//! A refusal names the role the call needs and the variable that holds its
//! token, never a token.

use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};
use tracing::warn;

use super::token::{Token, TokenSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Operator,
    Worker,
}

impl Role {
    fn describe(self) -> &'static str {
        match self {
            Role::Operator => "the operator token (FLOE_AUTH_TOKEN or --auth-token-file)",
            Role::Worker => {
                "the worker token (FLOE_WORKER_TOKEN or --worker-token-file) or the operator token"
            }
        }
    }
}

/// The tokens a coordinator accepts, by role.
#[derive(Clone, Debug)]
pub struct RoleTokens {
    pub operator: TokenSet,
    pub worker: TokenSet,
}

impl RoleTokens {
    /// The role of a presented token, if any.
    fn role_of(&self, presented: &[u8]) -> Option<Role> {
        // Both sets are always compared: the time says nothing of which matched.
        let operator = self.operator.accepts(presented);
        let worker = self.worker.accepts(presented);
        match (operator, worker) {
            (true, _) => Some(Role::Operator),
            (false, true) => Some(Role::Worker),
            (false, false) => None,
        }
    }
}

/// Adds `authorization: Bearer <token>` to each outgoing call.
#[derive(Clone, Debug)]
pub struct Authorize(pub(super) Option<Token>);

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

/// Refuses each incoming call whose token does not grant `needs` (the
/// operator's grants everything).
#[derive(Clone, Debug)]
pub struct RequireRole {
    tokens: Option<Arc<RoleTokens>>,
    needs: Role,
}

impl RequireRole {
    /// `None` accepts every call (`--allow-unauthenticated`).
    pub fn new(tokens: Option<Arc<RoleTokens>>, needs: Role) -> Self {
        Self { tokens, needs }
    }
}

impl Interceptor for RequireRole {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(tokens) = &self.tokens else {
            return Ok(request);
        };
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        let refusal = match presented.map(|p| tokens.role_of(p)) {
            Some(Some(Role::Operator)) => return Ok(request),
            Some(Some(Role::Worker)) if self.needs == Role::Worker => return Ok(request),
            Some(Some(Role::Worker)) => Status::permission_denied(format!(
                "this call needs {}; a worker token may only lease, extend, complete, fail, release and report tasks",
                Role::Operator.describe()
            )),
            Some(None) => Status::unauthenticated(format!(
                "wrong bearer token: this call needs {}",
                self.needs.describe()
            )),
            None => Status::unauthenticated(format!(
                "no bearer token: this call needs {}",
                self.needs.describe()
            )),
        };
        let peer = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "unknown".into());
        warn!(peer = %peer, needs = ?self.needs, reason = refusal.message(), "refused a gRPC call");
        Err(refusal)
    }
}
