//! Commands that go through the coordinator's gRPC API (see `cli/mod.rs` for
//! why): the flags that reach it, and the days a command covers.

pub(super) mod diff;
pub(super) mod fetch;
pub(super) mod gold;
mod gold_summary;
pub(super) mod output;
pub(super) mod pipeline;
pub(super) mod publish;
pub(super) mod quarantine;
pub(super) mod rollback;
mod scope;
pub(super) mod submit;

use anyhow::{Context, Result};
use clap::Args;
use floe_proto::security::{AuthChannel, ClientArgs};
use floe_proto::v1::pipelines_client::PipelinesClient;
use floe_proto::v1::runs_client::RunsClient;

#[derive(Args, Clone)]
pub(super) struct Remote {
    /// The coordinator's gRPC address.
    #[arg(
        long,
        env = "FLOE_COORDINATOR",
        default_value = "http://127.0.0.1:50051"
    )]
    coordinator: String,
    #[command(flatten)]
    security: ClientArgs,
}

impl Remote {
    pub async fn connect(&self) -> Result<RunsClient<AuthChannel>> {
        Ok(RunsClient::with_interceptor(
            self.channel().await?,
            self.security.authorize()?,
        ))
    }

    pub async fn connect_pipelines(&self) -> Result<PipelinesClient<AuthChannel>> {
        Ok(PipelinesClient::with_interceptor(
            self.channel().await?,
            self.security.authorize()?,
        ))
    }

    async fn channel(&self) -> Result<tonic::transport::Channel> {
        self
            .security
            .endpoint(&self.coordinator)?
            .connect()
            .await
            .with_context(|| format!("cannot reach the coordinator at {}: is `floe-coordinator serve` running there?", self.coordinator))
    }
}

/// Which days: one, or a range.
#[derive(Args, Clone)]
pub(super) struct Days {
    /// One day, e.g. 2025-01-15.
    #[arg(long, conflicts_with = "from")]
    date: Option<String>,
    /// First day of a range (with --to).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last day of a range (with --from).
    #[arg(long, requires = "from")]
    to: Option<String>,
}
