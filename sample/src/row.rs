//! Generation of one valid transaction record.
//!
//! A record is kept as 14 separate field buffers (reused across rows) rather
//! than one line, so a defect can replace exactly one field before the record
//! is joined into CSV.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::desc;
use super::dist::{self, pick, pick_hashed};
use super::fmt::{self, DateBytes};
use super::plan::mix64;

pub(crate) const NCOLS: usize = 14;

/// Column positions, in contract order.
pub(crate) mod col {
    pub const TX: usize = 0;
    pub const CUSTOMER: usize = 1;
    pub const MERCHANT: usize = 2;
    pub const TS: usize = 3;
    pub const AMOUNT: usize = 4;
    pub const CURRENCY: usize = 5;
    pub const STATUS: usize = 6;
    pub const CATEGORY: usize = 7;
    pub const COUNTRY: usize = 8;
    pub const PAYMENT: usize = 9;
    pub const QUANTITY: usize = 10;
    pub const ONLINE: usize = 11;
    pub const SETTLEMENT: usize = 12;
    pub const DESCRIPTION: usize = 13;
}

pub(crate) const HEADER: &[u8] =
    b"transaction_id,customer_id,merchant_id,ts,amount,currency,status,\
category,country,payment_method,quantity,is_online,settlement_date,description\n";

pub(crate) const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "CHF", "JPY"];
pub(crate) const CATEGORIES: [&str; 8] = [
    "grocery",
    "electronics",
    "travel",
    "restaurants",
    "fashion",
    "health",
    "utilities",
    "entertainment",
];
/// Share of merchants per category (sums to 100).
const CATEGORY_WEIGHTS: [u32; 8] = [25, 10, 8, 18, 12, 9, 8, 10];
/// Median amount per category, in cents; amounts are log-normal around it.
const CATEGORY_MEDIAN_CENTS: [f64; 8] = [
    3_500.0, 18_000.0, 35_000.0, 2_800.0, 6_500.0, 4_000.0, 9_000.0, 2_500.0,
];
/// Probability that a purchase in the category is online.
const CATEGORY_ONLINE: [f64; 8] = [0.15, 0.7, 0.8, 0.2, 0.5, 0.3, 0.9, 0.6];

/// (country, index of its home currency, weight).
const COUNTRIES: [(&str, usize, u32); 16] = [
    ("FR", 0, 14),
    ("DE", 0, 16),
    ("ES", 0, 9),
    ("IT", 0, 9),
    ("NL", 0, 6),
    ("BE", 0, 4),
    ("AT", 0, 3),
    ("IE", 0, 2),
    ("PT", 0, 3),
    ("GB", 2, 12),
    ("US", 1, 12),
    ("CA", 1, 2),
    ("CH", 3, 4),
    ("JP", 4, 3),
    ("SE", 0, 2),
    ("PL", 0, 2),
];
const STATUSES: [&str; 4] = ["settled", "pending", "refunded", "failed"];
const STATUS_WEIGHTS: [u32; 4] = [82, 10, 5, 3];
/// Weights of settlement delays of 0, 1, 2 and 3 days.
const SETTLE_WEIGHTS: [u32; 4] = [15, 50, 25, 10];
/// Relative traffic per UTC hour: quiet nights, lunch and evening peaks.
const HOUR_WEIGHTS: [u32; 24] = [
    2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 11, 13, 15, 13, 11, 10, 10, 12, 14, 14, 12, 9, 6, 4,
];

const MS_PER_DAY: i64 = 86_400_000;
const MERCHANTS: f64 = 20_000.0;
const CUSTOMERS: f64 = 250_000.0;

/// Constants shared by every row of one day.
pub(crate) struct DayCtx {
    pub today: DateBytes,
    prev: DateBytes,
    next: DateBytes,
    /// `today + 0..=3` days, for `settlement_date`.
    settle: [DateBytes; 4],
    /// Day number in the top 20 bits of every transaction-id counter.
    id_day_bits: u64,
    /// Keys the id permutation and merchant traits by the config seed.
    seed_key: u64,
}

impl DayCtx {
    pub(crate) fn new(seed: u64, date: chrono::NaiveDate) -> DayCtx {
        use chrono::Datelike;
        let day = |n: i64| fmt::date_bytes(date + chrono::Duration::days(n));
        DayCtx {
            today: day(0),
            prev: day(-1),
            next: day(1),
            settle: [day(0), day(1), day(2), day(3)],
            id_day_bits: (date.num_days_from_ce() as u64) << 44,
            seed_key: mix64(seed ^ 0x5851_f42d_4c95_7f2d),
        }
    }

    /// Unique per (seed, day, file, row): the counter packs day (20 bits),
    /// file (12 bits) and row (32 bits), and `mix64` is a bijection.
    pub(crate) fn transaction_id(&self, file: u32, row: u64) -> u64 {
        mix64((self.id_day_bits | (u64::from(file) << 32) | row) ^ self.seed_key)
    }
}

/// Which shape the joined CSV record has; only `wrong_column_count` rows
/// deviate from `Normal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Normal,
    DropLast,
    Extra,
}

/// One record under construction.
pub(crate) struct Record {
    pub fields: [Vec<u8>; NCOLS],
    pub amount_cents: i64,
    pub category: usize,
    pub shape: Shape,
}

impl Record {
    pub(crate) fn new() -> Record {
        Record {
            fields: std::array::from_fn(|_| Vec::with_capacity(32)),
            amount_cents: 0,
            category: 0,
            shape: Shape::Normal,
        }
    }

    /// Replaces one field's content.
    pub(crate) fn set(&mut self, column: usize, value: &[u8]) {
        self.fields[column].clear();
        self.fields[column].extend_from_slice(value);
    }

    /// Appends the record as one CSV record terminated by `\n`.
    pub(crate) fn write_csv(&self, out: &mut Vec<u8>) {
        let n = if self.shape == Shape::DropLast {
            NCOLS - 1
        } else {
            NCOLS
        };
        for (i, field) in self.fields[..n].iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            fmt::push_csv_field(out, field);
        }
        if self.shape == Shape::Extra {
            out.extend_from_slice(b",extra");
        }
        out.push(b'\n');
    }
}

/// Fills `rec` with a fully valid row. `id` must be unique in the dataset.
pub(crate) fn fill_valid(rng: &mut ChaCha8Rng, ctx: &DayCtx, id: u64, rec: &mut Record) {
    rec.shape = Shape::Normal;
    for f in rec.fields.iter_mut() {
        f.clear();
    }
    let f = &mut rec.fields;
    f[col::TX].extend_from_slice(b"tx_");
    fmt::push_hex16(&mut f[col::TX], id);

    // A few heavy customers and merchants, a long tail of occasional ones.
    let u = rng.random::<f64>();
    let customer = (CUSTOMERS * u * u) as u64;
    f[col::CUSTOMER].extend_from_slice(b"c_");
    fmt::push_padded(
        &mut f[col::CUSTOMER],
        mix64(customer ^ ctx.seed_key) % 1_000_000,
        6,
    );
    let u = rng.random::<f64>();
    let merchant = 1 + (MERCHANTS * u * u * u) as u64;
    f[col::MERCHANT].extend_from_slice(b"m_");
    fmt::push_padded(&mut f[col::MERCHANT], merchant, 5);

    // A merchant keeps its category and home country across rows and days.
    let traits = mix64(merchant ^ ctx.seed_key.rotate_left(17));
    let category = pick_hashed(traits, &CATEGORY_WEIGHTS);
    rec.category = category;
    f[col::CATEGORY].extend_from_slice(CATEGORIES[category].as_bytes());
    let home = pick_hashed(traits >> 32, &COUNTRY_WEIGHTS);
    let country = if rng.random_bool(0.9) {
        home
    } else {
        pick(rng, &COUNTRY_WEIGHTS)
    };
    f[col::COUNTRY].extend_from_slice(COUNTRIES[country].0.as_bytes());
    let currency = if rng.random_bool(0.92) {
        COUNTRIES[country].1
    } else {
        rng.random_range(0..5)
    };
    f[col::CURRENCY].extend_from_slice(CURRENCIES[currency].as_bytes());

    write_ts(rng, ctx, &mut f[col::TS]);
    rec.amount_cents = amount_cents(rng, category, currency == 4);
    fmt::push_cents(&mut f[col::AMOUNT], rec.amount_cents);

    let status = pick(rng, &STATUS_WEIGHTS);
    f[col::STATUS].extend_from_slice(STATUSES[status].as_bytes());
    let online = rng.random_bool(CATEGORY_ONLINE[category]);
    f[col::ONLINE].extend_from_slice(if online { b"true" } else { b"false" });
    f[col::PAYMENT].extend_from_slice(payment_method(rng, online, category).as_bytes());
    fmt::push_u64(&mut f[col::QUANTITY], quantity(rng));
    f[col::SETTLEMENT].extend_from_slice(&ctx.settle[pick(rng, &SETTLE_WEIGHTS)]);
    desc::fill(rng, category, STATUSES[status], &mut f[col::DESCRIPTION]);
}

const COUNTRY_WEIGHTS: [u32; 16] = {
    let mut w = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        w[i] = COUNTRIES[i].2;
        i += 1;
    }
    w
};

/// Writes a timestamp whose UTC instant lies in the file's UTC day. Most use
/// `+00:00`; some carry `+01:00` / `-05:00` (so the local date may be the
/// previous or next day) and some use the offset-less UTC format.
fn write_ts(rng: &mut ChaCha8Rng, ctx: &DayCtx, out: &mut Vec<u8>) {
    let hour = pick(rng, &HOUR_WEIGHTS) as i64;
    let utc_ms = hour * 3_600_000 + rng.random_range(0..3_600_000i64);
    if rng.random_bool(0.05) {
        out.extend_from_slice(&ctx.today);
        out.push(b' ');
        fmt::push_hms(out, utc_ms as u64);
        return;
    }
    let (offset_ms, suffix): (i64, &[u8]) = match rng.random_range(0..100u32) {
        0..=84 => (0, b"+00:00"),
        85..=93 => (3_600_000, b"+01:00"),
        _ => (-5 * 3_600_000, b"-05:00"),
    };
    let local = utc_ms + offset_ms;
    let (date, ms) = if local < 0 {
        (&ctx.prev, local + MS_PER_DAY)
    } else if local >= MS_PER_DAY {
        (&ctx.next, local - MS_PER_DAY)
    } else {
        (&ctx.today, local)
    };
    out.extend_from_slice(date);
    out.push(b'T');
    let millis = fmt::push_hms(out, ms as u64);
    out.push(b'.');
    fmt::push_padded(out, millis, 3);
    out.extend_from_slice(suffix);
}

/// Log-normal amount around the category median, clamped to the contract's
/// 0.01..=50000. JPY has no minor unit, so its amounts are whole.
fn amount_cents(rng: &mut ChaCha8Rng, category: usize, whole_units: bool) -> i64 {
    let raw = CATEGORY_MEDIAN_CENTS[category] * dist::exp(1.1 * dist::normal(rng));
    let cents = (raw as i64).clamp(1, 5_000_000);
    if whole_units {
        (cents / 100 * 100).max(100)
    } else {
        cents
    }
}

/// Mostly single items, a few bulk orders up to the contract's max of 1000.
fn quantity(rng: &mut ChaCha8Rng) -> u64 {
    match rng.random_range(0..1000u32) {
        0..=599 => 1,
        600..=849 => rng.random_range(2..=3),
        850..=979 => rng.random_range(4..=20),
        // Steep tail so 1000 is rare but reachable: 21 + 979 * u^4.
        _ => {
            let u = rng.random::<f64>();
            21 + (980.0 * u * u * u * u) as u64
        }
    }
}

fn payment_method(rng: &mut ChaCha8Rng, online: bool, category: usize) -> &'static str {
    const METHODS: [&str; 4] = ["card", "bank_transfer", "wallet", "cash"];
    let weights: [u32; 4] = match (online, CATEGORIES[category]) {
        (_, "utilities") => [30, 60, 10, 0],
        (true, _) => [60, 10, 30, 0],
        (false, _) => [68, 2, 12, 18],
    };
    METHODS[pick(rng, &weights)]
}
