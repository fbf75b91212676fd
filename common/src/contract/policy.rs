//! Checks the contract's `[maintenance]` policy (see `floe_lake::maintenance`).

use std::time::Duration;

use floe_lake::maintenance::floors::{check_age, AgedOperation};

use super::error::Checker;
use super::raw::RawMaintenance;
use super::{ContractError, MaintenancePolicy};

/// An age in the contract and on the command line: `90s`, `30m`, `6h`, `7d`.
pub fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?.min(text.len()));
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

pub(super) fn build_maintenance(
    check: &Checker,
    raw: &RawMaintenance,
) -> Result<MaintenancePolicy, ContractError> {
    const AGE: &str = "an age such as 90s, 30m, 6h or 7d";
    let age = |key: &str, text: &str| parse_age(text).ok_or_else(|| check.invalid(key, text, AGE));
    // An age maintenance acts at beside running loads: at least its floor.
    let safe_age = |key: &str, text: &str, operation: AgedOperation| {
        let age = age(key, text)?;
        check_age(operation, age, raw.allow_unsafe_ages).map_err(|_| {
            check.invalid(
                key,
                text,
                format!(
                    "at least {}h, or a running task's rows could be lost or doubled \
                     (allow_unsafe_ages = true is for tests only)",
                    operation.floor().as_secs() / 3600
                ),
            )
        })?;
        Ok(age)
    };
    let every = age("maintenance.every", &raw.every)?;
    if every.is_zero() {
        return Err(check.invalid("maintenance.every", &raw.every, "at least 1s"));
    }
    let compact_min_files = match raw.compact_min_files {
        None => Some(4),
        Some(0) => None,
        Some(n) if n >= 2 => Some(n as usize),
        Some(n) => {
            return Err(check.invalid(
                "maintenance.compact_min_files",
                n.to_string(),
                "0 (never compact) or at least 2",
            ))
        }
    };
    let retain_last = raw.retain_last.unwrap_or(1);
    if retain_last < 1 {
        return Err(check.invalid(
            "maintenance.retain_last",
            retain_last.to_string(),
            "at least 1",
        ));
    }
    Ok(MaintenancePolicy {
        every,
        compact_min_files,
        expire_older_than: raw
            .expire_older_than
            .as_deref()
            .map(|t| safe_age("maintenance.expire_older_than", t, AgedOperation::Expiry))
            .transpose()?,
        retain_last: retain_last as usize,
        orphan_older_than: raw
            .orphan_older_than
            .as_deref()
            .map(|t| {
                safe_age(
                    "maintenance.orphan_older_than",
                    t,
                    AgedOperation::OrphanRemoval,
                )
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_have_a_unit() {
        assert_eq!(parse_age("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_age(" 6h "), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_age("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("0s"), Some(Duration::ZERO));
        for bad in ["", "7", "d", "7w", "-1d", "1.5h", "7 days"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }
}
