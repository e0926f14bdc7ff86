//! Errors of the resource model: every message names the file, the document and the field.

use thiserror::Error;

/// An error loading or validating resources.
#[derive(Debug, Error, PartialEq)]
pub enum ApiError {
    /// The file could not be read.
    #[error("{file}: cannot read: {reason}")]
    Read { file: String, reason: String },
    /// The text is not valid YAML.
    #[error("{file}: invalid YAML: {reason}")]
    Syntax { file: String, reason: String },
    /// A document is not a valid resource.
    #[error("{file}: document {index} ({what}): {path}: {reason}")]
    Field {
        file: String,
        /// Zero-based position of the document in the file.
        index: usize,
        /// `Kind/name` as far as known.
        what: String,
        /// Dotted field path, e.g. `spec.when.cron.schedule`.
        path: String,
        reason: String,
    },
    /// The config file is not valid.
    #[error("config file {file}: {path}: {reason}")]
    Config {
        file: String,
        path: String,
        reason: String,
    },
}
