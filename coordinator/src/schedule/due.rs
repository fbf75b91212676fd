//! What a schedule asks for now: a pure function of the schedule, when it was
//! armed, its last fired tick and the clock, so catching up is property-tested.

use chrono::{DateTime, Days, NaiveDate, Utc};
use floe_common::contract::{Schedule, ScheduleLoad};

/// One run a schedule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The latest tick at or before now: the run records it as its start.
    pub tick: DateTime<Utc>,
    /// The first tick not yet fired; earlier than `tick` when ticks were
    /// missed (the coordinator was down) and this run catches them up.
    pub first_missed: DateTime<Utc>,
    /// The days the run loads, inclusive.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// Days left out because the catch-up was longer than a run may be.
    pub days_dropped: u64,
}

impl Due {
    /// Ticks before `tick` were missed and are caught up by this one run.
    pub fn catches_up(&self) -> bool {
        self.first_missed < self.tick
    }
}

/// The run a schedule asks for at `now`, if any. Ticks after `armed` (when the
/// coordinator first saw the schedule) and after `last_fired` are due; however
/// many there are, they make one run, over every day they would have loaded
/// (at most `max_days`, the newest).
pub fn due(
    schedule: &Schedule,
    armed: DateTime<Utc>,
    last_fired: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    max_days: u64,
) -> Option<Due> {
    let since = last_fired.map_or(armed, |fired| fired.max(armed));
    let first_missed = schedule.next_tick(since)?;
    if first_missed > now {
        return None;
    }
    let tick = schedule.latest_tick(now)?.max(first_missed);
    let last_day = schedule.day_loaded(tick);
    let first_day = match (schedule.load, last_fired) {
        // The day the last tick loaded was still filling: load it whole again,
        // so its last hours are not lost when the day turns.
        (ScheduleLoad::Today, Some(fired)) => schedule.day_loaded(fired),
        _ => schedule.day_loaded(first_missed),
    }
    .min(last_day);
    let days = (last_day - first_day).num_days() as u64 + 1;
    let max_days = max_days.max(1);
    let (first_day, days_dropped) = if days > max_days {
        let kept = last_day
            .checked_sub_days(Days::new(max_days - 1))
            .unwrap_or(first_day);
        (kept, days - max_days)
    } else {
        (first_day, 0)
    };
    Some(Due {
        tick,
        first_missed,
        first_day,
        last_day,
        days_dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use floe_common::contract::Contract;
    use proptest::prelude::*;

    fn schedule(cron: &str, timezone: &str, load: &str) -> Schedule {
        let text = format!(
            "{}\n[schedule]\ncron = \"{cron}\"\ntimezone = \"{timezone}\"\nload = \"{load}\"\n",
            std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/transactions.toml"
            ))
            .unwrap()
        );
        Contract::parse(&text, "c.toml".as_ref())
            .unwrap()
            .schedule
            .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_daily_schedule_fires_once_per_tick_for_yesterday() {
        let s = schedule("0 2 * * *", "UTC", "yesterday");
        let armed = utc("2025-01-10T12:00:00Z");
        assert_eq!(due(&s, armed, None, utc("2025-01-11T01:59:00Z"), 366), None);
        let d = due(&s, armed, None, utc("2025-01-11T02:00:30Z"), 366).unwrap();
        assert_eq!(
            (d.first_day, d.last_day),
            (day("2025-01-10"), day("2025-01-10"))
        );
        assert!(!d.catches_up());
        assert_eq!(
            due(&s, armed, Some(d.tick), utc("2025-01-11T09:00:00Z"), 366),
            None
        );
    }

    #[test]
    fn missed_ticks_are_caught_up_by_one_run_over_their_days() {
        let s = schedule("0 2 * * *", "UTC", "yesterday");
        let fired = utc("2025-01-11T02:00:00Z");
        let d = due(&s, fired, Some(fired), utc("2025-01-14T08:00:00Z"), 366).unwrap();
        assert!(d.catches_up());
        assert_eq!(d.tick, utc("2025-01-14T02:00:00Z"));
        assert_eq!(
            (d.first_day, d.last_day),
            (day("2025-01-11"), day("2025-01-13"))
        );
        let short = due(&s, fired, Some(fired), utc("2025-01-14T08:00:00Z"), 2).unwrap();
        assert_eq!(
            (short.first_day, short.days_dropped),
            (day("2025-01-12"), 1)
        );
    }

    #[test]
    fn a_today_schedule_finishes_the_day_it_was_filling_when_the_day_turns() {
        let s = schedule("*/15 * * * *", "UTC", "today");
        let fired = utc("2025-01-10T23:45:00Z");
        let d = due(&s, fired, Some(fired), utc("2025-01-11T00:00:10Z"), 366).unwrap();
        assert_eq!(
            (d.first_day, d.last_day),
            (day("2025-01-10"), day("2025-01-11"))
        );
        let fired = d.tick;
        let d = due(&s, fired, Some(fired), utc("2025-01-11T00:15:00Z"), 366).unwrap();
        assert_eq!(
            (d.first_day, d.last_day),
            (day("2025-01-11"), day("2025-01-11"))
        );
    }

    const PATTERNS: [(&str, &str, &str); 5] = [
        ("0 2 * * *", "Europe/Berlin", "yesterday"),
        ("30 */6 * * *", "UTC", "yesterday"),
        ("*/15 * * * *", "America/New_York", "today"),
        ("0 3 * * 1-5", "Asia/Kolkata", "yesterday"),
        ("0 0 1 * *", "UTC", "today"),
    ];

    proptest! {
        /// Checked at arbitrary moments, a schedule fires each run at most once per
        /// tick, never before a tick, and the days its runs load cover every day
        /// its ticks would have loaded one by one.
        #[test]
        fn every_tick_is_served_once_and_no_day_is_skipped(
            pattern in 0..PATTERNS.len(),
            gaps in proptest::collection::vec(1i64..200_000, 1..60),
        ) {
            let (cron, tz, load) = PATTERNS[pattern];
            let s = schedule(cron, tz, load);
            let armed = utc("2025-03-20T10:00:00Z");
            let mut now = armed;
            let mut last_fired = None;
            let mut loaded = std::collections::BTreeSet::new();
            let mut fired_ticks = Vec::new();
            for gap in gaps {
                now += chrono::Duration::seconds(gap * 7);
                if let Some(d) = due(&s, armed, last_fired, now, 10_000) {
                    prop_assert!(d.tick <= now && d.first_missed <= d.tick);
                    prop_assert!(last_fired.is_none_or(|f| d.first_missed > f));
                    prop_assert_eq!(d.days_dropped, 0);
                    let mut day = d.first_day;
                    while day <= d.last_day {
                        loaded.insert(day);
                        day = day.succ_opt().unwrap();
                    }
                    last_fired = Some(d.tick);
                    fired_ticks.push(d.tick);
                }
                // Checked again at once: nothing more is due.
                prop_assert_eq!(due(&s, armed, last_fired, now, 10_000), None);
            }
            prop_assert!(fired_ticks.windows(2).all(|w| w[0] < w[1]));
            // Every tick up to the last fired one had its day loaded.
            if let Some(last) = last_fired {
                let mut tick = s.next_tick(armed);
                while let Some(t) = tick.filter(|t| *t <= last) {
                    prop_assert!(loaded.contains(&s.day_loaded(t)), "day of tick {} not loaded", t);
                    tick = s.next_tick(t);
                }
            }
        }
    }
}
