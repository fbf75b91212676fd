//! Checks the contract's `[maintenance]` policy (see `crate::maintenance`).

use super::error::Checker;
use super::raw::RawMaintenance;
use super::{ContractError, MaintenanceSpec};

pub(super) fn build_maintenance(
    check: &Checker,
    raw: &RawMaintenance,
) -> Result<MaintenanceSpec, ContractError> {
    const AGE: &str = "an age such as 90s, 30m, 6h or 7d";
    let age = |key: &str, text: &str| {
        crate::maintenance::parse_age(text).ok_or_else(|| check.invalid(key, text, AGE))
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
    Ok(MaintenanceSpec {
        every,
        compact_min_files,
        expire_older_than: raw
            .expire_older_than
            .as_deref()
            .map(|t| age("maintenance.expire_older_than", t))
            .transpose()?,
        retain_last: retain_last as usize,
        orphan_older_than: raw
            .orphan_older_than
            .as_deref()
            .map(|t| age("maintenance.orphan_older_than", t))
            .transpose()?,
    })
}
