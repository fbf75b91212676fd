//! Free-text `description` values.
//!
//! Descriptions exercise the CSV reader: some are empty, some hold commas or
//! double quotes (so they must be quoted), a few hold an embedded newline,
//! and a few hold multi-byte UTF-8. Valid ones stay well under 200 bytes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fmt;

/// Item phrases per category (same order as `row::CATEGORIES`).
const ITEMS: [&[&str]; 8] = [
    &[
        "weekly groceries",
        "fresh produce",
        "milk and bread",
        "household supplies",
        "organic vegetables",
    ],
    &[
        "USB-C charger",
        "wireless headphones",
        "laptop stand",
        "4K monitor",
        "phone case",
    ],
    &[
        "train ticket",
        "hotel night",
        "airport transfer",
        "flight change fee",
        "car rental",
    ],
    &[
        "lunch for two",
        "dinner",
        "coffee and croissant",
        "takeaway pizza",
        "team lunch",
    ],
    &[
        "running shoes",
        "winter jacket",
        "jeans",
        "silk scarf",
        "summer dress",
    ],
    &[
        "pharmacy",
        "vitamins",
        "dental check-up",
        "contact lenses",
        "physiotherapy session",
    ],
    &[
        "electricity bill",
        "water bill",
        "mobile plan",
        "broadband",
        "gas bill",
    ],
    &[
        "cinema tickets",
        "concert ticket",
        "streaming subscription",
        "museum entry",
        "board game",
    ],
];

/// Shop names, some with non-ASCII letters to exercise UTF-8 handling.
const SHOPS: [&str; 10] = [
    "Maison Dupont",
    "Café Zürich",
    "Nordic Goods",
    "Bäckerei Müller",
    "Corner Store",
    "São Paulo Imports",
    "Green Leaf",
    "Hôtel du Lac",
    "City Mart",
    "Smith & Sons",
];

const NOTES: [&str; 4] = [
    "leave at door",
    "gift wrap please",
    "call on arrival",
    "deliver after 6pm",
];

/// Writes a valid description (at most ~80 bytes, often empty).
pub(crate) fn fill(rng: &mut ChaCha8Rng, category: usize, status: &str, out: &mut Vec<u8>) {
    let item = pick_str(rng, ITEMS[category]);
    match rng.random_range(0..1000u32) {
        0..=119 => {} // empty
        120..=419 => capitalized(out, item),
        420..=599 => {
            // Comma inside: forces quoting.
            out.extend_from_slice(b"Order #");
            fmt::push_u64(out, rng.random_range(10_000..1_000_000));
            out.extend_from_slice(b", ");
            let n = rng.random_range(1..=9);
            fmt::push_u64(out, n);
            out.extend_from_slice(if n == 1 { b" item" } else { b" items" });
        }
        600..=749 => {
            capitalized(out, item);
            out.extend_from_slice(b" at ");
            out.extend_from_slice(pick_str(rng, &SHOPS).as_bytes());
        }
        750..=849 => {
            // Double quotes inside: quoted and doubled.
            out.extend_from_slice(b"Gift: \"");
            out.extend_from_slice(item.as_bytes());
            out.extend_from_slice(b"\"");
        }
        850..=929 => {
            out.extend_from_slice(b"Ref ");
            fmt::push_hex16(out, rng.random());
            out.extend_from_slice(b"; ");
            out.extend_from_slice(item.as_bytes());
        }
        930..=991 if status == "refunded" => {
            out.extend_from_slice(b"Refund, order #");
            fmt::push_u64(out, rng.random_range(10_000..1_000_000));
        }
        930..=991 => {
            capitalized(out, item);
            out.extend_from_slice(b", ");
            let other = ITEMS[rng.random_range(0..ITEMS.len())];
            out.extend_from_slice(pick_str(rng, other).as_bytes());
        }
        _ => {
            // Embedded newline: one record spanning two physical lines.
            capitalized(out, item);
            out.extend_from_slice(b"\nNote: ");
            out.extend_from_slice(pick_str(rng, &NOTES).as_bytes());
        }
    }
}

/// Replaces `out` with exactly `len` ASCII bytes of text (for `too_long`).
pub(crate) fn fill_long(rng: &mut ChaCha8Rng, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"Customer note: ");
    while out.len() < len {
        let category = rng.random_range(0..ITEMS.len());
        out.extend_from_slice(pick_str(rng, ITEMS[category]).as_bytes());
        out.extend_from_slice(b", ");
    }
    out.truncate(len);
}

/// Replaces `out` with a short text holding the invalid UTF-8 bytes 0xff 0xfe.
pub(crate) fn fill_invalid_utf8(rng: &mut ChaCha8Rng, category: usize, out: &mut Vec<u8>) {
    out.clear();
    capitalized(out, pick_str(rng, ITEMS[category]));
    out.extend_from_slice(b" \xff\xfe ref ");
    fmt::push_u64(out, rng.random_range(1_000..100_000));
}

fn pick_str(rng: &mut ChaCha8Rng, items: &[&'static str]) -> &'static str {
    items[rng.random_range(0..items.len())]
}

/// Appends `s` with its first ASCII letter upper-cased.
fn capitalized(out: &mut Vec<u8>, s: &str) {
    let start = out.len();
    out.extend_from_slice(s.as_bytes());
    out[start] = out[start].to_ascii_uppercase();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn valid_descriptions_are_short_utf8_and_varied() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut empty, mut comma, mut quote, mut newline) = (0, 0, 0, 0);
        let mut buf = Vec::new();
        for i in 0..20_000 {
            buf.clear();
            fill(
                &mut rng,
                i % 8,
                if i % 5 == 0 { "refunded" } else { "settled" },
                &mut buf,
            );
            let s = std::str::from_utf8(&buf).expect("valid descriptions are UTF-8");
            assert!(s.chars().count() <= 200 && buf.len() <= 200);
            empty += usize::from(s.is_empty());
            comma += usize::from(s.contains(','));
            quote += usize::from(s.contains('"'));
            newline += usize::from(s.contains('\n'));
        }
        assert!(empty > 0 && comma > 0 && quote > 0 && newline > 0);
    }

    #[test]
    fn long_and_invalid_descriptions_have_their_defect() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut buf = Vec::new();
        fill_long(&mut rng, 500, &mut buf);
        assert_eq!(buf.len(), 500);
        assert!(std::str::from_utf8(&buf).is_ok());
        buf.clear();
        fill_invalid_utf8(&mut rng, 3, &mut buf);
        assert!(std::str::from_utf8(&buf).is_err() && buf.len() <= 200);
    }
}
