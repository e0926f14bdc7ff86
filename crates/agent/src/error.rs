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

    /// No prompt was given.
    #[error(
        "no prompt: pass --prompt-file PATH (or set AXON_PROMPT_FILE), or the prompt as the argument"
    )]
    NoPrompt,

    /// The prompt was given twice.
    #[error("the prompt was given both as an argument and with --prompt-file: pass one of them")]
    PromptTwice,

    /// The prompt is over the runner's limit.
    #[error(
        "the prompt ({origin}) is larger than the limit of 10 MiB ({limit} bytes): shorten it",
        limit = crate::prompt::MAX_PROMPT_BYTES
    )]
    PromptTooLarge { origin: String },

    /// The prompt file is not text.
    #[error("the prompt file {path} is not UTF-8 text")]
    PromptNotUtf8 { path: PathBuf },

    /// The agent CLI cannot take this prompt (it would drop or ignore part of it).
    #[error("{agent} cannot take this prompt: {reason}")]
    PromptRefused { agent: &'static str, reason: String },

    /// The custom agent's copy of the prompt could not be written.
    #[error(
        "cannot write the prompt file for the custom agent below {dir}: {source} (set TMPDIR to a writable directory)"
    )]
    WritePromptFile {
        dir: PathBuf,
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

    /// The relay to the gateway could not listen inside the sandbox.
    #[error(
        "cannot listen on 127.0.0.1:{port} for the gateway relay: {source} (AXON_GATEWAY_PORT must be free inside the sandbox)"
    )]
    GatewayListen {
        port: u16,
        #[source]
        source: std::io::Error,
    },

    /// The gateway's socket is not where the driver said.
    #[error(
        "the gateway socket {path} cannot be used: {reason} (the driver must bind its directory into the sandbox)"
    )]
    GatewaySocket { path: PathBuf, reason: String },
}

/// Why Axon could not push what an agent made from outside its sandbox
/// ([`crate::outside_push`], [`crate::wip`]).
#[derive(Debug, thiserror::Error)]
pub enum OutsideGitError {
    /// The temporary repository could not be made.
    #[error("cannot make a scratch repository for the push: {0} (is TMPDIR writable?)")]
    Scratch(#[source] std::io::Error),

    /// One of the agent's object files could not be read.
    #[error("cannot read the agent's object file {path}: {source}")]
    CopyObjects {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The agent's objects are too large to copy.
    #[error("the agent's git objects are larger than {limit} bytes: not pushed")]
    TooLarge { limit: u64 },

    /// A git step failed.
    #[error("{what} failed: {detail}")]
    Git { what: String, detail: String },
}
