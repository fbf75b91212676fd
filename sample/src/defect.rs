//! Turning a valid record into a bad one with exactly one defect.
//!
//! Each defect touches a single field (or the field count), starting from a
//! fully valid record, so a validator should report exactly one reason.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::desc;
use super::fmt;
use super::row::{col, DayCtx, Record, Shape};
use super::truth::BadKind;

/// Applies `kind` to a record previously filled by `row::fill_valid`.
pub(crate) fn inject(kind: BadKind, rng: &mut ChaCha8Rng, ctx: &DayCtx, rec: &mut Record) {
    match kind {
        BadKind::MissingRequired => missing_required(rng, rec),
        BadKind::BadNumber => bad_number(rng, rec),
        BadKind::OutOfRange => out_of_range(rng, rec),
        BadKind::BadEnum => {
            const BAD: [&[u8]; 5] = [b"XXX", b"eur", b"usd", b"EURO", b"Gbp"];
            rec.set(col::CURRENCY, BAD[rng.random_range(0..BAD.len())]);
        }
        BadKind::BadTimestamp => bad_timestamp(rng, ctx, rec),
        BadKind::WrongColumnCount => {
            rec.shape = if rng.random_bool(0.5) {
                Shape::DropLast
            } else {
                Shape::Extra
            };
        }
        BadKind::InvalidUtf8 => {
            desc::fill_invalid_utf8(rng, rec.category, &mut rec.fields[col::DESCRIPTION]);
        }
        BadKind::TooLong => {
            let len = rng.random_range(201..=500);
            desc::fill_long(rng, len, &mut rec.fields[col::DESCRIPTION]);
        }
        BadKind::BadRegex => bad_regex(rng, rec),
    }
}

/// Empty id or empty amount. Amount is preferred because empty ids are the
/// only values bad rows can share; they are still never a valid row's key.
fn missing_required(rng: &mut ChaCha8Rng, rec: &mut Record) {
    let column = if rng.random_bool(0.3) {
        col::TX
    } else {
        col::AMOUNT
    };
    rec.set(column, b"");
}

/// Values no decimal parser accepts (no `NaN`, `inf` or exponent forms,
/// which some parsers do accept).
fn bad_number(rng: &mut ChaCha8Rng, rec: &mut Record) {
    match rng.random_range(0..4u32) {
        0 => rec.fields[col::AMOUNT].push(b'x'), // "12.3x"
        1 => rec.set(col::AMOUNT, b"abc"),
        2 => rec.set(col::AMOUNT, b"12..50"),
        _ => rec.set(col::AMOUNT, b"1O0.00"), // letter O, a classic OCR slip
    }
}

/// Numbers that parse but break the contract's min/max.
fn out_of_range(rng: &mut ChaCha8Rng, rec: &mut Record) {
    let mut v = Vec::with_capacity(16);
    match rng.random_range(0..4u32) {
        0 => fmt::push_cents(&mut v, -rng.random_range(1..=500_000i64)),
        1 => fmt::push_cents(&mut v, rng.random_range(5_000_001..=99_999_999i64)),
        2 => return rec.set(col::QUANTITY, b"0"),
        _ => return rec.set(col::QUANTITY, b"5000"),
    }
    rec.set(col::AMOUNT, &v);
}

/// Values neither `%Y-%m-%dT%H:%M:%S%.f%:z` nor `%Y-%m-%d %H:%M:%S` parse.
fn bad_timestamp(rng: &mut ChaCha8Rng, ctx: &DayCtx, rec: &mut Record) {
    let mut v = Vec::with_capacity(32);
    match rng.random_range(0..4u32) {
        0 => v.extend_from_slice(b"2025-13-45T99:00:00"),
        1 => v.extend_from_slice(b"yesterday"),
        2 => {
            v.extend_from_slice(&ctx.today);
            v.extend_from_slice(b"T25:61:00.000+00:00");
        }
        _ => {
            // Day-first local style: 05/01/2025 13:04
            let d = &ctx.today;
            v.extend_from_slice(&[d[8], d[9], b'/', d[5], d[6], b'/', d[0], d[1], d[2], d[3]]);
            v.extend_from_slice(b" 13:04");
        }
    }
    rec.set(col::TS, &v);
}

/// A bad country, or a non-empty id that fails `^tx_[0-9a-f]{16}$`. The id
/// variants keep the row's own unique hex and change its shape (prefix case,
/// length), so they can never equal another row's id.
fn bad_regex(rng: &mut ChaCha8Rng, rec: &mut Record) {
    let tx = &mut rec.fields[col::TX];
    match rng.random_range(0..5u32) {
        0 => rec.set(col::COUNTRY, b"France"),
        1 => rec.set(col::COUNTRY, b"fr"),
        2 => tx[..3].copy_from_slice(b"TX_"),
        3 => {
            tx.pop(); // 15 hex digits
        }
        _ => tx.push(b'0'), // 17 hex digits
    }
}
