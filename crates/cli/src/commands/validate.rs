//! `axon validate -f FILE...`: check documents (schema, cron, templates) without applying them.

use crate::args::FilesArgs;
use crate::commands::apply::load_all;
use crate::error::CliError;
use std::process::ExitCode;

pub fn run(args: &FilesArgs) -> Result<ExitCode, CliError> {
    let docs = load_all(&args.files)?;
    for d in &docs {
        println!(
            "{}: {}/{} valid",
            d.file,
            d.resource.kind(),
            d.resource.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}
