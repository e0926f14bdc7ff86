//! One `/axon` comment command, delivered by an `issue_comment` webhook, carried out for one
//! spawner: authorise the commenter through GitHub ([`axon_core::webhook::comment_policy`]),
//! decide from the spawner's Tasks and memory ([`axon_core::spawn_command`]), and create the
//! Task. The Task is built like a poll's ([`build_task`]) from the item as the comment's
//! delivery describes it, with `{{.Command.*}}` set; when the `promptTemplate` does not use
//! `.Command`, the command's extra text is appended to the prompt after a blank line, so it is
//! never dropped unseen. `.Comments` are fetched when the prompt uses them.
//!
//! `/axon cancel` cancels the item's running Task through the backend port's
//! `cancel_task` (the same call as `axon cancel`), recording who asked; the commenter is
//! answered once, when the request is new.

use crate::clock::Clock;
use crate::deliver::{EventTask, backend_error, create_event_task};
use crate::github::{GithubClient, GithubError};
use crate::spawner::{SpawnerError, spawned_task};
use axon_api::TaskSpawner;
use axon_api::contract::ANNOTATION_SOURCE_COMMENT;
use axon_core::spawn::SpawnedTask;
use axon_core::spawn_command::{CommandPlan, plan_command};
use axon_core::spawn_item::CommandContext;
use axon_core::spawn_memory::memory_from_status;
use axon_core::spawn_template::TaskTemplates;
use axon_core::template::{Samples, uses_variable};
use axon_core::webhook::comment_command::{Parsed, Verb};
use axon_core::webhook::comment_event::CommentEvent;
use axon_core::webhook::comment_policy::{Check, after_permission, denial_reply, first_check};
use axon_port::{CancelOutcome, CreateOutcome, SpawnerPort};

/// What one command did for one spawner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Commanded {
    /// Not a command to act on (edited, by a bot, no command…), and why.
    Ignored(String),
    /// The commenter may not command this spawner.
    Denied {
        /// Why (for the receiver's answer and log; not posted).
        reason: String,
        /// Whether a reply was posted (`replyOnDenied`).
        replied: bool,
    },
    /// The Task was created.
    Created(String),
    /// The Task the command asks for exists already (redelivery, or a poll was first).
    AlreadyExists(String),
    /// The item's Task is still running; nothing started.
    Running(String),
    /// `/axon cancel`: this Task is cancelled (or being stopped).
    Cancelled(String),
    /// `/axon cancel` with no running Task.
    NothingToCancel,
    /// GitHub could not be asked now (rate limit, outage): try the delivery again later.
    Unavailable(String),
    /// The Task cannot be made (template or rule error).
    Failed(String),
}

/// Carries out `event`'s command for `spawner`, asking GitHub through `github` (a client for
/// the spawner's repository) whether the commenter may.
pub async fn deliver_command<S: SpawnerPort>(
    backend: &S,
    spawner: &TaskSpawner,
    github: &mut GithubClient,
    event: &CommentEvent,
    clock: &impl Clock,
) -> Result<Commanded, SpawnerError> {
    if let Some(why) = event.ignored() {
        return Ok(Commanded::Ignored(why));
    }
    let Parsed::Command { verb, args } = &event.command else {
        return Ok(Commanded::Ignored("no command".into()));
    };
    let Some(policy) = spawner
        .spec
        .when
        .github_issues
        .as_ref()
        .and_then(|g| g.comment_policy.as_ref())
    else {
        return Ok(Commanded::Ignored("comment commands not enabled".into()));
    };
    let unavailable = |e: GithubError| Ok(Commanded::Unavailable(e.to_string()));
    let author = event.author.as_str();
    let allowed = match first_check(policy, author) {
        Check::Allowed(why) => Some(why),
        Check::AskPermission => {
            let permission = match github.permission(author, clock).await {
                Ok(p) => p,
                Err(e) => return unavailable(e),
            };
            let owner = github.config().owner.clone();
            match after_permission(policy, author, permission, &owner) {
                Ok(why) => Some(why),
                Err(teams) => {
                    let mut found = None;
                    for team in teams {
                        match github
                            .team_member(&team.org, &team.slug, author, clock)
                            .await
                        {
                            Ok(true) => {
                                found = Some(format!(
                                    "{author} is a member of team {}/{}",
                                    team.org, team.slug
                                ));
                                break;
                            }
                            Ok(false) => {}
                            Err(e) => return unavailable(e),
                        }
                    }
                    found
                }
            }
        }
    };
    let Some(allowed) = allowed else {
        let reason = format!(
            "{author} may not command this spawner (commentPolicy: at least {} permission)",
            policy.minimum_permission.as_str()
        );
        let mut replied = false;
        if policy.reply_on_denied {
            let reply = denial_reply(policy, author, verb.as_str());
            match github.post_comment(event.item.number, &reply, clock).await {
                Ok(()) => replied = true,
                Err(e) => tracing::warn!(error = %e, "cannot reply to a refused comment command"),
            }
        }
        return Ok(Commanded::Denied { reason, replied });
    };
    let name = spawner.metadata.name.clone().unwrap_or_default();
    tracing::info!(spawner = %name, %allowed, command = verb.as_str(), item = %event.item.id, "comment command authorised");
    let tasks = backend
        .list_spawned_tasks(&name)
        .await
        .map_err(|e| backend_error(&name, e))?;
    let existing: Vec<SpawnedTask> = tasks.iter().map(spawned_task).collect();
    let status = spawner.status.clone().unwrap_or_default();
    let memory = memory_from_status(&status.spawned_items);
    let item_id = event.item.id.as_str();
    let comment = event.comment_id.to_string();
    let made_by_comment = tasks
        .iter()
        .find(|t| {
            t.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_SOURCE_COMMENT))
                == Some(&comment)
        })
        .and_then(|t| t.metadata.name.clone());
    let plan = plan_command(
        &name,
        item_id,
        *verb,
        event.comment_id,
        &existing,
        &memory,
        made_by_comment.as_deref(),
    );
    let (task_name, generation) = match plan {
        CommandPlan::Create { name, generation } => (name, generation),
        CommandPlan::Running { task } => return Ok(Commanded::Running(task)),
        CommandPlan::Exists { task } => return Ok(Commanded::AlreadyExists(task)),
        CommandPlan::Cancel { task } => {
            let outcome = backend
                .cancel_task(&task, &format!("/axon cancel by @{author}"))
                .await
                .map_err(|e| backend_error(&name, e))?;
            let reply = match outcome {
                CancelOutcome::Cancelled | CancelOutcome::Stopping => Some(format!(
                    "@{author} cancelling Task `{task}`: its agent is stopped and the Task ends `Cancelled`."
                )),
                CancelOutcome::AlreadyCancelled | CancelOutcome::Finished(_) => None,
            };
            if let Some(reply) = reply
                && let Err(e) = github.post_comment(event.item.number, &reply, clock).await
            {
                tracing::warn!(error = %e, "cannot answer /axon cancel");
            }
            return Ok(Commanded::Cancelled(task));
        }
        CommandPlan::NothingToCancel => return Ok(Commanded::NothingToCancel),
    };
    debug_assert!(*verb != Verb::Cancel);
    let template = match TaskTemplates::parse(&spawner.spec.task_template, Samples::Sources) {
        Ok(t) => t,
        Err(e) => return Ok(Commanded::Failed(format!("template error: {e}"))),
    };
    let mut item = event.item.clone();
    item.command = Some(CommandContext {
        name: verb.as_str().to_string(),
        args: args.clone(),
        author: author.to_string(),
        url: event.comment_url.clone(),
    });
    if event.comments > 0 && uses_variable(template.prompt_source(), "Comments") {
        item.comments = match github.comments(item.number, clock).await {
            Ok(c) => c,
            Err(e) => return unavailable(e),
        };
    }
    let mut rendered = match template.render(&item, &task_name) {
        Ok(r) => r,
        Err(e) => return Ok(Commanded::Failed(e.to_string())),
    };
    if !args.is_empty() && !uses_variable(template.prompt_source(), "Command") {
        rendered.prompt = format!("{}\n\n{args}", rendered.prompt.trim_end());
    }
    let event_task = EventTask {
        name: &task_name,
        item: &event.item,
        generation,
        source: (ANNOTATION_SOURCE_COMMENT, comment),
    };
    let outcome = match create_event_task(backend, spawner, &existing, event_task, rendered).await?
    {
        Ok(outcome) => outcome,
        Err(reason) => return Ok(Commanded::Failed(reason)),
    };
    Ok(match outcome {
        CreateOutcome::Created => Commanded::Created(task_name),
        CreateOutcome::AlreadyExists => Commanded::AlreadyExists(task_name),
    })
}
