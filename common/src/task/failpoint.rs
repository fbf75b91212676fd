//! Fail points: where a test (or the chaos suite) makes a task fail on purpose,
//! in-process or through `FLOE_FAILPOINT` in a worker process. Off unless set.

use std::time::Duration;

use crate::error::{FloeError, Result};
use crate::table::TableRole;

/// Where in a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAt {
    /// After all data files are written, before any commit.
    BeforeCommit,
    /// After committing this table, before the next.
    AfterCommit(TableRole),
}

/// What happens there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// The task returns an error (retryable).
    Error,
    /// The process dies at once, as with SIGKILL.
    Abort,
    /// The task pauses, e.g. so a test can kill the process mid-task.
    Sleep(Duration),
    /// The task panics, as a bug in the data path or a library would.
    Panic,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailPoint {
    pub at: FailAt,
    pub action: FailAction,
    /// Fires for this share of deliveries (1.0: every one). Which deliveries is
    /// decided by a hash of the delivery and `seed`, so a seeded chaos round
    /// makes the same choices again.
    pub probability: f64,
    pub seed: u64,
}

impl FailPoint {
    pub fn error(at: FailAt) -> Self {
        Self {
            at,
            action: FailAction::Error,
            probability: 1.0,
            seed: 0,
        }
    }

    /// Parses `before-commit:error`, `after-commit-quarantine:abort`, `before-commit:panic`,
    /// `before-commit:sleep-ms=3000`, and any of them with `@P` for a
    /// probability (`after-commit-silver:abort@0.3`).
    pub fn parse(s: &str) -> Option<Self> {
        let (point, probability) = match s.trim().split_once('@') {
            Some((point, p)) => (
                point,
                p.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p))?,
            ),
            None => (s.trim(), 1.0),
        };
        let (at, action) = point.split_once(':')?;
        let at = match at {
            "before-commit" => FailAt::BeforeCommit,
            "after-commit-silver" => FailAt::AfterCommit(TableRole::Silver),
            "after-commit-quarantine" => FailAt::AfterCommit(TableRole::Quarantine),
            "after-commit-condemned" => FailAt::AfterCommit(TableRole::Condemned),
            _ => return None,
        };
        let action = match action {
            "error" => FailAction::Error,
            "abort" => FailAction::Abort,
            "panic" => FailAction::Panic,
            other => FailAction::Sleep(Duration::from_millis(
                other.strip_prefix("sleep-ms=")?.parse().ok()?,
            )),
        };
        Some(Self {
            at,
            action,
            probability,
            seed: 0,
        })
    }

    /// The fail point named by `FLOE_FAILPOINT`, if any, seeded by
    /// `FLOE_FAILPOINT_SEED`.
    pub fn from_env() -> Option<Self> {
        let seed = std::env::var("FLOE_FAILPOINT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        std::env::var("FLOE_FAILPOINT")
            .ok()
            .and_then(|s| Self::parse(&s))
            .map(|p| Self { seed, ..p })
    }

    /// True when the point fires for `delivery` (run/task/attempt).
    fn fires_for(&self, delivery: &str) -> bool {
        use std::hash::{Hash, Hasher};
        if self.probability >= 1.0 {
            return true;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.seed, delivery).hash(&mut h);
        (h.finish() as f64 / u64::MAX as f64) < self.probability
    }

    pub(crate) async fn trigger(&self, at: FailAt, delivery: &str) -> Result<()> {
        if self.at != at || !self.fires_for(delivery) {
            return Ok(());
        }
        match self.action {
            FailAction::Error => Err(FloeError::Injected(format!("{at:?}"))),
            FailAction::Abort => std::process::abort(),
            FailAction::Panic => panic!("injected panic at {at:?} (FLOE_FAILPOINT)"),
            FailAction::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_env_syntax() {
        assert_eq!(
            FailPoint::parse("before-commit:error"),
            Some(FailPoint::error(FailAt::BeforeCommit))
        );
        assert_eq!(
            FailPoint::parse("after-commit-quarantine:sleep-ms=250"),
            Some(FailPoint {
                at: FailAt::AfterCommit(TableRole::Quarantine),
                action: FailAction::Sleep(Duration::from_millis(250)),
                probability: 1.0,
                seed: 0,
            })
        );
        let sometimes = FailPoint::parse("after-commit-silver:abort@0.25").unwrap();
        assert_eq!(sometimes.probability, 0.25);
        assert_eq!(FailPoint::parse("before-commit:error@1.5"), None);
        assert_eq!(FailPoint::parse("nowhere:error"), None);
        assert_eq!(FailPoint::parse("before-commit:explode"), None);
        assert_eq!(
            FailPoint::parse("before-commit:panic").map(|p| p.action),
            Some(FailAction::Panic)
        );
    }

    #[test]
    fn a_probability_picks_the_same_deliveries_for_the_same_seed() {
        let point = |seed| FailPoint {
            seed,
            ..FailPoint::parse("before-commit:error@0.3").unwrap()
        };
        let picks = |p: FailPoint| -> Vec<bool> {
            (0..1000)
                .map(|i| p.fires_for(&format!("run/t-{i}/1")))
                .collect()
        };
        assert_eq!(picks(point(7)), picks(point(7)));
        assert_ne!(picks(point(7)), picks(point(8)));
        let share = picks(point(7)).iter().filter(|&&f| f).count();
        assert!((200..400).contains(&share), "{share} of 1000 at 0.3");
    }
}
