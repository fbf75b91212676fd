//! Floe's coordinator: turns a period into partition-sized tasks and runs them.

pub mod audit;
pub mod continuous;
pub mod copies;
pub mod embedded_queue;
pub mod error;
pub mod freshness;
pub mod grpc;
pub mod ledger;
pub mod listing;
pub mod maintenance_schedule;
pub mod period;
pub mod plan;
pub mod reconcile;
pub mod schedule;
pub mod server;
pub mod service;
mod sqlite;

pub use error::CoordinatorError;
