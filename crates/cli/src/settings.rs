//! Where the CLI's settings come from: flags, then the config file, then defaults. Which
//! backend a command uses is decided here, once, and shown by `axon version` / `axon status`.

use crate::args::GlobalArgs;
use crate::error::CliError;
use axon_api::config::{Backend, Config};
use std::path::PathBuf;

/// The user's home directory.
pub fn home_dir() -> Result<PathBuf, CliError> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or(CliError::NoHome)
}

/// Axon's local directory: `$AXON_HOME`, else `~/.axon`.
pub fn axon_home() -> Result<PathBuf, CliError> {
    match std::env::var_os("AXON_HOME").filter(|h| !h.is_empty()) {
        Some(h) => Ok(PathBuf::from(h)),
        None => Ok(home_dir()?.join(".axon")),
    }
}

/// The resolved settings of one invocation.
#[derive(Debug)]
pub struct Settings {
    pub config_path: PathBuf,
    pub config: Config,
    pub config_found: bool,
    pub backend: Backend,
    /// Where the backend came from, for `axon version`/`status`.
    pub backend_source: &'static str,
}

/// Resolve flags and config file.
pub fn resolve(global: &GlobalArgs) -> Result<Settings, CliError> {
    let config_path = match &global.config {
        Some(p) => p.clone(),
        None => axon_home()?.join("config.yaml"),
    };
    let loaded = Config::load(&config_path)?;
    let config_found = loaded.is_some();
    if global.config.is_some() && !config_found {
        return Err(CliError::ConfigMissing(config_path));
    }
    let config = loaded.unwrap_or_default();
    let (backend, backend_source) = match (global.backend, config.backend) {
        (Some(b), _) => (b, "--backend flag or AXON_BACKEND"),
        (None, Some(b)) => (b, "config file"),
        (None, None) => (Backend::Local, "default"),
    };
    Ok(Settings {
        config_path,
        config,
        config_found,
        backend,
        backend_source,
    })
}
