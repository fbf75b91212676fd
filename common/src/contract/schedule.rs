//! The contract's `[schedule]`: when the coordinator loads a registered
//! pipeline by itself, and which day each load covers.
//!
//! ```toml
//! [schedule]
//! cron = "0 2 * * *"          # minute hour day-of-month month day-of-week
//! timezone = "Europe/Berlin"  # the cron's clock (default UTC); DST-aware
//! load = "yesterday"          # or "today": the day so far, reloaded whole
//! ```

use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::Deserialize;

use super::error::Checker;
use super::ContractError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub cron: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub load: Option<String>,
}

/// Which day a scheduled load covers, on the schedule's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleLoad {
    /// The day before the tick: a day whose files are complete.
    Yesterday,
    /// The tick's own day so far; each tick reloads it whole (a re-run
    /// replaces), and the first tick of a new day also finishes the last one.
    Today,
}

impl ScheduleLoad {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Yesterday => "yesterday",
            Self::Today => "today",
        }
    }
}

/// A checked `[schedule]`.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The pattern as written, for messages.
    pub cron: String,
    pub timezone: Tz,
    pub load: ScheduleLoad,
    parsed: Cron,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        (self.cron.as_str(), self.timezone, self.load)
            == (other.cron.as_str(), other.timezone, other.load)
    }
}

impl Schedule {
    /// How the schedule reads, e.g. `0 2 * * * Europe/Berlin, loads yesterday`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}, loads {}",
            self.cron,
            self.timezone.name(),
            self.load.as_str()
        )
    }

    /// The first tick strictly after `after`.
    pub fn next_tick(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        let next = self.parsed.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }

    /// The latest tick at or before `at`.
    pub fn latest_tick(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.timezone);
        let previous = self.parsed.find_previous_occurrence(&local, true).ok()?;
        Some(previous.with_timezone(&Utc))
    }

    /// The day the load of `tick` covers.
    pub fn day_loaded(&self, tick: DateTime<Utc>) -> NaiveDate {
        let today = tick.with_timezone(&self.timezone).date_naive();
        match self.load {
            ScheduleLoad::Today => today,
            ScheduleLoad::Yesterday => today.checked_sub_days(Days::new(1)).unwrap_or(today),
        }
    }
}

/// A contract's time zone: an IANA name, UTC when absent.
pub(super) fn timezone(
    check: &Checker,
    key: &str,
    name: Option<&str>,
) -> Result<Tz, ContractError> {
    match name {
        None => Ok(Tz::UTC),
        Some(name) => Tz::from_str(name).map_err(|_| {
            check.invalid(
                key,
                name,
                "an IANA time zone such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\"",
            )
        }),
    }
}

pub(super) fn build_schedule(
    check: &Checker,
    raw: &RawSchedule,
) -> Result<Schedule, ContractError> {
    // Five fields, as in crontab: a pipeline is not loaded every few seconds.
    let parsed = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(&raw.cron)
        .map_err(|e| {
            check.invalid(
                "schedule.cron",
                &raw.cron,
                format!(
                    "a cron pattern of five fields, minute hour day-of-month month \
                     day-of-week, such as \"0 2 * * *\" (daily at 02:00) or \"*/15 * * * *\" ({e})"
                ),
            )
        })?;
    let timezone = timezone(check, "schedule.timezone", raw.timezone.as_deref())?;
    let load = match raw.load.as_deref() {
        None | Some("yesterday") => ScheduleLoad::Yesterday,
        Some("today") => ScheduleLoad::Today,
        Some(other) => {
            return Err(check.invalid(
                "schedule.load",
                other,
                "\"yesterday\" (the day before the tick) or \"today\" (the tick's day so far)",
            ))
        }
    };
    let schedule = Schedule {
        cron: raw.cron.trim().to_string(),
        timezone,
        load,
        parsed,
    };
    // A pattern such as "0 0 31 2 *" parses but never fires.
    if schedule.next_tick(Utc::now()).is_none() {
        return Err(check.invalid(
            "schedule.cron",
            &raw.cron,
            "a pattern that matches some day (this one never fires)",
        ));
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(cron: &str, timezone: &str, load: &str) -> Result<Schedule, ContractError> {
        let file = std::path::Path::new("c.toml");
        build_schedule(
            &Checker { file },
            &RawSchedule {
                cron: cron.into(),
                timezone: Some(timezone.into()),
                load: Some(load.into()),
            },
        )
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_at_two_in_berlin_follows_daylight_saving() {
        let s = schedule("0 2 * * *", "Europe/Berlin", "yesterday").unwrap();
        // Winter: 02:00 CET is 01:00 UTC.
        let tick = s.next_tick(utc("2025-01-10T12:00:00Z")).unwrap();
        assert_eq!(tick, utc("2025-01-11T01:00:00Z"));
        assert_eq!(
            s.day_loaded(tick),
            NaiveDate::from_ymd_opt(2025, 1, 10).unwrap()
        );
        // Summer: 02:00 CEST is 00:00 UTC.
        let tick = s.next_tick(utc("2025-07-10T12:00:00Z")).unwrap();
        assert_eq!(tick, utc("2025-07-11T00:00:00Z"));
        assert_eq!(s.latest_tick(tick), Some(tick), "inclusive");
        assert_eq!(
            s.latest_tick(utc("2025-07-11T09:00:00Z")),
            Some(utc("2025-07-11T00:00:00Z"))
        );
    }

    #[test]
    fn today_loads_the_ticks_own_day_on_the_schedules_clock() {
        let s = schedule("*/15 * * * *", "America/New_York", "today").unwrap();
        // 03:00 UTC on the 11th is still the 10th in New York.
        let tick = s.latest_tick(utc("2025-01-11T03:07:00Z")).unwrap();
        assert_eq!(tick, Utc.with_ymd_and_hms(2025, 1, 11, 3, 0, 0).unwrap());
        assert_eq!(
            s.day_loaded(tick),
            NaiveDate::from_ymd_opt(2025, 1, 10).unwrap()
        );
    }

    #[test]
    fn mistakes_name_the_key_and_what_is_expected() {
        let e = schedule("0 2 * *", "UTC", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedule.cron") && e.contains("five fields"),
            "{e}"
        );
        let e = schedule("0 0 2 * * *", "UTC", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedule.cron"), "seconds are refused: {e}");
        let e = schedule("0 2 * * *", "Berlin", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedule.timezone") && e.contains("IANA"), "{e}");
        let e = schedule("0 2 * * *", "UTC", "last week")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedule.load") && e.contains("\"today\""),
            "{e}"
        );
        let e = schedule("0 0 31 2 *", "UTC", "today")
            .unwrap_err()
            .to_string();
        assert!(e.contains("never fires"), "{e}");
    }
}
