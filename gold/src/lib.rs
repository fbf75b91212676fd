//! Floe's Gold layer: SQL models over Silver, planned and run with DataFusion,
//! reading Iceberg through `iceberg-datafusion`.
//!
//! - [`check_models`] plans a contract's models at submit: errors carry their
//!   position in the SQL, and the models come back in dependency order.
//! - [`run_gold_task`] rebuilds one partition of one model from pinned
//!   snapshots, runs its tests, and replace-commits through Floe's commit layer.
//! - [`query`] runs ad-hoc SQL over the catalog, optionally as of a snapshot or time.
//!
//! All of it runs read-only queries only, within a memory limit ([`Limits`]):
//! see `read_only.rs` and `session.rs`.

mod checked_cache;
mod error;
mod model_tests;
mod output;
mod partition;
mod partition_scan;
mod query;
mod read_only;
mod run;
mod schema;
mod session;
mod submit_check;
mod utc_date;
mod written;

pub use error::{GoldError, Result};
pub use output::{render, Format};
pub use query::{query, AsOf, QueryResult};
pub use run::{run_gold_task, write_gold_task};
pub use session::Limits;
pub use submit_check::{check_models, CheckedModel};
pub use written::WrittenGold;
