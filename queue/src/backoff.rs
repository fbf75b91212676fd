//! How long a task that failed with a retryable error waits before it is
//! delivered again: exponential, capped, with jitter. Handing it back at once
//! would burn every attempt of a task in seconds during a short outage (a
//! throttled catalog, a storage blip), and many tasks failing together would
//! all come back together.

use std::time::Duration;

/// Exponential backoff with "equal jitter": the `n`th retry waits between half
/// and all of `base × 2^(n-1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Never waits: a failed task is visible again at once.
    pub const NONE: Backoff = Backoff {
        base: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// `base` doubling per attempt, up to 15 minutes (well under SQS's 12 h
    /// visibility limit).
    pub fn exponential(base: Duration) -> Self {
        Backoff {
            base,
            max: Duration::from_secs(15 * 60).max(base),
        }
    }

    /// The ceiling of the wait after delivery `attempt` (1-based) failed.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.base
            .checked_mul(1 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The wait after delivery `attempt` (1-based) failed, jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling / 2 + ceiling.mul_f64(rand::random::<f64>() * 0.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_per_attempt_within_half_and_all_of_the_ceiling_up_to_the_cap() {
        let b = Backoff::exponential(Duration::from_secs(10));
        assert_eq!(b.ceiling(1), Duration::from_secs(10));
        assert_eq!(b.ceiling(2), Duration::from_secs(20));
        assert_eq!(b.ceiling(4), Duration::from_secs(80));
        assert_eq!(b.ceiling(20), Duration::from_secs(900));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(900));
        for attempt in 1..12 {
            for _ in 0..200 {
                let d = b.delay(attempt);
                let c = b.ceiling(attempt);
                assert!(
                    d >= c / 2 && d <= c,
                    "attempt {attempt}: {d:?} outside {c:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_tasks_that_failed_together() {
        let b = Backoff::exponential(Duration::from_secs(60));
        let delays: std::collections::HashSet<Duration> = (0..50).map(|_| b.delay(3)).collect();
        assert!(delays.len() > 40, "{delays:?}");
    }

    #[test]
    fn none_never_waits() {
        assert_eq!(Backoff::NONE.delay(1), Duration::ZERO);
        assert_eq!(Backoff::NONE.delay(9), Duration::ZERO);
    }
}
