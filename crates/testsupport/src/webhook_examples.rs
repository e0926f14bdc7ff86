//! Real GitHub webhook payloads from `@octokit/webhooks-examples` (npm), which
//! `scripts/install-deps.sh` unpacks at a pinned version and exports as
//! `AXON_WEBHOOK_EXAMPLES`. The receiver's tests sign these and post them, so that they parse
//! what GitHub actually sends rather than what the tests' authors remember.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Why an example cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    /// The package is not installed.
    #[error(
        "cannot read GitHub webhook examples from {path}: {source} (run scripts/install-deps.sh, which installs @octokit/webhooks-examples, and export AXON_WEBHOOK_EXAMPLES)"
    )]
    Read {
        /// The index file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The index is not what the package ships.
    #[error("{path} is not @octokit/webhooks-examples' index: {message}")]
    Format {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No example of that event and action.
    #[error("@octokit/webhooks-examples has no {event}.{action} example")]
    Missing {
        /// The event.
        event: String,
        /// The action.
        action: String,
    },
}

/// Where `@octokit/webhooks-examples` was unpacked: `$AXON_WEBHOOK_EXAMPLES`, else the CI
/// cache (`$AXON_CI_CACHE` or `~/.cache/axon-ci`) `/webhooks-examples/package`.
pub fn webhook_examples_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AXON_WEBHOOK_EXAMPLES") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("AXON_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/axon-ci")))
        .unwrap_or_else(|| PathBuf::from("/root/.cache/axon-ci"));
    cache.join("webhooks-examples/package")
}

/// The first github.com example of `event` with `action` (e.g. `issues`, `opened`) that is
/// about an issue rather than a pull request when it has an `issue`.
pub fn example(package_dir: &Path, event: &str, action: &str) -> Result<Value, ExampleError> {
    let path = package_dir.join("api.github.com/index.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ExampleError::Read {
        path: path.clone(),
        source,
    })?;
    let index: Value = serde_json::from_str(&text).map_err(|e| ExampleError::Format {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let events = index.as_array().ok_or_else(|| ExampleError::Format {
        path: path.clone(),
        message: "not a list of events".into(),
    })?;
    events
        .iter()
        .filter(|e| e.get("name").and_then(Value::as_str) == Some(event))
        .filter_map(|e| e.get("examples").and_then(Value::as_array))
        .flatten()
        .find(|x| {
            x.get("action").and_then(Value::as_str) == Some(action)
                && x.pointer("/issue/pull_request").is_none()
        })
        .cloned()
        .ok_or_else(|| ExampleError::Missing {
            event: event.into(),
            action: action.into(),
        })
}
