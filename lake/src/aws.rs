//! One AWS configuration for every client Floe makes: SQS, S3, Glue, and the S3
//! storage iceberg writes the warehouse through.
//!
//! Credentials come from the SDK's standard chain only (environment, shared
//! profile, web identity, ECS task role, EC2 instance role); Floe never reads or
//! prints them itself. The endpoint is the SDK's too: `AWS_ENDPOINT_URL` (or a
//! per-service `AWS_ENDPOINT_URL_S3`, ...) points every client at a local server.
//! S3 then uses path-style addressing, which local servers need; set
//! `FLOE_S3_PATH_STYLE=false` to keep virtual-hosted style.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use iceberg::io::{S3_ENDPOINT, S3_PATH_STYLE_ACCESS, S3_REGION};
use iceberg_storage_opendal::{AwsCredential, CustomAwsCredentialLoader, OpenDalStorageFactory};

/// Loads the standard AWS configuration (region, credentials chain, endpoint).
pub async fn load_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// Whether S3 requests put the bucket in the path: when `FLOE_S3_PATH_STYLE`
/// says so, else whenever the endpoint is overridden (a local S3 server).
pub fn s3_path_style(config: &SdkConfig) -> bool {
    match std::env::var("FLOE_S3_PATH_STYLE").ok().as_deref() {
        Some(v) => matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"),
        None => s3_endpoint(config).is_some(),
    }
}

/// The S3 endpoint override, if any: `AWS_ENDPOINT_URL_S3`, else the config's.
fn s3_endpoint(config: &SdkConfig) -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL_S3")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| config.endpoint_url().map(str::to_string))
}

/// An S3 client on `config`, path-style when [`s3_path_style`] says so.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(s3_path_style(config))
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// iceberg's S3 storage (OpenDAL) on the same region, endpoint and credentials
/// chain as the SDK clients: the FileIO that reads and writes `s3://` warehouses.
pub fn s3_storage(config: &SdkConfig) -> (Arc<OpenDalStorageFactory>, HashMap<String, String>) {
    let mut props = HashMap::new();
    if let Some(region) = config.region() {
        props.insert(S3_REGION.to_string(), region.to_string());
    }
    if let Some(endpoint) = s3_endpoint(config) {
        props.insert(S3_ENDPOINT.to_string(), endpoint);
    }
    props.insert(
        S3_PATH_STYLE_ACCESS.to_string(),
        s3_path_style(config).to_string(),
    );
    let loader = config
        .credentials_provider()
        .map(|p| CustomAwsCredentialLoader::new(SdkCredentials(p)));
    let factory = OpenDalStorageFactory::S3 {
        customized_credential_load: loader,
    };
    (Arc::new(factory), props)
}

/// The SDK's credentials provider, as the credential source of iceberg's S3
/// storage, so both resolve credentials the same way (and cache them the same way).
#[derive(Debug)]
struct SdkCredentials(aws_sdk_s3::config::SharedCredentialsProvider);

impl reqsign_core::ProvideCredential for SdkCredentials {
    type Credential = AwsCredential;

    async fn provide_credential(
        &self,
        _: &reqsign_core::Context,
    ) -> reqsign_core::Result<Option<AwsCredential>> {
        let c = self.0.provide_credentials().await.map_err(|e| {
            // The error names the provider that failed, never a secret.
            reqsign_core::Error::credential_invalid(format!(
                "no AWS credentials from the standard chain: {e}"
            ))
        })?;
        let expires_in = c
            .expiry()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| reqsign_core::time::Timestamp::from_second(d.as_secs() as i64).ok());
        Ok(Some(AwsCredential {
            access_key_id: c.access_key_id().to_string(),
            secret_access_key: c.secret_access_key().to_string(),
            session_token: c.session_token().map(str::to_string),
            expires_in,
        }))
    }
}

/// What an AWS call's failure says, for an error message: the service's error
/// code and message, or the transport failure. Never the request, whose headers
/// carry the signature.
pub fn describe_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E>,
) -> String {
    match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("")
        ),
        None => DisplayErrorContext(e).to_string(),
    }
}
