//! The local backend's one error type. Every message says what to do next, and none carries a
//! secret value or a token (URLs are redacted before they get here).

use thiserror::Error;

/// Anything the local backend can fail with.
#[derive(Debug, Error)]
pub enum LocalError {
    #[error("cannot use AXON_HOME {path}: {reason}")]
    Home { path: String, reason: String },
    #[error("local store {path}: {reason}")]
    Store { path: String, reason: String },
    #[error("{kind} {name:?} not found")]
    NotFound { kind: String, name: String },
    #[error(
        "{kind} {name:?} was changed by someone else (resourceVersion {expected} is stale, now {actual}): get it again and re-apply"
    )]
    Conflict {
        kind: String,
        name: String,
        expected: String,
        actual: String,
    },
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error(
        "bubblewrap (bwrap) is not installed, and the local backend runs every agent in a bubblewrap sandbox: install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap; Arch: sudo pacman -S bubblewrap), or run without a sandbox with --sandbox none (the agent can then read your home directory)"
    )]
    BwrapMissing,
    #[error("workspace clone failed: {0}")]
    Clone(String),
    #[error("{0}")]
    Secret(String),
    #[error("cannot start {what}: {reason}")]
    Spawn { what: String, reason: String },
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
    #[error("Task {0:?} was deleted before it finished")]
    Deleted(String),
}

impl LocalError {
    /// An I/O error, with what was being done.
    pub(crate) fn io(what: impl Into<String>, e: impl std::fmt::Display) -> LocalError {
        LocalError::Io {
            what: what.into(),
            reason: e.to_string(),
        }
    }
}
