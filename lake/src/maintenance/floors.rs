//! The youngest ages maintenance may use beside running loads.
//!
//! - **Orphans.** A task's data files are unreferenced from the moment it writes
//!   them until its commit lands, so an orphan age shorter than a task deletes
//!   files about to be committed, and the table then points at missing files.
//!   The floor is 24 hours, as Spark's `remove_orphan_files` uses, well above the
//!   workers' default task time limit (2 h).
//! - **Expiry.** A task redelivered after its snapshot was expired no longer
//!   finds it in `main`'s history. The floor, 24 hours, is above the redelivery
//!   window with the defaults (3 attempts of at most 2 h each, plus backoff).
//!
//! A fleet with a longer task time limit or more attempts needs ages above
//! those. Tests that need maintenance to act at once opt out explicitly.

use std::time::Duration;

use crate::error::{LakeError, Result};

/// The youngest `orphan_older_than` / `remove-orphans --older-than`.
pub const MIN_ORPHAN_AGE: Duration = Duration::from_secs(24 * 3600);
/// The youngest `expire_older_than` / `expire --older-than`.
pub const MIN_EXPIRE_AGE: Duration = Duration::from_secs(24 * 3600);

/// Which age, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgedOperation {
    Expiry,
    OrphanRemoval,
}

impl AgedOperation {
    pub fn floor(self) -> Duration {
        match self {
            AgedOperation::Expiry => MIN_EXPIRE_AGE,
            AgedOperation::OrphanRemoval => MIN_ORPHAN_AGE,
        }
    }

    fn risk(self) -> &'static str {
        match self {
            AgedOperation::Expiry => {
                "a task redelivered after its snapshot expired would commit its rows a second time"
            }
            AgedOperation::OrphanRemoval => {
                "files a running task has written but not committed yet would be deleted, and the \
                 table would point at missing files"
            }
        }
    }
}

/// Refuses `age` for `operation` when it is below the floor, unless the caller
/// opted out (`allow_unsafe`, for tests).
pub fn check_age(operation: AgedOperation, age: Duration, allow_unsafe: bool) -> Result<()> {
    let floor = operation.floor();
    if allow_unsafe || age >= floor {
        return Ok(());
    }
    Err(LakeError::UnsafeAge {
        operation: match operation {
            AgedOperation::Expiry => "expiry",
            AgedOperation::OrphanRemoval => "orphan removal",
        },
        age_secs: age.as_secs(),
        floor_hours: floor.as_secs() / 3600,
        risk: operation.risk(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_below_the_floor_are_refused_unless_allowed() {
        let day = Duration::from_secs(86_400);
        for op in [AgedOperation::Expiry, AgedOperation::OrphanRemoval] {
            assert!(check_age(op, day, false).is_ok());
            assert!(check_age(op, Duration::ZERO, true).is_ok());
            let e = check_age(op, Duration::from_secs(3600), false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("3600s") && e.contains("24h"), "{e}");
        }
    }
}
