//! Allocation-free formatting into reusable byte buffers.
//!
//! The generator formats ~10 numbers per row; going through `format!` or
//! `chrono::format` would allocate per field and dominate the run time.

/// The 10 bytes of a `YYYY-MM-DD` date, precomputed once per day.
pub(crate) type DateBytes = [u8; 10];

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `n` in decimal.
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `n` zero-padded to `width` digits (wider numbers are not cut).
pub(crate) fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    let mut m = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    let start = i.min(tmp.len() - width.min(tmp.len()));
    buf.extend_from_slice(&tmp[start..]);
}

/// Appends exactly 16 lowercase hex digits.
pub(crate) fn push_hex16(buf: &mut Vec<u8>, n: u64) {
    let mut tmp = [0u8; 16];
    for (i, b) in tmp.iter_mut().enumerate() {
        *b = HEX[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
    buf.extend_from_slice(&tmp);
}

/// Appends a cent amount as a decimal with exactly two places (`-12.05`).
pub(crate) fn push_cents(buf: &mut Vec<u8>, cents: i64) {
    if cents < 0 {
        buf.push(b'-');
    }
    let abs = cents.unsigned_abs();
    push_u64(buf, abs / 100);
    buf.push(b'.');
    push_padded(buf, abs % 100, 2);
}

/// Appends `HH:MM:SS` for a millisecond-of-day value and returns the millis.
pub(crate) fn push_hms(buf: &mut Vec<u8>, ms_of_day: u64) -> u64 {
    let secs = ms_of_day / 1000;
    push_padded(buf, secs / 3600, 2);
    buf.push(b':');
    push_padded(buf, secs / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, secs % 60, 2);
    ms_of_day % 1000
}

/// Formats a date as `YYYY-MM-DD` bytes.
pub(crate) fn date_bytes(date: chrono::NaiveDate) -> DateBytes {
    use chrono::Datelike;
    let mut v = Vec::with_capacity(10);
    push_padded(&mut v, date.year() as u64, 4);
    v.push(b'-');
    push_padded(&mut v, date.month() as u64, 2);
    v.push(b'-');
    push_padded(&mut v, date.day() as u64, 2);
    v.try_into().expect("years 1..=9999 give 10 bytes")
}

/// Appends one CSV field, quoting per RFC 4180 only when needed: fields
/// holding a comma, quote, CR or LF are wrapped in quotes with quotes doubled.
pub(crate) fn push_csv_field(out: &mut Vec<u8>, field: &[u8]) {
    let needs_quotes = field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn numbers_format_like_std() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            assert_eq!(s(|b| push_u64(b, n)), n.to_string());
            assert_eq!(s(|b| push_padded(b, n, 6)), format!("{n:06}"));
        }
        assert_eq!(s(|b| push_hex16(b, 0xab)), "00000000000000ab");
        assert_eq!(s(|b| push_cents(b, 12345)), "123.45");
        assert_eq!(s(|b| push_cents(b, 5)), "0.05");
        assert_eq!(s(|b| push_cents(b, -1205)), "-12.05");
        assert_eq!(
            s(|b| {
                push_hms(b, 13 * 3_600_000 + 4 * 60_000 + 5_123);
            }),
            "13:04:05"
        );
    }

    #[test]
    fn csv_quoting_follows_rfc4180() {
        assert_eq!(s(|b| push_csv_field(b, b"plain text")), "plain text");
        assert_eq!(s(|b| push_csv_field(b, b"a,b")), "\"a,b\"");
        assert_eq!(
            s(|b| push_csv_field(b, b"say \"hi\"")),
            "\"say \"\"hi\"\"\""
        );
        assert_eq!(s(|b| push_csv_field(b, b"l1\nl2")), "\"l1\nl2\"");
        assert_eq!(s(|b| push_csv_field(b, b"")), "");
    }

    #[test]
    fn date_bytes_are_iso() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 5).unwrap();
        assert_eq!(&date_bytes(d), b"2025-01-05");
    }
}
