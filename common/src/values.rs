//! Parsing and formatting values of the contract's types (decimals, dates,
//! timestamps): the contract's bounds, and every field a task reads. Hot path:
//! they run once per field, so the common spellings (plain decimals, ISO dates,
//! RFC 3339) take a hand-written route that does not allocate; other chrono
//! formats fall back to chrono.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

const UNIX_EPOCH_DAY_CE: i32 = 719_163;

/// The patterns that mean RFC 3339 / ISO 8601 and take the fast route.
const RFC3339_FORMATS: [&str; 3] = ["%Y-%m-%dT%H:%M:%S%.f%:z", "%+", "%Y-%m-%dT%H:%M:%S%:z"];

/// True if chrono can use `f` as a format.
pub fn is_valid_format(f: &str) -> bool {
    !f.is_empty()
        && chrono::format::StrftimeItems::new(f)
            .all(|item| !matches!(item, chrono::format::Item::Error))
}

/// Parses a decimal into its unscaled value at `scale`. Extra fraction digits are
/// accepted only when they are zeros: a finance column never rounds silently.
pub fn parse_decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let s = text.trim().as_bytes();
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut unscaled: i128 = 0;
    let mut int_digits = 0u32;
    let mut frac_digits = 0u32;
    let mut seen_point = false;
    let mut any_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                any_digit = true;
                let d = (b - b'0') as i128;
                if seen_point {
                    if frac_digits >= scale as u32 {
                        if d != 0 {
                            return None;
                        }
                        continue;
                    }
                    frac_digits += 1;
                } else if unscaled != 0 || d != 0 {
                    int_digits += 1;
                }
                unscaled = unscaled.checked_mul(10)?.checked_add(d)?;
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if !any_digit || int_digits + scale as u32 > precision as u32 {
        return None;
    }
    unscaled = unscaled.checked_mul(10i128.pow(scale as u32 - frac_digits))?;
    Some(if negative { -unscaled } else { unscaled })
}

/// `true`, `t`, `yes`, `y`, `1` and `false`, `f`, `no`, `n`, `0`, in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 5] = ["true", "t", "yes", "y", "1"];
    const FALSE: [&str; 5] = ["false", "f", "no", "n", "0"];
    let text = text.trim();
    // Compared in place: this runs once per field, and lowering a copy allocates.
    let spelled = |words: &[&str]| words.iter().any(|w| text.eq_ignore_ascii_case(w));
    if spelled(&TRUE) {
        Some(true)
    } else if spelled(&FALSE) {
        Some(false)
    } else {
        None
    }
}

/// Days since 1970-01-01. Without formats, ISO `YYYY-MM-DD`.
pub fn parse_date(text: &str, formats: &[String]) -> Option<i32> {
    let text = text.trim();
    let date = if formats.is_empty() {
        fast_date(text.as_bytes())?
    } else {
        formats.iter().find_map(|f| {
            if f == "%Y-%m-%d" {
                fast_date(text.as_bytes())
            } else {
                NaiveDate::parse_from_str(text, f).ok()
            }
        })?
    };
    Some(date.num_days_from_ce() - UNIX_EPOCH_DAY_CE)
}

use chrono::Datelike;

/// Microseconds since the epoch. A value with an offset is converted to UTC when
/// `to_utc` (timestamptz); a value without one is read as UTC. For a `timestamp`
/// column (`to_utc == false`) the wall-clock time is kept as written.
pub fn parse_timestamp_micros(text: &str, formats: &[String], to_utc: bool) -> Option<i64> {
    let text = text.trim();
    let (naive, offset_secs) = if formats.is_empty() {
        fast_rfc3339(text.as_bytes())
            .or_else(|| {
                DateTime::parse_from_rfc3339(text)
                    .ok()
                    .map(|d| (d.naive_local(), d.offset().local_minus_utc()))
            })
            .or_else(|| {
                ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                    .map(|n| (n, 0))
            })?
    } else {
        formats.iter().find_map(|f| parse_with_format(text, f))?
    };
    let micros = naive.and_utc().timestamp_micros();
    Some(if to_utc {
        micros - offset_secs as i64 * 1_000_000
    } else {
        micros
    })
}

fn parse_with_format(text: &str, f: &str) -> Option<(NaiveDateTime, i32)> {
    if RFC3339_FORMATS.contains(&f) {
        return fast_rfc3339(text.as_bytes());
    }
    let has_zone = f.contains("%z") || f.contains("%:z") || f.contains("%#z") || f.contains("%+");
    if has_zone {
        DateTime::parse_from_str(text, f)
            .ok()
            .map(|d| (d.naive_local(), d.offset().local_minus_utc()))
    } else {
        NaiveDateTime::parse_from_str(text, f).ok().map(|n| (n, 0))
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
    })
}

fn fast_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&b[..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`; a space may stand for the `T`.
fn fast_rfc3339(b: &[u8]) -> Option<(NaiveDateTime, i32)> {
    if b.len() < 20 || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let date = fast_date(&b[..10])?;
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let n = end - start;
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&b[start..end])? * 10u32.pow(9 - n as u32);
        i = end;
    }
    let offset = match &b[i..] {
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, b':', mm1, mm2] => {
            let (hh, mm) = (digits(&[*hh1, *hh2])?, digits(&[*mm1, *mm2])?);
            if hh > 23 || mm > 59 {
                return None;
            }
            let secs = (hh * 3600 + mm * 60) as i32;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(h, m, s, nanos)?;
    Some((date.and_time(time), offset))
}

pub fn format_date(days: i32) -> String {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_DAY_CE)
        .map(|d| d.to_string())
        .unwrap_or_else(|| format!("day {days}"))
}

pub fn format_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| format!("{micros} µs"))
}

/// Formats an unscaled decimal at `scale`, e.g. (12345, 2) → "123.45".
pub fn format_decimal(unscaled: i128, scale: u8) -> String {
    if scale == 0 {
        return unscaled.to_string();
    }
    let sign = if unscaled < 0 { "-" } else { "" };
    let abs = unscaled.unsigned_abs();
    let div = 10u128.pow(scale as u32);
    format!(
        "{sign}{}.{:0width$}",
        abs / div,
        abs % div,
        width = scale as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_read_in_any_case_and_nothing_else_is() {
        for t in ["true", "TRUE", "True", " t ", "Yes", "y", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t:?}");
        }
        for f in ["false", "FALSE", "F", "no", " N", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f:?}");
        }
        for other in [
            "", "tru", "truee", "yess", "2", "01", "oui", "ｔrue", "ye s",
        ] {
            assert_eq!(parse_bool(other), None, "{other:?}");
        }
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("123.45", 12, 2), Some(12345));
        assert_eq!(parse_decimal("-0.5", 12, 2), Some(-50));
        assert_eq!(parse_decimal("7", 12, 2), Some(700));
        assert_eq!(parse_decimal("1.230", 12, 2), Some(123));
        assert_eq!(parse_decimal("1.234", 12, 2), None, "never rounds");
        assert_eq!(parse_decimal("12.3x", 12, 2), None);
        assert_eq!(parse_decimal("", 12, 2), None);
        assert_eq!(parse_decimal(".", 12, 2), None);
        assert_eq!(
            parse_decimal("1234567890123", 12, 2),
            None,
            "too many digits"
        );
        assert_eq!(parse_decimal("0000001.00", 3, 2), Some(100));
        assert_eq!(format_decimal(-12345, 2), "-123.45");
        assert_eq!(format_decimal(5, 2), "0.05");
    }

    #[test]
    fn timestamps_convert_to_utc() {
        let f = vec![
            "%Y-%m-%dT%H:%M:%S%.f%:z".to_string(),
            "%Y-%m-%d %H:%M:%S".to_string(),
        ];
        let a = parse_timestamp_micros("2025-01-05T13:04:05.123+01:00", &f, true).unwrap();
        let b = parse_timestamp_micros("2025-01-05 12:04:05", &f, true).unwrap();
        assert_eq!(a - b, 123_000);
        assert_eq!(format_micros(b), "2025-01-05T12:04:05.000000Z");
        assert!(parse_timestamp_micros("2025-13-45T99:00:00", &f, true).is_none());
        assert!(parse_timestamp_micros("yesterday", &f, true).is_none());
        let wall = parse_timestamp_micros("2025-01-05T13:04:05+01:00", &f, false).unwrap();
        assert_eq!(format_micros(wall), "2025-01-05T13:04:05.000000Z");
    }

    #[test]
    fn fast_route_agrees_with_chrono() {
        for s in [
            "2025-01-05T13:04:05.123456789-05:30",
            "2024-02-29T00:00:00Z",
            "1999-12-31 23:59:59.5+14:00",
        ] {
            let chrono = DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
            assert_eq!(parse_timestamp_micros(s, &[], true), Some(chrono), "{s}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-02", &[]), Some(1));
        assert_eq!(parse_date("02/01/1970", &["%d/%m/%Y".into()]), Some(1));
        assert_eq!(parse_date("2025-02-30", &[]), None);
        assert_eq!(format_date(1), "1970-01-02");
    }
}
