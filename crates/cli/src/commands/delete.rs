//! `axon delete KIND NAME...`, or `axon delete KIND/NAME...` (the form `-o name` prints).

use crate::args::{DeleteArgs, GlobalArgs};
use crate::backend;
use crate::error::CliError;
use crate::settings;
use axon_api::Kind;
use std::process::ExitCode;

/// What to delete: `KIND NAME...`, or `KIND/NAME...` (then every argument has that form, as
/// with kubectl).
pub fn targets(args: &DeleteArgs) -> Result<Vec<(Kind, String)>, CliError> {
    targets_of("delete", args)
}

/// [`targets`] for command `verb` (`delete`, `suspend`, `resume`).
pub fn targets_of(verb: &str, args: &DeleteArgs) -> Result<Vec<(Kind, String)>, CliError> {
    let (kind, first) = axon_api::kind::parse_kind_name(&args.kind).map_err(CliError::Usage)?;
    match first {
        None if args.names.is_empty() => Err(CliError::Usage(format!(
            "name the {} to {verb}: axon {verb} {} NAME... (or {}/NAME...)",
            kind.plural(),
            args.kind,
            kind.plural().trim_end_matches('s')
        ))),
        None => Ok(args.names.iter().map(|n| (kind, n.clone())).collect()),
        Some(first) => {
            let mut out = vec![(kind, first)];
            for arg in &args.names {
                match axon_api::kind::parse_kind_name(arg).map_err(CliError::Usage)? {
                    (k, Some(n)) => out.push((k, n)),
                    (_, None) => {
                        return Err(CliError::Usage(format!(
                            "{arg:?}: after {:?}, every argument is TYPE/NAME",
                            args.kind
                        )));
                    }
                }
            }
            Ok(out)
        }
    }
}

pub async fn run(global: &GlobalArgs, args: &DeleteArgs) -> Result<ExitCode, CliError> {
    let targets = targets(args)?;
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    let mut code = ExitCode::SUCCESS;
    for (kind, name) in &targets {
        let kind = *kind;
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
