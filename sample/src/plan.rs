//! How the month's rows are split into days and files, and how seeds are
//! derived so that every file can be generated independently of the others.

use std::io;

use chrono::{Datelike, NaiveDate, Weekday};

/// One day partition to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayPlan {
    pub date: NaiveDate,
    pub rows: u64,
    /// Depends only on the config seed and the date, never on the order in
    /// which days are scheduled, so parallel output stays deterministic.
    pub seed: u64,
}

/// SplitMix64's finalizer: a bijection on `u64` with good avalanche.
///
/// Being a bijection matters: transaction ids are `mix64(counter ^ key)`, so
/// distinct counters can never collide.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Sub-seed for one day. Adding a large odd constant before mixing keeps
/// day 0 / seed 0 away from the fixed point `mix64(0) == 0`.
pub(crate) fn day_seed(seed: u64, date: NaiveDate) -> u64 {
    let day = date.num_days_from_ce() as u64;
    mix64(mix64(seed.wrapping_add(0x9e37_79b9_7f4a_7c15)) ^ day.wrapping_mul(0xd6e8_feb8_6659_fd93))
}

/// Sub-seed for one file of a day.
pub(crate) fn file_seed(day_seed: u64, file_index: u32) -> u64 {
    mix64(day_seed ^ mix64(u64::from(file_index) + 1))
}

/// All dates of the configured month.
pub(crate) fn month_days(year: i32, month: u32) -> io::Result<Vec<NaiveDate>> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)
        .ok_or_else(|| invalid(format!("no such month: {year}-{month:02}")))?;
    Ok(first
        .iter_days()
        .take_while(|d| d.month() == month)
        .collect())
}

/// Relative traffic of a day: weekends busier, Friday a little busier, plus a
/// small seeded jitter so months do not look perfectly periodic.
fn day_weight(seed: u64, date: NaiveDate) -> u64 {
    let base: u64 = match date.weekday() {
        Weekday::Mon => 100,
        Weekday::Tue => 97,
        Weekday::Wed => 100,
        Weekday::Thu => 104,
        Weekday::Fri => 114,
        Weekday::Sat => 130,
        Weekday::Sun => 121,
    };
    // Adds 0..=12: a jitter of about +-6% around `base + 6`.
    base + day_seed(seed, date) % 13
}

/// Splits `total` rows over the days proportionally to their weights with
/// the largest-remainder method, in integer arithmetic so the sum is exact
/// and the result is platform-independent.
pub(crate) fn plan_days(seed: u64, dates: &[NaiveDate], total: u64) -> Vec<DayPlan> {
    let weights: Vec<u128> = dates
        .iter()
        .map(|&d| u128::from(day_weight(seed, d)))
        .collect();
    let sum_w: u128 = weights.iter().sum();
    let mut rows: Vec<u64> = weights
        .iter()
        .map(|w| (u128::from(total) * w / sum_w) as u64)
        .collect();
    let assigned: u64 = rows.iter().sum();
    // Fewer than `dates.len()` rows are left; give them to the largest
    // remainders, earlier days winning ties.
    let mut order: Vec<usize> = (0..dates.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(u128::from(total) * weights[i] % sum_w));
    for &i in order.iter().take((total - assigned) as usize) {
        rows[i] += 1;
    }
    dates
        .iter()
        .zip(rows)
        .map(|(&date, rows)| DayPlan {
            date,
            rows,
            seed: day_seed(seed, date),
        })
        .collect()
}

/// Rows of file `index` when a day's rows are split evenly over `files`
/// files (the first files take the remainder).
pub(crate) fn rows_in_file(day_rows: u64, files: u32, index: u32) -> u64 {
    let files = u64::from(files);
    let index = u64::from(index);
    day_rows / files + u64::from(index < day_rows % files)
}

pub(crate) fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_sum_exactly_and_weekends_are_busier() {
        let dates = month_days(2025, 1).unwrap();
        assert_eq!(dates.len(), 31);
        for total in [0u64, 1, 30, 31, 32, 100_000, 10_000_001] {
            let plan = plan_days(42, &dates, total);
            assert_eq!(plan.iter().map(|d| d.rows).sum::<u64>(), total);
        }
        let plan = plan_days(42, &dates, 1_000_000);
        let avg = |pred: fn(Weekday) -> bool| {
            let v: Vec<u64> = plan
                .iter()
                .filter(|d| pred(d.date.weekday()))
                .map(|d| d.rows)
                .collect();
            v.iter().sum::<u64>() / v.len() as u64
        };
        let weekend = avg(|w| matches!(w, Weekday::Sat | Weekday::Sun));
        let weekday = avg(|w| !matches!(w, Weekday::Sat | Weekday::Sun));
        assert!(weekend > weekday, "weekend {weekend} <= weekday {weekday}");
    }

    #[test]
    fn files_split_day_exactly() {
        for (rows, files) in [(0u64, 3u32), (7, 3), (1000, 1), (1001, 4)] {
            let sum: u64 = (0..files).map(|i| rows_in_file(rows, files, i)).sum();
            assert_eq!(sum, rows);
        }
    }

    #[test]
    fn seeds_differ_per_day_file_and_seed() {
        let d1 = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
        assert_ne!(day_seed(42, d1), day_seed(42, d2));
        assert_ne!(day_seed(42, d1), day_seed(43, d1));
        assert_ne!(file_seed(7, 0), file_seed(7, 1));
        assert!(month_days(2025, 13).is_err());
    }
}
