//! CI remediation for one spawner: a failed check (`check_run`, `check_suite` or
//! `workflow_run` delivery) on one of its pull requests creates a Task on the pull request's
//! head branch. The pull request is read from GitHub as the poll reads it (`GET
//! /repos/{o}/{r}/issues/{n}`), so the Task carries the item's usual variables, its
//! `source-id` and generation; the decision is [`axon_core::spawn_check`] (one Task per
//! check however often it is delivered, none while the pull request's Task runs, at most
//! `maxAttempts` per pull request). The Task's `branch` is the head branch and
//! `{{.Check.*}}` is set; when the `promptTemplate` does not use `.Check`, one line naming
//! the check, its conclusion and its log's URL is appended to the prompt so the agent is
//! never left guessing why it runs.

use crate::clock::Clock;
use crate::deliver::{EventTask, backend_error, create_event_task};
use crate::github::GithubClient;
use crate::spawner::{SpawnerError, spawn_policy, spawned_task};
use axon_api::TaskSpawner;
use axon_api::contract::{ANNOTATION_SOURCE_CHECK, ANNOTATION_SOURCE_ID};
use axon_core::spawn::SpawnedTask;
use axon_core::spawn_check::{CheckPlan, plan_check};
use axon_core::spawn_item::CheckContext;
use axon_core::spawn_memory::memory_from_status;
use axon_core::spawn_template::TaskTemplates;
use axon_core::template::{Samples, uses_variable};
use axon_core::webhook::check_event::{CheckEvent, CheckPull, check_verdict, item_verdict};
use axon_port::{CreateOutcome, SpawnerPort};

/// What one failed check did for one pull request of one spawner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remediated {
    /// Not for this spawner or pull request, and why.
    Skipped(String),
    /// The Task was created.
    Created(String),
    /// This check's Task exists already (a redelivery).
    AlreadyExists(String),
    /// The pull request's Task is still running; nothing started.
    Running(String),
    /// The pull request had `maxAttempts` CI Tasks already; nothing started.
    Exhausted {
        /// CI Tasks it had.
        attempts: usize,
        /// `webhook.checks.maxAttempts`.
        max: u32,
    },
    /// GitHub could not be asked now (rate limit, outage): try the delivery again later.
    Unavailable(String),
    /// The Task cannot be made (template or rule error).
    Failed(String),
}

/// Carries out CI remediation of `event` for pull request `pull` of `spawner`, reading the
/// pull request through `github` (a client for the spawner's repository).
pub async fn deliver_check<S: SpawnerPort>(
    backend: &S,
    spawner: &TaskSpawner,
    github: &mut GithubClient,
    event: &CheckEvent,
    pull: &CheckPull,
    clock: &impl Clock,
) -> Result<Remediated, SpawnerError> {
    let skipped = |why: String| Ok(Remediated::Skipped(why));
    let Some(filter) = spawner.spec.when.github_issues.as_ref() else {
        return skipped("not a githubIssues spawner".into());
    };
    let Some(checks) = filter.webhook.as_ref().and_then(|w| w.checks.as_ref()) else {
        return skipped(
            "CI remediation not enabled (spec.when.githubIssues.webhook.checks)".into(),
        );
    };
    if let Err(why) = check_verdict(checks, event) {
        return skipped(why);
    }
    if spawn_policy(spawner).suspended {
        return skipped("the spawner is suspended".into());
    }
    let (mut item, comments) = match github.item(pull.number, clock).await {
        Ok(Some(found)) => found,
        Ok(None) => return skipped(format!("GitHub has no pull request #{}", pull.number)),
        Err(e) => return Ok(Remediated::Unavailable(e.to_string())),
    };
    if let Err(why) = item_verdict(filter, &item) {
        return skipped(why);
    }
    let name = spawner.metadata.name.clone().unwrap_or_default();
    let tasks = backend
        .list_spawned_tasks(&name)
        .await
        .map_err(|e| backend_error(&name, e))?;
    let existing: Vec<SpawnedTask> = tasks.iter().map(spawned_task).collect();
    let status = spawner.status.clone().unwrap_or_default();
    let memory = memory_from_status(&status.spawned_items);
    let item_id = item.id.clone();
    let source = event.source();
    let mut check_tasks = Vec::new();
    let mut made_by_check = None;
    for t in &tasks {
        let annotations = t.metadata.annotations.as_ref();
        let get = |k: &str| annotations.and_then(|a| a.get(k));
        if get(ANNOTATION_SOURCE_ID) != Some(&item_id) {
            continue;
        }
        let Some(check) = get(ANNOTATION_SOURCE_CHECK) else {
            continue;
        };
        let task_name = t.metadata.name.clone().unwrap_or_default();
        if *check == source {
            made_by_check = Some(task_name.clone());
        }
        check_tasks.push(task_name);
    }
    let max = u32::try_from(checks.max_attempts.clamp(1, 20)).unwrap_or(3);
    let plan = plan_check(
        &name,
        &item_id,
        event.id,
        max,
        &existing,
        &memory,
        &check_tasks,
        made_by_check.as_deref(),
    );
    let (task_name, generation) = match plan {
        CheckPlan::Create { name, generation } => (name, generation),
        CheckPlan::Exists { task } => return Ok(Remediated::AlreadyExists(task)),
        CheckPlan::Running { task } => return Ok(Remediated::Running(task)),
        CheckPlan::Exhausted { attempts, max } => {
            return Ok(Remediated::Exhausted { attempts, max });
        }
    };
    let template = match TaskTemplates::parse(&spawner.spec.task_template, Samples::Sources) {
        Ok(t) => t,
        Err(e) => return Ok(Remediated::Failed(format!("template error: {e}"))),
    };
    item.check = Some(CheckContext {
        name: event.name.clone(),
        conclusion: event.conclusion.clone(),
        url: event.url.clone(),
        branch: pull.branch.clone(),
        sha: event.sha.clone(),
    });
    if comments > 0 && uses_variable(template.prompt_source(), "Comments") {
        item.comments = match github.comments(item.number, clock).await {
            Ok(c) => c,
            Err(e) => return Ok(Remediated::Unavailable(e.to_string())),
        };
    }
    let mut rendered = match template.render(&item, &task_name) {
        Ok(r) => r,
        Err(e) => return Ok(Remediated::Failed(e.to_string())),
    };
    if !uses_variable(template.prompt_source(), "Check") {
        rendered.prompt = format!(
            "{}\n\nCI check {:?} concluded {} on branch {}: {}",
            rendered.prompt.trim_end(),
            event.name,
            event.conclusion,
            pull.branch,
            event.url
        );
    }
    if !pull.branch.is_empty() {
        rendered.branch = Some(pull.branch.clone());
    }
    let event_task = EventTask {
        name: &task_name,
        item: &item,
        generation,
        source: (ANNOTATION_SOURCE_CHECK, source),
    };
    let outcome = match create_event_task(backend, spawner, &existing, event_task, rendered).await?
    {
        Ok(outcome) => outcome,
        Err(reason) => return Ok(Remediated::Failed(reason)),
    };
    Ok(match outcome {
        CreateOutcome::Created => Remediated::Created(task_name),
        CreateOutcome::AlreadyExists => Remediated::AlreadyExists(task_name),
    })
}
