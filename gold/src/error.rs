//! What can go wrong with a Gold model, worded so its author can fix it.

use datafusion::error::DataFusionError;
use floe_common::FloeError;

#[derive(Debug, thiserror::Error)]
pub enum GoldError {
    /// The SQL does not parse or plan: a syntax error, an unknown table or
    /// column, a type mismatch.
    #[error("model `{model}`: {message} ({position}). Fix the model's `sql` in the contract")]
    Sql {
        model: String,
        message: String,
        /// `line 2, column 8 of its SQL (line 41 of transactions.toml)`, or
        /// `no position given` when the engine did not say.
        position: String,
    },

    /// The model's shape is wrong: what it reads, its partition column, its
    /// output types, its tests.
    #[error("model `{model}`: {message}")]
    Model { model: String, message: String },

    /// The model's SQL is not one read-only query (`kind` is what it is).
    #[error(
        "model `{model}`: its SQL {}. Fix the model's `sql` in the contract",
        crate::read_only::refusal(kind)
    )]
    NotReadOnly { model: String, kind: String },

    /// A query needed more memory than the session's limit.
    #[error(
        "{context}: it needs more memory than the Gold memory limit allows ({message}). Make it \
         lighter (filter or aggregate earlier, read fewer partitions), or raise the limit: \
         --gold-memory-mb (FLOE_GOLD_MEMORY_MB) on the workers, --memory-mb for `floe-coordinator sql`"
    )]
    MemoryLimit { context: String, message: String },

    /// A model test failed: nothing was committed.
    #[error(
        "model `{model}`, partition {partition}: test {test} failed on {failing} row(s); nothing \
         was committed and the Gold partition keeps its previous state. Sample:\n{sample}"
    )]
    TestFailed {
        model: String,
        partition: String,
        test: String,
        failing: u64,
        sample: String,
    },

    /// A query given to `floe-coordinator sql`.
    #[error("query: {0}")]
    Query(String),

    /// The engine failed while running a query that planned.
    #[error("{context}: {source}")]
    Engine {
        context: String,
        #[source]
        source: DataFusionError,
    },

    #[error(transparent)]
    Floe(#[from] FloeError),
}

pub type Result<T> = std::result::Result<T, GoldError>;

/// The model `m` is wrong in the way `message` says.
pub(crate) fn iceberg_error(context: &str, e: iceberg::Error) -> GoldError {
    GoldError::Floe(floe_common::FloeError::Iceberg {
        context: context.into(),
        source: Box::new(e),
    })
}

pub(crate) fn model_error(m: &floe_common::contract::ModelSpec, message: String) -> GoldError {
    GoldError::Model {
        model: m.name.clone(),
        message,
    }
}

impl GoldError {
    pub(crate) fn engine(context: impl Into<String>) -> impl FnOnce(DataFusionError) -> Self {
        let context = context.into();
        move |source| match exhausted(&source) {
            Some(message) => GoldError::MemoryLimit { context, message },
            None => GoldError::Engine { context, source },
        }
    }

    /// Worth another delivery: storage and catalog faults, not mistakes in the model.
    pub fn is_retryable(&self) -> bool {
        match self {
            GoldError::Floe(e) => e.is_retryable(),
            GoldError::Engine { .. } => true,
            _ => false,
        }
    }
}

/// The engine's words when `e` (or an error it wraps, through contexts, shared
/// errors and Arrow) is its memory pool refusing an allocation.
fn exhausted(e: &DataFusionError) -> Option<String> {
    e.iter().find_map(|e| match e.find_root() {
        DataFusionError::ResourcesExhausted(message) => Some(message.clone()),
        _ => None,
    })
}

/// Table layer errors reach Gold as they reach the data path.
impl From<floe_lake::LakeError> for GoldError {
    fn from(e: floe_lake::LakeError) -> Self {
        GoldError::Floe(e.into())
    }
}

impl From<GoldError> for FloeError {
    fn from(e: GoldError) -> Self {
        match e {
            GoldError::Floe(e) => e,
            other => FloeError::Gold {
                retryable: other.is_retryable(),
                source: Box::new(other),
            },
        }
    }
}
