//! `axon create workspace|secret`.

use crate::args::{CreateCommand, GlobalArgs};
use crate::backend;
use crate::error::CliError;
use crate::{output, settings};
use axon_api::loader::Resource;
use axon_api::{SecretReference, Workspace, WorkspaceSpec};
use axon_port::Valid;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::process::ExitCode;

pub async fn run(global: &GlobalArgs, command: &CreateCommand) -> Result<ExitCode, CliError> {
    match command {
        CreateCommand::Workspace(a) => {
            axon_api::loader::check_name(&a.name).map_err(CliError::Usage)?;
            let ws = Resource::Workspace(Box::new(Workspace {
                metadata: ObjectMeta {
                    name: Some(a.name.clone()),
                    ..Default::default()
                },
                spec: WorkspaceSpec {
                    repo: a.repo.clone(),
                    git_ref: a.git_ref.clone(),
                    secret_ref: a.secret.clone().map(|name| SecretReference { name }),
                    files: vec![],
                    setup_command: None,
                    clone_depth: None,
                    remotes: Vec::new(),
                },
            }));
            if a.dry_run {
                print!(
                    "{}",
                    output::render_documents(
                        &[ws],
                        global.output.unwrap_or(crate::args::OutputFormat::Yaml),
                        true
                    )
                );
                return Ok(ExitCode::SUCCESS);
            }
            let settings = settings::resolve(global)?;
            let backend = backend::open(&settings, global).await?;
            let outcome = backend.apply(Valid::check(ws)?).await?;
            println!("workspace/{} {outcome}", a.name);
        }
        CreateCommand::Secret(a) => {
            axon_api::loader::check_name(&a.name).map_err(CliError::Usage)?;
            let mut data = BTreeMap::new();
            for kv in &a.literals {
                let (k, v) = kv
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| {
                        CliError::Usage(
                            "--from-literal: expected KEY=VALUE (the value is not shown)".into(),
                        )
                    })?;
                data.insert(k.to_string(), v.to_string());
            }
            let settings = settings::resolve(global)?;
            let backend = backend::open(&settings, global).await?;
            backend.create_secret(&a.name, data).await?;
            println!("secret/{} created", a.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
