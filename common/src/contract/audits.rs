//! The contract's `[audits]`: what a staged run (`publish = "auto"`) must show
//! before the coordinator publishes it. A run that fails one is never
//! published; `status` names the audit and the partition.
//!
//! ```toml
//! [audits]
//! max_quarantine_rate = 0.05   # per partition: quarantined rows / rows in
//! max_row_change = 0.2         # per partition: Silver rows against main's, ±20%
//! require_all_days = true      # every day of the run's period loads valid rows
//! ```

use serde::Deserialize;

use super::error::Checker;
use super::{ContractError, Publish};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudits {
    #[serde(default)]
    pub max_quarantine_rate: Option<f64>,
    #[serde(default)]
    pub max_row_change: Option<f64>,
    #[serde(default)]
    pub require_all_days: bool,
}

/// The audits a staged run passes before it is published; each is off when unset.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Audits {
    /// Per partition: the share of its rows the run quarantined, at most this.
    pub max_quarantine_rate: Option<f64>,
    /// Per partition: the Silver rows the run would publish differ from the
    /// rows `main` holds there by at most this fraction, either way. A
    /// partition `main` does not hold yet passes.
    pub max_row_change: Option<f64>,
    /// Every day of the run's period loads valid rows: a day whose Bronze
    /// files are missing, or whose rows were all rejected, fails.
    pub require_all_days: bool,
}

impl Audits {
    pub fn any(&self) -> bool {
        self.max_quarantine_rate.is_some() || self.max_row_change.is_some() || self.require_all_days
    }
}

pub(super) fn build_audits(
    check: &Checker,
    raw: Option<&RawAudits>,
    publish: Publish,
) -> Result<Audits, ContractError> {
    let Some(raw) = raw else {
        return Ok(Audits::default());
    };
    if let Some(rate) = raw.max_quarantine_rate {
        if !(0.0..=1.0).contains(&rate) {
            return Err(check.invalid(
                "audits.max_quarantine_rate",
                rate.to_string(),
                "a share of rows from 0 to 1 (e.g. 0.05 for 5%)",
            ));
        }
    }
    if let Some(change) = raw.max_row_change {
        if !(change > 0.0 && change.is_finite()) {
            return Err(check.invalid(
                "audits.max_row_change",
                change.to_string(),
                "a fraction above 0 (e.g. 0.2 for ±20%)",
            ));
        }
    }
    let audits = Audits {
        max_quarantine_rate: raw.max_quarantine_rate,
        max_row_change: raw.max_row_change,
        require_all_days: raw.require_all_days,
    };
    if audits.any() && !publish.staged() {
        return Err(check.invalid(
            "audits",
            "audits with publish = \"direct\"",
            "publish = \"auto\" or \"manual\" in [target]: audits run on a staged run before \
             it is published, and a direct run's rows are visible as its tasks commit",
        ));
    }
    Ok(audits)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Contract;
    use super::*;

    fn example_with(target_extra: &str, audits: &str) -> Result<Contract, ContractError> {
        let example = include_str!("../../../examples/transactions.toml");
        assert!(
            example.contains("\npublish = \"auto\"\n"),
            "the example changed"
        );
        let text = example.replacen("\npublish = \"auto\"\n", &format!("\n{target_extra}\n"), 1);
        Contract::parse(
            &format!("{text}\n[audits]\n{audits}\n"),
            Path::new("c.toml"),
        )
    }

    #[test]
    fn audits_are_read_and_checked() {
        let c = example_with(
            "publish = \"auto\"",
            "max_quarantine_rate = 0.05\nmax_row_change = 0.2\nrequire_all_days = true",
        )
        .unwrap();
        assert_eq!(
            c.audits,
            Audits {
                max_quarantine_rate: Some(0.05),
                max_row_change: Some(0.2),
                require_all_days: true,
            }
        );
        assert_eq!(c.target.publish, Publish::Auto);
        let e = example_with("publish = \"auto\"", "max_quarantine_rate = 1.5").unwrap_err();
        assert!(e.to_string().contains("audits.max_quarantine_rate"), "{e}");
        let e = example_with("publish = \"auto\"", "max_row_change = 0").unwrap_err();
        assert!(e.to_string().contains("audits.max_row_change"), "{e}");
        assert_eq!(example_with("", "").unwrap().target.publish, Publish::Auto);
        assert!(
            example_with("", "max_row_change = 0.2").is_ok(),
            "staged by default"
        );
        let e = example_with("publish = \"direct\"", "max_row_change = 0.2").unwrap_err();
        assert!(e.to_string().contains("publish = \"auto\""), "{e}");
        let e = example_with("publish = \"direct\"", "require_all_days = true").unwrap_err();
        assert!(e.to_string().contains("publish = \"auto\""), "{e}");
        let e = example_with("publish = \"later\"", "").unwrap_err();
        assert!(e.to_string().contains("target.publish"), "{e}");
    }
}
