//! `axon delete KIND NAME...`.

use crate::args::{DeleteArgs, GlobalArgs};
use crate::backend::Backend;
use crate::error::CliError;
use crate::settings;
use axon_api::Kind;
use std::process::ExitCode;

pub async fn run(global: &GlobalArgs, args: &DeleteArgs) -> Result<ExitCode, CliError> {
    let kind: Kind = args.kind.parse().map_err(CliError::Usage)?;
    let settings = settings::resolve(global)?;
    let backend = Backend::open(&settings, global).await?;
    let mut code = ExitCode::SUCCESS;
    for name in &args.names {
        let label = format!("{}/{name}", kind.plural().trim_end_matches('s'));
        if backend.delete(kind, name).await? {
            println!("{label} deleted");
        } else {
            eprintln!("error: {label} not found");
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}
