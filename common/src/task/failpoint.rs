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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailPoint {
    pub at: FailAt,
    pub action: FailAction,
}

impl FailPoint {
    pub fn error(at: FailAt) -> Self {
        Self {
            at,
            action: FailAction::Error,
        }
    }

    /// Parses `before-commit:error`, `after-commit-quarantine:abort`,
    /// `before-commit:sleep-ms=3000`, ...
    pub fn parse(s: &str) -> Option<Self> {
        let (at, action) = s.trim().split_once(':')?;
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
            other => FailAction::Sleep(Duration::from_millis(
                other.strip_prefix("sleep-ms=")?.parse().ok()?,
            )),
        };
        Some(Self { at, action })
    }

    /// The fail point named by `FLOE_FAILPOINT`, if any.
    pub fn from_env() -> Option<Self> {
        std::env::var("FLOE_FAILPOINT")
            .ok()
            .and_then(|s| Self::parse(&s))
    }

    pub(crate) async fn trigger(&self, at: FailAt) -> Result<()> {
        if self.at != at {
            return Ok(());
        }
        match self.action {
            FailAction::Error => Err(FloeError::Injected(format!("{at:?}"))),
            FailAction::Abort => std::process::abort(),
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
                action: FailAction::Sleep(Duration::from_millis(250))
            })
        );
        assert_eq!(FailPoint::parse("nowhere:error"), None);
        assert_eq!(FailPoint::parse("before-commit:explode"), None);
    }
}
