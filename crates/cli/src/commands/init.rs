//! `axon init`: write a commented config file, never over an existing one without `--force`.

use crate::args::{GlobalArgs, InitArgs};
use crate::error::CliError;
use crate::settings::axon_home;
use axon_api::config::Config;
use std::process::ExitCode;

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitCode, CliError> {
    let path = match &global.config {
        Some(p) => p.clone(),
        None => axon_home()?.join("config.yaml"),
    };
    if path.exists() && !args.force {
        return Err(CliError::ConfigExists(path));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(CliError::io(format!("cannot create {}", dir.display())))?;
    }
    write_private(&path, Config::template())?;
    println!("Wrote {}", path.display());
    println!(
        "Edit it to set your credential (apiKey or oauthToken) and workspace, then: axon run -p \"...\""
    );
    Ok(ExitCode::SUCCESS)
}

/// Write a file readable only by its owner (it will hold tokens).
fn write_private(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(CliError::io(format!("cannot write {}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(CliError::io(format!("cannot write {}", path.display())))
}
