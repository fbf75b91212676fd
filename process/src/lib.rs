//! What every Floe process needs around its work, shared by the binaries and
//! compiled by no library: logs and trace export ([`telemetry`]), Prometheus
//! metrics and their `/metrics` endpoint ([`metrics`]), the config file
//! ([`config`]), the catalog flags ([`catalog_args`]), the shutdown signal
//! ([`shutdown`]) and the allocator's arenas ([`memory`]).

pub mod catalog_args;
pub mod config;
pub mod error;
pub mod memory;
pub mod metrics;
pub mod shutdown;
pub mod telemetry;

pub use catalog_args::CatalogArgs;
pub use error::{ProcessError, Result};
