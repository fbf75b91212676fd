//! The contract's `[freshness]`: what "up to date" means for a pipeline, so
//! a missed load raises an alarm instead of being noticed by a reader.
//!
//! ```toml
//! [freshness]
//! partition_by = "06:00"        # each day's partition is loaded by 06:00 the next day
//! timezone = "Europe/Berlin"    # the clock of partition_by (default UTC)
//! max_age = "2h"                # and some load at least this often (optional)
//! ```

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::error::Checker;
use super::{parse_age, ContractError, PartitionTransform, TransformKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreshness {
    #[serde(default)]
    pub partition_by: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub max_age: Option<String>,
}

/// A checked `[freshness]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    /// Yesterday's partition is expected by this time of day.
    pub partition_by: Option<NaiveTime>,
    pub timezone: Tz,
    /// Some load (or append) is expected at least this often.
    pub max_age: Option<Duration>,
}

/// Whether a pipeline's data is as fresh as its contract expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshnessCheck {
    /// The newest partition expected by now, when `partition_by` is set.
    pub expected_partition: Option<NaiveDate>,
    /// Why the expectation is missed; empty when it is met.
    pub missed: Vec<String>,
}

impl Freshness {
    /// The newest day partition expected at `now`: yesterday once
    /// `partition_by` has passed today, else the day before.
    pub fn expected_partition(&self, now: DateTime<Utc>) -> Option<NaiveDate> {
        let by = self.partition_by?;
        let local = now.with_timezone(&self.timezone);
        let back = if local.time() >= by { 1 } else { 2 };
        local.date_naive().checked_sub_days(Days::new(back))
    }

    /// Checks the newest loaded partition and the last load against the
    /// expectation.
    pub fn check(
        &self,
        newest_partition: Option<NaiveDate>,
        last_load: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> FreshnessCheck {
        let expected_partition = self.expected_partition(now);
        let mut missed = Vec::new();
        if let Some(expected) = expected_partition {
            if newest_partition.is_none_or(|newest| newest < expected) {
                missed.push(format!(
                    "partition {expected} was expected by {} {}; the newest loaded is {}",
                    self.partition_by
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    self.timezone.name(),
                    newest_partition.map_or("none".to_string(), |d| d.to_string())
                ));
            }
        }
        if let Some(max_age) = self.max_age {
            let age = last_load.map(|at| (now - at).to_std().unwrap_or_default());
            if age.is_none_or(|age| age > max_age) {
                missed.push(format!(
                    "no load for {} (expected at least every {}s)",
                    age.map_or("ever".to_string(), |a| format!("{}s", a.as_secs())),
                    max_age.as_secs()
                ));
            }
        }
        FreshnessCheck {
            expected_partition,
            missed,
        }
    }
}

pub(super) fn build_freshness(
    check: &Checker,
    raw: &RawFreshness,
    partition: Option<&PartitionTransform>,
) -> Result<Freshness, ContractError> {
    let partition_by = raw
        .partition_by
        .as_deref()
        .map(|t| {
            NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| {
                check.invalid(
                    "freshness.partition_by",
                    t,
                    "a time of day as HH:MM, such as \"06:00\"",
                )
            })
        })
        .transpose()?;
    if partition_by.is_some() && partition.is_none_or(|p| p.kind != TransformKind::Day) {
        return Err(check.invalid(
            "freshness.partition_by",
            raw.partition_by.clone().unwrap_or_default(),
            "a target partitioned by day(column); use freshness.max_age for other tables",
        ));
    }
    let timezone = super::schedule::timezone(check, "freshness.timezone", raw.timezone.as_deref())?;
    let max_age = raw
        .max_age
        .as_deref()
        .map(|a| {
            parse_age(a).filter(|d| !d.is_zero()).ok_or_else(|| {
                check.invalid("freshness.max_age", a, "a duration such as 90m or 2h")
            })
        })
        .transpose()?;
    if partition_by.is_none() && max_age.is_none() {
        return Err(check.invalid(
            "freshness",
            "no expectation",
            "partition_by (\"06:00\": yesterday's partition by then) or max_age (\"2h\")",
        ));
    }
    Ok(Freshness {
        partition_by,
        timezone,
        max_age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn yesterdays_partition_is_due_by_its_time_on_its_clock() {
        let f = Freshness {
            partition_by: NaiveTime::from_hms_opt(6, 0, 0),
            timezone: Tz::Europe__Berlin,
            max_age: None,
        };
        // 04:59 UTC is 05:59 in Berlin in winter: the day before yesterday will do.
        let early = utc("2025-01-10T04:59:00Z");
        assert_eq!(f.expected_partition(early), Some(day("2025-01-08")));
        assert!(f
            .check(Some(day("2025-01-08")), None, early)
            .missed
            .is_empty());
        let late = utc("2025-01-10T05:00:00Z");
        let missed = f.check(Some(day("2025-01-08")), None, late).missed;
        assert_eq!(missed.len(), 1);
        assert!(
            missed[0].contains("2025-01-09") && missed[0].contains("06:00 Europe/Berlin"),
            "{missed:?}"
        );
        assert!(f
            .check(Some(day("2025-01-09")), None, late)
            .missed
            .is_empty());
    }

    #[test]
    fn a_freshness_section_is_checked_with_the_contract() {
        let base = include_str!("../../../examples/transactions.toml");
        let parse = |section: &str| {
            super::super::Contract::parse(
                &format!("{base}\n[freshness]\n{section}"),
                "c.toml".as_ref(),
            )
        };
        let f = parse("partition_by = \"06:30\"\ntimezone = \"Asia/Tokyo\"\nmax_age = \"2h\"")
            .unwrap()
            .freshness
            .unwrap();
        assert_eq!(f.partition_by, NaiveTime::from_hms_opt(6, 30, 0));
        assert_eq!(
            (f.timezone, f.max_age),
            (Tz::Asia__Tokyo, Some(Duration::from_secs(7200)))
        );
        for (section, key) in [
            ("partition_by = \"6am\"", "freshness.partition_by"),
            ("max_age = \"soon\"", "freshness.max_age"),
            (
                "partition_by = \"06:00\"\ntimezone = \"Mars\"",
                "freshness.timezone",
            ),
            ("timezone = \"UTC\"", "freshness"),
        ] {
            let e = parse(section).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{section}: {e}");
        }
    }

    #[test]
    fn max_age_counts_from_the_last_load() {
        let f = Freshness {
            partition_by: None,
            timezone: Tz::UTC,
            max_age: Some(Duration::from_secs(7200)),
        };
        let now = utc("2025-01-10T12:00:00Z");
        assert!(f
            .check(None, Some(utc("2025-01-10T10:30:00Z")), now)
            .missed
            .is_empty());
        let missed = f.check(None, Some(utc("2025-01-10T09:00:00Z")), now).missed;
        assert!(missed[0].contains("10800s"), "{missed:?}");
        assert!(f.check(None, None, now).missed[0].contains("ever"));
    }
}
