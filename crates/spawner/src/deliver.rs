//! One GitHub item (an issue or a pull request) delivered by a webhook, run through the same
//! spawn decision as a poll.
//!
//! A delivery carries one issue; the decision ([`plan_spawns`]) sees it with the spawner's
//! Tasks and memory exactly as a poll would, so the Task gets the same name (a poll and a
//! webhook for one issue make one Task), an excluded label makes no Task and marks the item's
//! Task as needing input, and a removed label re-queues it once. The Task is created through
//! the same create-if-absent call as the poll's. The spawner's memory
//! (`status.spawnedItems`) learns the item at once, so a Task deleted by TTL before the next
//! poll does not come back.
//!
//! What a delivery does not do: fetch comments. A prompt that uses `.Comments` for an issue
//! that has comments is left to the next poll, which fetches them (with its caches).

use crate::spawner::{SpawnerError, build_task, spawn_policy, spawned_task};
use axon_api::TaskSpawner;
use axon_api::contract::ANNOTATION_NEEDS_INPUT;
use axon_core::spawn::{SpawnedTask, plan_spawns};
use axon_core::spawn_item::WorkItem;
use axon_core::spawn_memory::{memory_from_status, memory_to_status, remember_one};
use axon_core::spawn_template::{RenderedTemplate, TaskTemplates};
use axon_core::template::Samples;
use axon_port::{CreateOutcome, SpawnerPort, Valid};

/// What one delivery did for one spawner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Tasks created.
    pub created: Vec<String>,
    /// The item's Task, which already existed (a poll, or another delivery, was first).
    pub already_existed: Vec<String>,
    /// Tasks annotated as "item needed input" (the issue carries an excluded label).
    pub marked: Vec<String>,
    /// Why a Task the decision wanted was not created now (left to the next poll).
    pub left_to_poll: Option<String>,
}

pub(crate) fn backend_error(spawner: &str, source: axon_port::BackendError) -> SpawnerError {
    SpawnerError::Backend {
        spawner: spawner.to_string(),
        source,
    }
}

/// Runs the spawn decision of `spawner` for `item` (of an issue with `comments` comments) and
/// acts on it. Template and rule problems are left to the poll, which reports them in status.
pub async fn deliver_item<S: SpawnerPort>(
    backend: &S,
    spawner: &TaskSpawner,
    item: &WorkItem,
    comments: u64,
) -> Result<Delivered, SpawnerError> {
    let name = spawner.metadata.name.clone().unwrap_or_default();
    let err = |e| backend_error(&name, e);
    let mut out = Delivered::default();
    let template = match TaskTemplates::parse(&spawner.spec.task_template, Samples::Sources) {
        Ok(t) => t,
        Err(e) => {
            out.left_to_poll = Some(format!("template error: {e}"));
            return Ok(out);
        }
    };
    let tasks = backend.list_spawned_tasks(&name).await.map_err(err)?;
    let existing: Vec<SpawnedTask> = tasks.iter().map(spawned_task).collect();
    let previous = spawner.status.clone().unwrap_or_default();
    let memory = memory_from_status(&previous.spawned_items);
    let policy = spawn_policy(spawner);
    let plan = plan_spawns(
        &name,
        std::slice::from_ref(item),
        &existing,
        &memory,
        &policy,
    );
    for task in &plan.mark_needs_input {
        backend
            .annotate_task(task, ANNOTATION_NEEDS_INPUT, "true")
            .await
            .map_err(err)?;
        out.marked.push(task.clone());
    }
    if plan.create.is_empty()
        && plan.excluded.is_empty()
        && let Some(latest) = existing
            .iter()
            .filter(|t| t.item_id.as_deref() == Some(item.id.as_str()))
            .max_by_key(|t| t.generation)
    {
        // The item has its Task already (a poll, or an earlier delivery, made it).
        out.already_existed.push(latest.name.clone());
    }
    if !plan.deferred.is_empty() {
        out.left_to_poll = Some("maxConcurrency reached: a later poll creates it".into());
    }
    let mut spawned = Vec::new();
    for planned in &plan.create {
        if comments > 0 && template.prompt_source().contains(".Comments") {
            out.left_to_poll = Some(
                "the prompt uses .Comments: the next poll fetches them and creates the Task".into(),
            );
            continue;
        }
        let rendered = match template.render(item, &planned.name) {
            Ok(r) => r,
            Err(e) => {
                out.left_to_poll = Some(e.to_string());
                continue;
            }
        };
        let task = build_task(
            spawner,
            &planned.name,
            &planned.item_id,
            planned.generation,
            rendered,
            spawner.spec.task_template.workspace_ref.clone(),
        );
        let task = match Valid::check_task(task) {
            Ok(t) => t,
            Err(e) => {
                out.left_to_poll = Some(e.to_string());
                continue;
            }
        };
        match backend
            .create_spawned_task(spawner, task)
            .await
            .map_err(err)?
        {
            CreateOutcome::Created => out.created.push(planned.name.clone()),
            CreateOutcome::AlreadyExists => out.already_existed.push(planned.name.clone()),
        }
        spawned.push((planned.item_id.clone(), planned.generation));
    }
    remember_delivery(
        backend,
        &name,
        item,
        &existing,
        &spawned,
        &policy.exclude_labels,
        out.created.len(),
    )
    .await?;
    Ok(out)
}

/// Writes what a delivery did into the spawner's status: the memory (a new generation, or the
/// needs-input mark of an item whose Task is gone) and the counts, merged into the status as
/// it is now (a poll may have written it since the spawner was read); written only when they
/// changed.
pub(crate) async fn remember_delivery<S: SpawnerPort>(
    backend: &S,
    name: &str,
    item: &WorkItem,
    existing: &[SpawnedTask],
    spawned: &[(String, u32)],
    exclude_labels: &[String],
    created: usize,
) -> Result<(), SpawnerError> {
    let err = |e| backend_error(name, e);
    let current = match backend
        .get(axon_api::Kind::TaskSpawner, name)
        .await
        .map_err(err)?
    {
        Some(axon_api::Resource::TaskSpawner(s)) => s.status.unwrap_or_default(),
        _ => return Ok(()),
    };
    let mut status = current.clone();
    let memory = remember_one(
        &memory_from_status(&current.spawned_items),
        item,
        existing,
        spawned,
        exclude_labels,
    );
    status.spawned_items = memory_to_status(&memory);
    let created = i64::try_from(created).unwrap_or(i64::MAX);
    status.total_tasks_created = current.total_tasks_created.saturating_add(created);
    status.active_tasks = current.active_tasks.saturating_add(created);
    if status != current {
        backend
            .write_spawner_status(name, &status)
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// One Task an event asked for (a comment command, a failed CI check).
pub(crate) struct EventTask<'a> {
    /// Its deterministic name.
    pub name: &'a str,
    /// The item it is for, as the event described it.
    pub item: &'a WorkItem,
    /// Which generation of the item it is.
    pub generation: u32,
    /// The annotation saying which event made it (so the same event never makes another).
    pub source: (&'static str, String),
}

/// Builds the Task of `spawner` for `event` from `rendered`, creates it if absent and
/// remembers the item in the spawner's memory. `Ok(Err(reason))`: the Task is invalid.
pub(crate) async fn create_event_task<S: SpawnerPort>(
    backend: &S,
    spawner: &TaskSpawner,
    existing: &[SpawnedTask],
    event: EventTask<'_>,
    rendered: RenderedTemplate,
) -> Result<Result<CreateOutcome, String>, SpawnerError> {
    let name = spawner.metadata.name.clone().unwrap_or_default();
    let mut task = build_task(
        spawner,
        event.name,
        &event.item.id,
        event.generation,
        rendered,
        spawner.spec.task_template.workspace_ref.clone(),
    );
    let (key, value) = event.source;
    task.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.to_string(), value);
    let task = match Valid::check_task(task) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let outcome = backend
        .create_spawned_task(spawner, task)
        .await
        .map_err(|e| backend_error(&name, e))?;
    remember_delivery(
        backend,
        &name,
        event.item,
        existing,
        &[(event.item.id.clone(), event.generation)],
        &spawn_policy(spawner).exclude_labels,
        usize::from(outcome == CreateOutcome::Created),
    )
    .await?;
    Ok(Ok(outcome))
}
