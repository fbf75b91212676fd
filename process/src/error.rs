//! The error enum of the process plumbing. Each message says what to do about it.

pub type Result<T, E = ProcessError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(
        "config file {path}: {message}. Fix the file, or point --config / FLOE_CONFIG at another"
    )]
    ConfigFile { path: String, message: String },

    #[error(transparent)]
    Lake(#[from] floe_lake::LakeError),
}
