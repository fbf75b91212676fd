use floe_common::FloeError;

/// Errors of the coordinator library. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("period `{0}` is not valid: use YYYY-MM for a month (--backfill), YYYY-MM-DD for a day (--date), or --from/--to with two days")]
    BadPeriod(String),

    #[error("no input files for {pipeline} in {period}: nothing matched {pattern}. Check --bronze and source.location in the contract")]
    NoInput {
        pipeline: String,
        period: String,
        pattern: String,
    },

    #[error("cannot list Bronze files with pattern {pattern}: {message}")]
    Listing { pattern: String, message: String },

    #[error(transparent)]
    Floe(#[from] FloeError),
}
