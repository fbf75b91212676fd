//! Table maintenance without a Spark cluster: expire old snapshots (deleting
//! the files only they reached), remove orphan files, and compact small files.
//! Each change goes through Floe's commit layer (one compare-and-swap per
//! snapshot), so it is safe beside concurrent task commits; see each module.

pub mod compact;
pub mod expire;
pub mod floors;
pub mod orphans;
mod policy;
mod reach;

use std::time::Duration;

pub use policy::{maintain, MaintenancePolicy, MaintenanceReport};

use crate::error::LakeError;
use crate::TableName;

fn failed(table: &TableName, message: impl Into<String>) -> LakeError {
    LakeError::Maintenance {
        table: table.to_string(),
        message: message.into(),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `now - age` in ms since the epoch.
fn cutoff_ms(age: Duration) -> i64 {
    now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX)
}
