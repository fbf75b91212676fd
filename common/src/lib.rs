//! Floe's data path: the contract, sources, validation, the Silver, quarantine
//! and condemned rows a task writes, quarantine passes, and the task executor.
//! Tables and commits are `floe-lake`'s.

pub mod contract;
pub mod error;
mod printable;
pub mod quarantine;
pub mod source;
pub mod table;
pub mod task;
pub mod trace_context;
pub mod validate;
pub mod values;

pub use error::{FloeError, Result};
pub use printable::printable;
