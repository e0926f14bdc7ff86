//! `axon cancel TASK...` (or `task/NAME...`): stop a Task's agent and end it `Cancelled`.
//!
//! The request is recorded on the Task before anything is stopped (see `axon_core::cancel`),
//! so it survives a crash of this command, of the engine or of the controller. Then, by
//! default, the command waits (up to `--timeout`) until the Task has ended and says how:
//! `Cancelled`, with its WIP branch when its work tree was saved. Cancelling a Task that is
//! already `Cancelled` is a no-op (exit 0); cancelling one that `Succeeded` or `Failed` is an
//! error (exit 1) that says so, and changes nothing.

use crate::args::{CancelArgs, GlobalArgs};
use crate::backend;
use crate::error::CliError;
use crate::settings;
use axon_api::{Kind, TaskPhase};
use axon_port::{Backend, CancelOutcome, ErrorKind};
use std::process::ExitCode;
use std::time::Duration;

/// Who asked, as recorded on the Task and shown in its message.
pub const BY: &str = "axon cancel";

/// The Task names: `NAME` or `task/NAME`.
pub fn names(args: &CancelArgs) -> Result<Vec<String>, CliError> {
    args.tasks
        .iter()
        .map(|arg| match arg.split_once('/') {
            None => Ok(arg.clone()),
            Some(_) => match axon_api::kind::parse_kind_name(arg).map_err(CliError::Usage)? {
                (Kind::Task, Some(name)) => Ok(name),
                _ => Err(CliError::Usage(format!(
                    "{arg:?}: only Tasks can be cancelled (axon cancel NAME or task/NAME)"
                ))),
            },
        })
        .collect()
}

pub async fn run(global: &GlobalArgs, args: &CancelArgs) -> Result<ExitCode, CliError> {
    let names = names(args)?;
    if names.is_empty() {
        return Err(CliError::Usage(
            "name the Task(s) to cancel: axon cancel NAME...".into(),
        ));
    }
    let settings = settings::resolve(global)?;
    let backend = backend::open(&settings, global).await?;
    let mut code = ExitCode::SUCCESS;
    for name in &names {
        if !cancel_one(backend.as_ref(), name, args).await? {
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// Cancel one Task; whether it is (or was already) `Cancelled`.
async fn cancel_one(
    backend: &dyn Backend,
    name: &str,
    args: &CancelArgs,
) -> Result<bool, CliError> {
    let label = format!("task/{name}");
    let outcome = match backend.cancel_task(name, BY).await {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("error: {label} not found");
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        CancelOutcome::AlreadyCancelled => {
            println!("{label} already cancelled");
            return Ok(true);
        }
        CancelOutcome::Finished(phase) => {
            eprintln!("error: {label} already finished ({phase}): there is nothing to cancel");
            return Ok(false);
        }
        CancelOutcome::Cancelled if !args.wait => {
            println!("{label} cancelled");
            return Ok(true);
        }
        CancelOutcome::Stopping if !args.wait => {
            println!("{label} cancel requested: its run is being stopped");
            return Ok(true);
        }
        CancelOutcome::Cancelled | CancelOutcome::Stopping => {}
    }
    let limit = Duration::from_secs(args.timeout);
    let Ok(task) = tokio::time::timeout(limit, backend.wait(name)).await else {
        eprintln!(
            "error: {label}: the cancel is recorded but the Task had not ended after {}s (on Kubernetes: is the controller running?); `axon get task {name}` shows when it is Cancelled",
            args.timeout
        );
        return Ok(false);
    };
    let task = task?;
    let status = task.status.unwrap_or_default();
    let phase = status.phase.unwrap_or_default();
    let message = status.message.unwrap_or_default();
    if phase == TaskPhase::Cancelled {
        println!("{label} cancelled: {message}");
        if let Some(b) = status.outputs.and_then(|o| o.branch) {
            println!("  work saved on: {b}");
        }
        Ok(true)
    } else {
        eprintln!("error: {label} ended {phase} before it could be cancelled: {message}");
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(tasks: &[&str]) -> CancelArgs {
        CancelArgs {
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
            wait: true,
            timeout: 1,
        }
    }

    #[test]
    fn names_are_bare_or_task_slash_name_only() {
        assert_eq!(
            names(&args(&["a", "task/b", "tasks/c"])).expect("names"),
            ["a", "b", "c"]
        );
        let e = names(&args(&["workspace/w"])).expect_err("not a Task");
        assert!(e.to_string().contains("only Tasks can be cancelled"), "{e}");
        assert!(names(&args(&["bogus/x"])).is_err());
    }
}
