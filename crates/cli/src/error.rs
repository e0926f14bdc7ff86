//! The CLI's errors: what went wrong and what to do about it.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    #[error("HOME is not set: set HOME or AXON_HOME")]
    NoHome,
    #[error("config file {0} does not exist: create it with `axon init` or fix --config")]
    ConfigMissing(PathBuf),
    #[error("{0} already exists: pass --force to overwrite it")]
    ConfigExists(PathBuf),
    #[error(transparent)]
    Api(#[from] axon_api::ApiError),
    #[error(transparent)]
    RunRequest(#[from] axon_core::run_request::RunRequestError),
    #[error(transparent)]
    Local(#[from] axon_local::LocalError),
    #[error(transparent)]
    Kube(#[from] axon_kube::KubeError),
    #[error(transparent)]
    Backend(#[from] axon_port::BackendError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Receiver(#[from] crate::webhook_server::ReceiverError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} {1:?} not found")]
    NotFound(&'static str, String),
    #[error("{0}")]
    Invalid(String),
}

impl CliError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Io { what, source }
    }
}
