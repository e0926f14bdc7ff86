//! `axon get KIND [NAME] [-o yaml|json|wide|name] [-w]`, or `axon get KIND/NAME` (the form
//! `-o name` prints, as kubectl accepts it). `-w` prints a row for each change, and for a
//! deletion a row whose phase is `Deleted`.

use crate::args::{GetArgs, GlobalArgs, OutputFormat};
use crate::backend;
use crate::error::CliError;
use crate::{output, settings};
use axon_api::Kind;
use axon_api::loader::Resource;
use std::process::ExitCode;
use std::time::Duration;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn fetch(
    backend: &dyn axon_port::Backend,
    kind: Kind,
    name: Option<&str>,
) -> Result<Vec<Resource>, CliError> {
    match name {
        Some(n) => match backend.get(kind, n).await? {
            Some(r) => Ok(vec![r]),
            None => Err(CliError::NotFound(kind.as_str(), n.to_string())),
        },
        None => {
            let mut all = backend.list(kind).await?;
            all.sort_by(|a, b| a.name().cmp(b.name()));
            Ok(all)
        }
    }
}

/// The kind and name `axon get` was asked for: `KIND [NAME]` or `KIND/NAME`.
pub fn target(args: &GetArgs) -> Result<(Kind, Option<String>), CliError> {
    let (kind, name) = axon_api::kind::parse_kind_name(&args.kind).map_err(CliError::Usage)?;
    match (name, &args.name) {
        (Some(n), Some(extra)) => Err(CliError::Usage(format!(
            "{:?} already names the {kind} {n:?}: give `axon get {}` or `axon get {} {n}`, not also {extra:?}",
            args.kind,
            args.kind,
            kind.plural()
        ))),
        (Some(n), None) => Ok((kind, Some(n))),
        (None, name) => Ok((kind, name.clone())),
    }
}

/// The row `get -w` prints for a resource that disappeared: its last row with the PHASE (or,
/// for kinds without one, the AGE) column saying `Deleted`.
pub fn deleted_row(header: &[String], last: &[String]) -> Vec<String> {
    let mut row = last.to_vec();
    let column = header
        .iter()
        .position(|h| h == "PHASE")
        .or_else(|| header.iter().position(|h| h == "AGE"));
    if let Some(cell) = column.and_then(|i| row.get_mut(i)) {
        *cell = "Deleted".to_string();
    }
    row
}

pub async fn run(global: &GlobalArgs, args: &GetArgs) -> Result<ExitCode, CliError> {
    let (kind, name) = target(args)?;
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    let resources = fetch(&*backend, kind, name.as_deref()).await?;
    if kind == Kind::TaskSpawner
        && let Some(note) = crate::spawner_host::serve_note(&*backend)
    {
        eprintln!("{note}");
    }
    let format = global.output;
    if format == Some(OutputFormat::Tree) {
        let (Kind::Task, Some(root)) = (kind, name.as_deref()) else {
            return Err(CliError::Invalid(
                "-o tree shows one Task's dependencies: axon get task NAME -o tree".into(),
            ));
        };
        let all = backend.list(Kind::Task).await?;
        print!("{}", output::render_tree(root, &all));
        return Ok(ExitCode::SUCCESS);
    }
    match format {
        Some(f @ (OutputFormat::Yaml | OutputFormat::Json | OutputFormat::Name)) => {
            print!(
                "{}",
                output::render_documents(&resources, f, name.is_some())
            );
        }
        _ => {
            let wide = format == Some(OutputFormat::Wide);
            if resources.is_empty() && !args.watch {
                eprintln!("No {} found.", kind.plural());
                return Ok(ExitCode::SUCCESS);
            }
            print!(
                "{}",
                output::render_table(&output::table(kind, &resources, wide, now()))
            );
        }
    }
    if !args.watch {
        return Ok(ExitCode::SUCCESS);
    }
    // Watch: print a row whenever a resource's row changes (without its AGE column).
    let wide = format == Some(OutputFormat::Wide);
    let key = |rows: &[Vec<String>]| -> Vec<(String, Vec<String>)> {
        rows.iter()
            .skip(1)
            .map(|r| (r[0].clone(), r.clone()))
            .collect()
    };
    let header = output::table(kind, &[], wide, 0).remove(0);
    let mut last = key(&output::table(kind, &resources, wide, 0));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let current = fetch(&*backend, kind, name.as_deref()).await?;
        let rows = output::table(kind, &current, wide, now());
        let keyed = key(&output::table(kind, &current, wide, 0));
        for (i, (name, row)) in keyed.iter().enumerate() {
            if !last.iter().any(|(n, r)| n == name && r == row) {
                print!("{}", output::render_table(&[rows[i + 1].clone()]));
            }
        }
        for (name, row) in &last {
            if !keyed.iter().any(|(n, _)| n == name) {
                print!("{}", output::render_table(&[deleted_row(&header, row)]));
            }
        }
        last = keyed;
    }
}

#[cfg(test)]
mod tests {
    use super::deleted_row;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_deleted_resource_gets_a_row_saying_so() {
        let header = strings(&["NAME", "TYPE", "PHASE", "AGE"]);
        assert_eq!(
            deleted_row(&header, &strings(&["t", "codex", "Running", "0s"])),
            strings(&["t", "codex", "Deleted", "0s"])
        );
        let header = strings(&["NAME", "REPO", "REF", "AGE"]);
        assert_eq!(
            deleted_row(&header, &strings(&["ws", "https://x", "main", "0s"])),
            strings(&["ws", "https://x", "main", "Deleted"])
        );
    }
}
