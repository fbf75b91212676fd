//! Floe's stateless worker: leases tasks from the coordinator up to a concurrency
//! limit, heartbeats while it works, runs the data path and reports the outcome.
//! A task's commits overlap the next task's data path (see `pull`).
//! On shutdown it stops leasing, lets in-flight tasks finish within a grace period,
//! releases what is left, and returns.

mod config;
mod error;
pub mod feed;
mod pull;
mod runner;

pub use config::WorkerConfig;
pub use error::WorkerError;
pub use pull::run_worker;
