//! What every Floe process needs around its work, shared by the binaries and
//! compiled by no library: logs and trace export ([`telemetry`]), Prometheus
//! metrics and their `/metrics` endpoint ([`metrics`]), the config file
//! ([`config`]), the catalog flags ([`catalog_args`]) and the shutdown signal
//! ([`shutdown`]).

pub mod catalog_args;
pub mod config;
pub mod error;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;

pub use catalog_args::CatalogArgs;
pub use error::{ProcessError, Result};
