//! Typed identifiers. A run id and a task id are never interchangeable strings.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an existing id (as read from a ledger, a queue or a snapshot summary).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// One submitted run (a daily load or a backfill).
    RunId
);
typed_id!(
    /// One partition-sized unit of a run. Deterministic: planning the same run twice
    /// gives the same task ids.
    TaskId
);

/// One delivery of one task of a run: attempts count from 1 and grow with
/// each redelivery. A commit, the data files it writes and a fail point are
/// keyed by it; shown as `run/task/number`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attempt {
    pub run_id: RunId,
    pub task_id: TaskId,
    pub number: u32,
}

impl Attempt {
    pub fn new(run_id: RunId, task_id: TaskId, number: u32) -> Self {
        Self {
            run_id,
            task_id,
            number,
        }
    }

    /// The first delivery of `task_id` of `run_id` (a pass committing for itself).
    pub fn first(run_id: RunId, task_id: TaskId) -> Self {
        Self::new(run_id, task_id, 1)
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.run_id, self.task_id, self.number)
    }
}

impl RunId {
    /// A fresh, time-ordered run id (`run-` + UUIDv7).
    pub fn generate() -> Self {
        Self(format!("run-{}", uuid::Uuid::now_v7()))
    }
}

impl RunId {
    /// A fresh run id of another kind (`reprocess-`, `rebuild-`, …), ordered
    /// with load runs by the same time-ordered UUIDv7.
    pub fn generate_kind(kind: &str) -> Self {
        Self(format!("{kind}-{}", uuid::Uuid::now_v7()))
    }

    /// True when `self` was submitted after `other`. Runs are ordered by the
    /// UUIDv7 that ends their id (its first 48 bits are the submit time in
    /// milliseconds; the rest orders ids made in the same millisecond). Ids
    /// without one (written by older versions, or by tests) come before every
    /// id that has one, and among themselves in string order.
    pub fn is_newer_than(&self, other: &RunId) -> bool {
        self.order_key() > other.order_key()
    }

    fn order_key(&self) -> (Option<u128>, &str) {
        let uuid = self
            .0
            .len()
            .checked_sub(36)
            .and_then(|start| self.0.get(start..))
            .and_then(|tail| uuid::Uuid::try_parse(tail).ok())
            .filter(|u| u.get_version_num() == 7)
            .map(|u| u.as_u128());
        (uuid, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_ordered_by_submit_whatever_their_kind() {
        let a = RunId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = RunId::generate_kind("reprocess");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let c = RunId::generate();
        assert!(b.is_newer_than(&a) && c.is_newer_than(&b) && c.is_newer_than(&a));
        assert!(!a.is_newer_than(&b) && !a.is_newer_than(&a));
        // Made in the same millisecond by one process: still in order.
        let ids: Vec<RunId> = (0..100).map(|_| RunId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[1].is_newer_than(&w[0])));
    }

    #[test]
    fn ids_without_a_uuid_come_first_in_string_order() {
        let legacy = RunId::new("reprocess-9f2c");
        assert!(RunId::generate().is_newer_than(&legacy));
        assert!(RunId::new("run-b").is_newer_than(&RunId::new("run-a")));
        let v4 = RunId::new(format!("run-{}", uuid::Uuid::new_v4()));
        assert!(
            RunId::generate().is_newer_than(&v4),
            "only a v7 orders by time"
        );
    }
}
