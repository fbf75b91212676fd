//! Registered pipelines: `pipeline apply` checks a contract exactly as a
//! submit would and records it as the pipeline's next version; a submit may
//! then name the pipeline instead of sending the contract.

use floe_common::contract::{Contract, ContractRef};

use super::{Coordinator, Result};
use crate::ledger::{Applied, PipelineVersion};
use crate::CoordinatorError;

/// Where a submit's contract comes from.
#[derive(Debug, Clone)]
pub enum ContractSource {
    /// Sent whole (read from a file by the CLI).
    Text { text: String, origin: String },
    /// The latest version of a registered pipeline.
    Registered(String),
    /// The only registered pipeline.
    OnlyRegistered,
}

impl ContractSource {
    /// From a request's fields: the text if any, else the pipeline's name if
    /// any, else the only registered pipeline.
    pub fn from_request(text: String, origin: String, pipeline: String) -> Self {
        if !text.is_empty() {
            Self::Text { text, origin }
        } else if !pipeline.is_empty() {
            Self::Registered(pipeline)
        } else {
            Self::OnlyRegistered
        }
    }
}

/// A contract's text and where it came from, for messages.
#[derive(Debug, Clone)]
pub struct ResolvedContract {
    pub text: String,
    pub origin: String,
    /// The registered version, when the submit named a pipeline.
    pub version: Option<u32>,
}

impl ResolvedContract {
    /// A contract sent whole, not registered.
    pub fn unregistered(text: String, origin: String) -> Self {
        Self {
            text,
            origin,
            version: None,
        }
    }

    /// A registered pipeline's version.
    pub fn registered(pipeline: PipelineVersion) -> Self {
        Self {
            origin: format!(
                "pipeline {} v{} ({})",
                pipeline.name, pipeline.version, pipeline.contract_origin
            ),
            version: Some(pipeline.version),
            text: pipeline.contract_text,
        }
    }
}

impl Coordinator {
    /// Checks the contract as a submit would (rules, models, its Silver
    /// table's schema) and registers it as the next version of its pipeline,
    /// unless it is the latest version already.
    pub async fn apply_pipeline(&self, text: &str, origin: &str) -> Result<Applied> {
        let contract =
            Contract::parse(text, origin.as_ref()).map_err(floe_common::FloeError::from)?;
        floe_gold::check_models(&contract)
            .await
            .map_err(CoordinatorError::Model)?;
        self.check_schema(&contract).await?;
        let sha256 = ContractRef::of(text).sha256;
        self.ledger
            .apply_pipeline(&contract.name, text, origin, &sha256)
            .await
    }

    /// The latest version of every registered pipeline.
    pub async fn pipelines(&self) -> Result<Vec<PipelineVersion>> {
        self.ledger.pipelines().await
    }

    /// Version `version` of pipeline `name` (the latest when `None`).
    pub async fn pipeline(&self, name: &str, version: Option<u32>) -> Result<PipelineVersion> {
        match self.ledger.pipeline(name, version).await? {
            Some(p) => Ok(p),
            None if version.is_some() && self.ledger.pipeline(name, None).await?.is_some() => {
                Err(CoordinatorError::UnknownPipelineVersion {
                    name: name.to_string(),
                    version: version.unwrap_or_default(),
                })
            }
            None => Err(CoordinatorError::UnknownPipeline {
                name: name.to_string(),
                registered: self.registered_names().await?,
            }),
        }
    }

    /// The contract a submit runs with.
    pub async fn resolve_contract(&self, source: ContractSource) -> Result<ResolvedContract> {
        let registered = match source {
            ContractSource::Text { text, origin } => {
                return Ok(ResolvedContract::unregistered(text, origin))
            }
            ContractSource::Registered(name) => self.pipeline(&name, None).await?,
            ContractSource::OnlyRegistered => {
                let mut all = self.pipelines().await?;
                if all.len() != 1 {
                    return Err(CoordinatorError::NoPipelineChosen {
                        registered: self.registered_names().await?,
                    });
                }
                all.remove(0)
            }
        };
        Ok(ResolvedContract::registered(registered))
    }

    async fn registered_names(&self) -> Result<String> {
        let names: Vec<String> = self
            .pipelines()
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        Ok(if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        })
    }
}
