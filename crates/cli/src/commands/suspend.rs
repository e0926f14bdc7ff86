//! `axon suspend taskspawner NAME...` and `axon resume taskspawner NAME...`: set or clear a
//! TaskSpawner's `spec.suspend` through the same apply as `axon apply` (so both backends
//! validate and store it alike). A suspended spawner keeps polling and reporting what it finds
//! but creates no Task; its running Tasks go on. Resuming lets the next poll create what
//! waited.

use crate::args::{DeleteArgs, GlobalArgs};
use crate::backend;
use crate::error::CliError;
use crate::settings;
use axon_api::{Kind, Resource};
use axon_port::Valid;
use std::process::ExitCode;

/// `suspend`: set `spec.suspend`; else clear it.
pub async fn run(
    global: &GlobalArgs,
    args: &DeleteArgs,
    suspend: bool,
) -> Result<ExitCode, CliError> {
    let (verb, done) = if suspend {
        ("suspend", "suspended")
    } else {
        ("resume", "resumed")
    };
    let targets = super::delete::targets_of(verb, args)?;
    if let Some((kind, _)) = targets.iter().find(|(k, _)| *k != Kind::TaskSpawner) {
        return Err(CliError::Usage(format!(
            "only TaskSpawners can be {done}, not {}: axon {verb} taskspawner NAME",
            kind.plural()
        )));
    }
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    let mut code = ExitCode::SUCCESS;
    for (_, name) in &targets {
        let Some(Resource::TaskSpawner(spawner)) = backend.get(Kind::TaskSpawner, name).await?
        else {
            eprintln!("error: taskspawner/{name} not found");
            code = ExitCode::FAILURE;
            continue;
        };
        if spawner.spec.suspend == suspend {
            println!("taskspawner/{name} already {done}");
            continue;
        }
        let mut desired = axon_api::TaskSpawner::new(name, spawner.spec.clone());
        desired.spec.suspend = suspend;
        desired.metadata.namespace = spawner.metadata.namespace.clone();
        desired.metadata.labels = spawner.metadata.labels.clone();
        desired.metadata.annotations = spawner.metadata.annotations.clone();
        backend
            .apply(Valid::check(Resource::TaskSpawner(Box::new(desired)))?)
            .await?;
        println!("taskspawner/{name} {done}");
    }
    Ok(code)
}
