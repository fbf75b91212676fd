//! Floe's coordinator: turns a period into partition-sized tasks and runs them.

pub mod error;
pub mod listing;
pub mod local;
pub mod period;
pub mod plan;

pub use error::CoordinatorError;
