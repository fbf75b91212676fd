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

impl RunId {
    /// A fresh, time-ordered run id (`run-` + UUIDv7).
    pub fn generate() -> Self {
        Self(format!("run-{}", uuid::Uuid::now_v7()))
    }
}
