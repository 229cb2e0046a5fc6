/// A rule that cannot be built for its column: reported at plan time, before any data moves.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum BuildError {
    #[error("unknown transformer `{name}`; run `decoy transformer list` to see the catalogue")]
    UnknownTransformer { name: String },
    #[error("transformer `{transformer}`: {message}")]
    BadOption { transformer: String, message: String },
    #[error("transformer `{transformer}` cannot be used on column {column}: {message}")]
    Incompatible {
        transformer: String,
        column: String,
        message: String,
    },
}

/// A value the transformer could not handle; names the transformer so the caller can add table/column.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("transformer `{transformer}`: {message}")]
pub struct TransformError {
    pub transformer: String,
    pub message: String,
}
