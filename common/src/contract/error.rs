use std::path::PathBuf;

/// A mistake in a pipeline contract. Every variant names the file and the key,
/// what was found and what is expected, so the author can fix it without guessing.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("cannot read contract {file}: {source}")]
    Unreadable {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("contract {file} is not valid TOML at line {line}, column {column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("contract {file}: key `{key}` has {found}; expected {expected}")]
    Invalid {
        file: PathBuf,
        key: String,
        found: String,
        expected: String,
    },
}

/// Collects the file name so each check only states key, found and expected.
pub(crate) struct Checker<'a> {
    pub file: &'a std::path::Path,
}

impl Checker<'_> {
    pub fn invalid(
        &self,
        key: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> ContractError {
        ContractError::Invalid {
            file: self.file.to_path_buf(),
            key: key.into(),
            found: crate::printable(&found.into()),
            expected: expected.into(),
        }
    }
}
