//! How a Task runs on this machine, fixed when it is applied (from the applying command's
//! flags and environment) and stored beside it, so the engine and supervisor, which may have
//! been started by another command, run it the way its author asked.

use crate::sandbox::SandboxMode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What runs inside the sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunnerMode {
    /// `axon agent run [--entrypoint PATH] PROMPT` (the agent runner writes the results).
    #[default]
    Axon,
    /// A custom entrypoint is executed directly and the supervisor reads git itself.
    Direct,
}

/// Per-Task run options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOptions {
    #[serde(default)]
    pub sandbox: SandboxMode,
    #[serde(default)]
    pub runner: RunnerMode,
    /// `spec.image` resolved to an absolute path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<PathBuf>,
    /// `AXON_AGENT_BIN_DIR`: where the agent CLIs live (put on PATH, bound read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_bin_dir: Option<PathBuf>,
    /// The user's real HOME, hidden from the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_home: Option<PathBuf>,
    /// PATH of the applying command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}
