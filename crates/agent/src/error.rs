//! The runner's one error type. Every variant is a *runner* failure (exit code 2): the agent
//! itself never ran, or its outcome could not be recorded. An agent that ran and failed is not
//! an error here; it is a results document with `success: false` (exit code 1).
//!
//! Messages say what to fix. They never carry secret values: credentials are only ever named.

use std::path::PathBuf;

/// Why `axon agent run` could not run the agent or record its outcome.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A required environment variable is missing.
    #[error("{name} is not set: the driver must pass it (see docs/agent-image-interface.md)")]
    MissingEnv { name: &'static str },

    /// An environment variable holds a value the runner cannot use.
    #[error("{name}={value:?} is not valid: {reason}")]
    InvalidEnv {
        name: &'static str,
        value: String,
        reason: String,
    },

    /// The agent CLI is not installed where the runner looks.
    #[error(
        "agent CLI `{program}` not found in {searched}: install it (see agents/<type>/Dockerfile) or set AXON_AGENT_BIN_DIR to the directory holding it"
    )]
    CliNotFound { program: String, searched: String },

    /// A file the driver pointed at could not be read.
    #[error("cannot read {what} {path}: {source}")]
    ReadInput {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A configuration file for the agent CLI could not be written.
    #[error("cannot write agent configuration {path}: {source}")]
    WriteConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The agent process could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// Reading the agent's output or waiting for it failed.
    #[error("lost track of the agent process: {0}")]
    Process(#[source] std::io::Error),

    /// The results document could not be written.
    #[error("cannot write the results document to {path}: {source}")]
    WriteResults {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
