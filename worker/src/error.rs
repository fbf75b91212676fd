/// Errors of the worker library. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot reach the coordinator at {url}: {message}. Check --coordinator and that the coordinator is running")]
    Connect { url: String, message: String },

    #[error("the coordinator refused a request: {0}")]
    Rpc(#[from] tonic::Status),

    #[error(transparent)]
    Security(#[from] floe_proto::security::SecurityError),

    #[error(transparent)]
    Floe(#[from] floe_common::FloeError),
}

/// Queue errors reach the worker as they reach the data path.
impl From<floe_queue::QueueError> for WorkerError {
    fn from(e: floe_queue::QueueError) -> Self {
        WorkerError::Floe(e.into())
    }
}
