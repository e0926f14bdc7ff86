//! `axon run`: build a Task from flags and the config file, create what it needs, start it.

use crate::args::{GlobalArgs, OutputFormat, RunArgs};
use crate::backend;
use crate::error::CliError;
use crate::{output, settings};
use axon_api::loader::Resource;
use axon_api::{Kind, TaskPhase};
use axon_core::run_request::{RunFlags, run_request};
use axon_port::Valid;
use std::path::Path;
use std::process::ExitCode;

/// `value` or, for `@path`, the file's content.
fn inline_or_file(value: &str) -> Result<String, CliError> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(Path::new(path))
            .map_err(CliError::io(format!("cannot read {path}"))),
        None => Ok(value.to_string()),
    }
}

/// `name=@file` or `name=content`.
fn named(flag: &str, value: &str) -> Result<(String, String), CliError> {
    let (name, rest) = value.split_once('=').ok_or_else(|| {
        CliError::Usage(format!(
            "{flag} {value:?}: expected NAME=@FILE or NAME=CONTENT"
        ))
    })?;
    if name.is_empty() {
        return Err(CliError::Usage(format!(
            "{flag} {value:?}: the name before '=' is empty"
        )));
    }
    Ok((name.to_string(), inline_or_file(rest)?))
}

/// `30m`, `1h`, or plain seconds.
pub fn parse_timeout(s: &str) -> Result<i64, CliError> {
    if let Ok(secs) = s.parse::<i64>()
        && secs > 0
    {
        return Ok(secs);
    }
    s.parse::<axon_api::Duration>()
        .map(|d| d.as_std().as_secs().max(1) as i64)
        .map_err(|e| CliError::Usage(format!("--timeout: {e}")))
}

/// A random lowercase suffix for generated names.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    let mut n = h.finish();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..5)
        .map(|_| {
            let c = alphabet[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect()
}

pub fn flags(args: &RunArgs) -> Result<RunFlags, CliError> {
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(CliError::io(format!(
            "cannot read --prompt-file {}",
            f.display()
        )))?,
        (None, None) => String::new(),
    };
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| CliError::Usage(format!("--env {kv:?}: expected KEY=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunFlags {
        prompt,
        type_: args.type_,
        model: args.model.clone(),
        workspace: args.workspace.clone(),
        secret: args.secret.clone(),
        credential_type: args.credential_type,
        agents_md: args.agents_md.as_deref().map(inline_or_file).transpose()?,
        skills: args
            .skills
            .iter()
            .map(|s| named("--skill", s))
            .collect::<Result<_, _>>()?,
        agents: args
            .agents
            .iter()
            .map(|s| named("--agent", s))
            .collect::<Result<_, _>>()?,
        name: args.name.clone(),
        ttl_seconds: args.ttl,
        timeout_seconds: args.timeout.as_deref().map(parse_timeout).transpose()?,
        env,
        model_base_url: args.model_base_url.clone(),
        image: args.image.clone(),
    })
}

pub async fn run(global: &GlobalArgs, args: &RunArgs) -> Result<ExitCode, CliError> {
    let settings = settings::resolve(global)?;
    let request = run_request(&flags(args)?, &settings.config, &random_suffix())?;
    let task_name = request.task.metadata.name.clone().unwrap_or_default();

    let mut resources = Vec::new();
    if let Some(ws) = request.workspace.clone() {
        resources.push(Resource::Workspace(Box::new(ws)));
    }
    if let Some(ac) = request.agent_config.clone() {
        resources.push(Resource::AgentConfig(Box::new(ac)));
    }
    resources.push(Resource::Task(Box::new(request.task.clone())));

    if args.dry_run {
        for s in &request.secrets {
            let keys: Vec<&str> = s.data.keys().map(String::as_str).collect();
            println!(
                "# would create or update secret {} (keys: {}; values not shown)",
                s.name,
                keys.join(", ")
            );
        }
        let format = global
            .output
            .filter(|f| *f == OutputFormat::Json)
            .unwrap_or(OutputFormat::Yaml);
        print!("{}", output::render_documents(&resources, format, false));
        return Ok(ExitCode::SUCCESS);
    }

    let backend = backend::open(&settings, global).await?;
    for s in &request.secrets {
        backend.create_secret(&s.name, s.data.clone()).await?;
    }
    let secret = &request.task.spec.credentials.secret_ref.name;
    if request.secrets.iter().all(|s| &s.name != secret) && !backend.secret_exists(secret).await? {
        return Err(CliError::Invalid(format!(
            "secret {secret:?} not found: create it with `axon create secret {secret} --from-literal KEY=VALUE`, or set apiKey/oauthToken in the config file"
        )));
    }
    if let Some(ws) = &request.task.spec.workspace_ref
        && request.workspace.is_none()
        && backend.get(Kind::Workspace, &ws.name).await?.is_none()
    {
        return Err(CliError::NotFound("Workspace", ws.name.clone()));
    }
    for r in resources {
        let label = format!(
            "{}/{}",
            r.kind_value().plural().trim_end_matches('s'),
            r.name()
        );
        let outcome = backend.apply(Valid::check(r)?).await?;
        if label.starts_with("task/") || outcome != axon_core::apply::ApplyOutcome::Unchanged {
            println!("{label} {outcome}");
        }
    }
    if request.task.spec.workspace_ref.is_none() {
        eprintln!(
            "note: no workspace: the agent runs in an empty directory and its files are lost when it ends"
        );
    }
    if !args.wait {
        eprintln!("Follow it with: axon logs {task_name} -f");
        return Ok(ExitCode::SUCCESS);
    }
    let task = backend.wait(&task_name).await?;
    let status = task.status.unwrap_or_default();
    let phase = status.phase.unwrap_or_default();
    println!(
        "task/{task_name} {phase}: {}",
        status.message.unwrap_or_default()
    );
    if let Some(o) = status.outputs {
        if let Some(b) = o.branch {
            println!("  branch: {b}{}", if o.pushed { " (pushed)" } else { "" });
        }
        for c in o.commits.iter().take(5) {
            println!("  commit: {c}");
        }
        for pr in o.pull_requests {
            println!("  pull request: {pr}");
        }
    }
    if let Some(u) = status.usage {
        println!("  {}", crate::spend::summary_line(&u));
    }
    Ok(if phase == TaskPhase::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("90").ok(), Some(90));
        assert_eq!(parse_timeout("30m").ok(), Some(1800));
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("0").is_err());
    }

    #[test]
    fn named_values() {
        assert_eq!(named("--skill", "a=b").ok(), Some(("a".into(), "b".into())));
        assert!(named("--skill", "=b").is_err());
        assert!(named("--skill", "ab").is_err());
        assert_eq!(random_suffix().len(), 5);
    }
}
