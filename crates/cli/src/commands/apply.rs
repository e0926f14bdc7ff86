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
    let resources: Vec<&axon_api::Resource> = docs.iter().map(|d| &d.resource).collect();
    if let (Some(cycle), _) = axon_core::validate::graph_problems(&resources) {
        return Err(CliError::Invalid(cycle));
    }
    Ok(docs)
}

/// Refuse Tasks whose `dependsOn` would close a cycle with the Tasks already stored.
async fn refuse_cycles(
    backend: &dyn axon_port::Backend,
    docs: &[Document],
) -> Result<(), CliError> {
    let new: Vec<&axon_api::Task> = docs
        .iter()
        .filter_map(|d| match &d.resource {
            axon_api::Resource::Task(t) if !t.spec.depends_on.is_empty() => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let mut graph: axon_core::deps::Graph = backend
        .list(axon_api::Kind::Task)
        .await?
        .into_iter()
        .filter_map(|r| match r {
            axon_api::Resource::Task(t) => Some((task_name(&t), t.spec.depends_on.clone())),
            _ => None,
        })
        .collect();
    for t in &new {
        graph.insert(task_name(t), t.spec.depends_on.clone());
    }
    for t in &new {
        if let Some(c) = axon_core::deps::cycle_through(&graph, &task_name(t)) {
            return Err(CliError::Invalid(format!(
                "Task {}: spec.dependsOn: dependency cycle {} with the Tasks already there: these Tasks would wait for each other forever",
                task_name(t),
                axon_core::deps::describe_cycle(&c)
            )));
        }
    }
    Ok(())
}

fn task_name(t: &axon_api::Task) -> String {
    t.metadata.name.clone().unwrap_or_default()
}

pub async fn run(global: &GlobalArgs, args: &FilesArgs) -> Result<ExitCode, CliError> {
    let mut docs = load_all(&args.files)?;
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    refuse_cycles(backend.as_ref(), &docs).await?;
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
