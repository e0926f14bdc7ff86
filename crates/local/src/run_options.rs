//! How a Task runs on this machine, fixed when it is applied (from the applying command's
//! flags and environment) and stored beside it, so the engine and supervisor, which may have
//! been started by another command, run it the way its author asked.

use crate::network::IsolatedNetwork;
use crate::sandbox::SandboxMode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Per-Task run options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOptions {
    #[serde(default)]
    pub sandbox: SandboxMode,
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
    /// The config file's `timeoutSeconds` when the Task was applied: the timeout of a Task
    /// without `spec.timeoutSeconds` (`axon_core::timeout::effective_timeout`; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timeout_seconds: Option<i64>,
    /// Directories to bind read-only so a built-in agent CLI installed under the user's HOME
    /// runs in the sandbox (`crate::agent_bins`); empty with `AXON_AGENT_BIN_DIR` or a custom
    /// `image`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_paths: Vec<PathBuf>,
    /// Directories to put first on the agent's PATH, with `agent_paths`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agent_path_prefix: Vec<PathBuf>,
    /// A restricted network: the sandbox gets its own network namespace and reaches only the
    /// gateway's socket (`crate::network`). `None`: the host's network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated_network: Option<IsolatedNetwork>,
    /// The config file's `pricing` when the Task was applied (the Task's own wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pricing: Vec<axon_api::ModelPrice>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_stored_before_the_new_fields_still_read() {
        let old =
            serde_json::json!({"sandbox": "bubblewrap", "runner": "axon", "path": "/usr/bin"});
        let opts: RunOptions = serde_json::from_value(old).expect("old options");
        assert_eq!(opts.default_timeout_seconds, None);
        assert!(opts.agent_paths.is_empty() && opts.agent_path_prefix.is_empty());
        let new = RunOptions {
            default_timeout_seconds: Some(0),
            agent_paths: vec!["/h/.nvm/versions/node/v20".into()],
            agent_path_prefix: vec!["/h/.nvm/versions/node/v20/bin".into()],
            ..RunOptions::default()
        };
        let v = serde_json::to_value(&new).expect("json");
        assert_eq!(v["defaultTimeoutSeconds"], 0);
        assert_eq!(v["agentPathPrefix"][0], "/h/.nvm/versions/node/v20/bin");
        assert_eq!(serde_json::from_value::<RunOptions>(v).expect("back"), new);
    }
}
