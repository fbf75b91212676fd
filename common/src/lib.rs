//! Floe's common library: domain types, the data path (read, validate, write), the
//! commit layer, and the narrow traits over catalog and storage.

pub mod aws;
pub mod backends;
pub mod catalog;
pub mod commit;
pub mod config;
pub mod contract;
pub mod error;
pub mod ids;
pub mod maintenance;
pub mod quarantine;
pub mod queue;
pub mod shutdown;
pub mod source;
pub mod storage;
pub mod table;
pub mod task;
pub mod telemetry;
pub mod validate;

pub use error::{FloeError, Result};
pub use ids::{RunId, TaskId};
