//! The days a run covers: a month (`--backfill 2025-01`), a day (`--date`), or a range.

use chrono::{Datelike, NaiveDate};

use crate::CoordinatorError;

/// The longest period a run may cover unless the coordinator says otherwise.
pub const DEFAULT_MAX_DAYS: usize = 366;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// How the user wrote it, for messages.
    pub label: String,
}

impl Period {
    /// `YYYY-MM` (a month) or `YYYY-MM-DD` (a day).
    pub fn parse(s: &str) -> Result<Self, CoordinatorError> {
        let bad = || CoordinatorError::BadPeriod(s.to_string());
        if let Ok(day) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Self {
                first: day,
                last: day,
                label: s.to_string(),
            });
        }
        let first = NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        let next = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
        }
        .ok_or_else(bad)?;
        Ok(Self {
            first,
            last: next.pred_opt().ok_or_else(bad)?,
            label: s.to_string(),
        })
    }

    /// A period from its label: [`Period::parse`]'s forms, or `FROM..TO`.
    pub fn from_label(label: &str) -> Result<Self, CoordinatorError> {
        match label.split_once("..") {
            Some((from, to)) => Self::range(from, to),
            None => Self::parse(label),
        }
    }

    /// Inclusive range of two days.
    pub fn range(from: &str, to: &str) -> Result<Self, CoordinatorError> {
        let a = Self::parse(from)?;
        let b = Self::parse(to)?;
        if a.first > b.last {
            return Err(CoordinatorError::BadPeriod(format!(
                "{from}..{to} (from is after to)"
            )));
        }
        Ok(Self {
            first: a.first,
            last: b.last,
            label: format!("{from}..{to}"),
        })
    }

    /// The days `first..=last`, labelled as a day or a range of days.
    pub fn between(first: NaiveDate, last: NaiveDate) -> Self {
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let label = if first == last {
            day(first)
        } else {
            format!("{}..{}", day(first), day(last))
        };
        Self { first, last, label }
    }

    /// Refuses a period longer than `max` days: one request must not make the
    /// coordinator list, plan and record an unbounded number of partitions.
    pub fn check_length(&self, max: usize) -> Result<(), CoordinatorError> {
        let days = (self.last - self.first).num_days().max(0) as usize + 1;
        if days > max {
            return Err(CoordinatorError::PeriodTooLong {
                period: self.label.clone(),
                days,
                max,
            });
        }
        Ok(())
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.first.iter_days().take_while(move |d| *d <= self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_days_and_ranges() {
        assert_eq!(Period::parse("2025-02").unwrap().days().count(), 28);
        assert_eq!(Period::parse("2024-12").unwrap().days().count(), 31);
        assert_eq!(Period::parse("2025-01-15").unwrap().days().count(), 1);
        assert_eq!(
            Period::range("2025-01-30", "2025-02-02")
                .unwrap()
                .days()
                .count(),
            4
        );
        assert!(Period::parse("2025-13").is_err());
        assert!(Period::parse("January").is_err());
        assert!(Period::range("2025-02-02", "2025-01-30").is_err());
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let between = Period::between(day("2025-01-30"), day("2025-02-02"));
        assert_eq!(between, Period::range("2025-01-30", "2025-02-02").unwrap());
        let one = Period::between(day("2025-01-30"), day("2025-01-30"));
        assert_eq!(one, Period::parse("2025-01-30").unwrap());
        for label in ["2025-01", "2025-01-30", "2025-01-30..2025-02-02"] {
            assert_eq!(Period::from_label(label).unwrap().label, label);
        }
        assert_eq!(
            Period::from_label("2025-01-30..2025-02-02").unwrap(),
            between
        );
    }

    #[test]
    fn a_period_longer_than_the_limit_is_refused_with_its_length() {
        let year = Period::range("2024-01-01", "2024-12-31").unwrap();
        assert!(year.check_length(DEFAULT_MAX_DAYS).is_ok());
        let ages = Period::range("0001-01-01", "9999-12-31").unwrap();
        let e = ages.check_length(DEFAULT_MAX_DAYS).unwrap_err().to_string();
        assert!(e.contains("3652059 days, more than the 366"), "{e}");
        assert!(e.contains("--max-period-days"), "{e}");
        assert!(Period::parse("2025-01-15").unwrap().check_length(1).is_ok());
    }
}
