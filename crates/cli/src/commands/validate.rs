//! `axon validate -f FILE...`: check documents (schema, cron, templates) without applying them.

use crate::args::FilesArgs;
use crate::commands::apply::load_all;
use crate::error::CliError;
use std::process::ExitCode;

pub fn run(args: &FilesArgs) -> Result<ExitCode, CliError> {
    let docs = load_all(&args.files)?;
    let resources: Vec<&axon_api::Resource> = docs.iter().map(|d| &d.resource).collect();
    for warning in axon_core::validate::graph_problems(&resources).1 {
        eprintln!("warning: {warning}");
    }
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
