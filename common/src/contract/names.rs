//! Names that reach paths, table properties, log fields and metric labels:
//! the pipeline's, the models', the tables'.

use super::error::Checker;
use super::{ContractError, TableName};

/// The longest pipeline or model name.
pub const MAX_NAME_CHARS: usize = 64;

/// A pipeline or model name. Names reach file paths, table properties, log
/// fields and metric labels, so they are plain identifiers: letters, digits,
/// `_` and `-`, starting with a letter or digit, at most [`MAX_NAME_CHARS`]
/// long. Nothing like `/../` can then climb out of the warehouse.
pub(super) fn identifier(check: &Checker, key: &str, value: &str) -> Result<String, ContractError> {
    let name = value.trim();
    let ok = (1..=MAX_NAME_CHARS).contains(&name.chars().count())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(check.invalid(
            key,
            format!("`{value}`"),
            format!(
                "a name of letters, digits, `_` and `-` that starts with a letter or digit, \
                 at most {MAX_NAME_CHARS} characters"
            ),
        ));
    }
    Ok(name.to_string())
}

pub(super) fn table_name(
    check: &Checker,
    key: &str,
    value: &str,
) -> Result<TableName, ContractError> {
    TableName::parse(value).ok_or_else(|| {
        check.invalid(
            key,
            format!("`{value}`"),
            "namespace.table, each part letters, digits and underscores only, at most 128 characters",
        )
    })
}
