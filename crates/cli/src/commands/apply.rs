//! `axon apply -f FILE...`: create or update resources of any kind, in dependency order.

use crate::args::{FilesArgs, GlobalArgs};
use crate::backend;
use crate::error::CliError;
use crate::settings;
use axon_api::loader::{self, Document};
use axon_port::Valid;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Load and validate every document of every file (`-` reads standard input).
pub fn load_all(files: &[PathBuf]) -> Result<Vec<Document>, CliError> {
    let mut docs = Vec::new();
    for f in files {
        let loaded = if f.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(CliError::io("cannot read standard input"))?;
            loader::load_str("-", &text)?
        } else {
            loader::load_file(f)?
        };
        for d in &loaded {
            axon_core::validate::validate_document(d)?;
        }
        docs.extend(loaded);
    }
    if docs.is_empty() {
        return Err(CliError::Invalid(
            "no resources found in the given files".into(),
        ));
    }
    Ok(docs)
}

pub async fn run(global: &GlobalArgs, args: &FilesArgs) -> Result<ExitCode, CliError> {
    let mut docs = load_all(&args.files)?;
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    // What others reference goes first: Workspaces and AgentConfigs, then Tasks and spawners.
    docs.sort_by_key(|d| {
        axon_api::Kind::ALL
            .iter()
            .position(|k| *k == d.resource.kind_value())
    });
    for d in docs {
        let label = format!(
            "{}/{}",
            d.resource.kind_value().plural().trim_end_matches('s'),
            d.resource.name()
        );
        let outcome = backend.apply(Valid::check(d.resource)?).await?;
        println!("{label} {outcome}");
    }
    Ok(ExitCode::SUCCESS)
}
