//! What an authorised `/axon` comment command does to an item, decided from the spawner's
//! Tasks and memory alone (as [`crate::spawn`] decides for a poll), so a redelivered or
//! repeated command decides the same way again.
//!
//! * `/axon run` and `/axon retry` on an item without any Task (and none remembered) create
//!   the item's first Task under the poll's name (`<spawner>-<ID>`): a later poll finds it
//!   and creates nothing. On an item whose Task is still running they do nothing (an item
//!   never has two live Tasks). On an item whose latest Task finished, or was deleted, they
//!   create the next attempt, `<spawner>-<ID>-c<comment id>`
//!   ([`crate::spawn_name::command_task_name`]) with the next generation: keyed by the
//!   comment, so redeliveries of one comment make one Task and another comment another. Every
//!   Task a command makes carries the comment's id (`axon.io/source-comment`), so the same
//!   comment, delivered again under another delivery id after its Task (even the first, named
//!   like the poll's) finished, makes nothing.
//! * `/axon cancel` names the item's running Task, if any.
//!
//! A command is an explicit request by an authorised person, so it does not wait for
//! `maxConcurrency`, and the `labels` and `excludeLabels` filters do not apply to it (the
//! spawner's `budget` still holds the Task until it has room).

use crate::spawn::SpawnedTask;
use crate::spawn_memory::ItemMemory;
use crate::spawn_name::{command_task_name, task_name};
use crate::webhook::comment_command::Verb;
use serde::Serialize;

/// The decision for one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CommandPlan {
    /// Create this Task.
    Create {
        /// Its name.
        name: String,
        /// The item's generation it is.
        generation: u32,
    },
    /// The item's Task is still running: nothing to start.
    Running {
        /// That Task.
        task: String,
    },
    /// Cancel this running Task.
    Cancel {
        /// The Task.
        task: String,
    },
    /// This comment's attempt exists already (a redelivery after it finished): nothing new.
    Exists {
        /// That Task.
        task: String,
    },
    /// `/axon cancel` on an item with no running Task.
    NothingToCancel,
}

/// Decides command `verb` (from comment `comment_id`) for item `item_id` of `spawner`, given
/// its Tasks and memory, and the Task this very comment made already (found by its
/// `axon.io/source-comment` annotation), if any.
pub fn plan_command(
    spawner: &str,
    item_id: &str,
    verb: Verb,
    comment_id: u64,
    existing: &[SpawnedTask],
    memory: &[ItemMemory],
    made_by_comment: Option<&str>,
) -> CommandPlan {
    let tasks: Vec<&SpawnedTask> = existing
        .iter()
        .filter(|t| t.item_id.as_deref() == Some(item_id))
        .collect();
    let running = tasks
        .iter()
        .filter(|t| !t.finished)
        .max_by_key(|t| t.generation);
    if verb == Verb::Cancel {
        return match running {
            Some(t) => CommandPlan::Cancel {
                task: t.name.clone(),
            },
            None => CommandPlan::NothingToCancel,
        };
    }
    if let Some(t) = running {
        return CommandPlan::Running {
            task: t.name.clone(),
        };
    }
    // This comment made a Task already (a redelivery after it finished): nothing new.
    let own = command_task_name(spawner, item_id, comment_id);
    if let Some(task) = made_by_comment.or_else(|| {
        tasks
            .iter()
            .find(|t| t.name == own)
            .map(|t| t.name.as_str())
    }) {
        return CommandPlan::Exists {
            task: task.to_string(),
        };
    }
    let last = tasks.iter().map(|t| t.generation).max().max(
        memory
            .iter()
            .find(|m| m.id == item_id)
            .map(|m| m.generation),
    );
    match last {
        None => CommandPlan::Create {
            name: task_name(spawner, item_id, 1),
            generation: 1,
        },
        Some(last) => CommandPlan::Create {
            name: own,
            generation: last.saturating_add(1),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, generation: u32, finished: bool) -> SpawnedTask {
        SpawnedTask {
            name: name.into(),
            item_id: Some("7".into()),
            generation,
            finished,
            needs_input_seen: false,
        }
    }

    fn memory(generation: u32) -> ItemMemory {
        ItemMemory {
            id: "7".into(),
            generation,
            updated_at: None,
            needs_input_seen: false,
        }
    }

    #[test]
    fn decisions() {
        let finished = [task("s-7", 1, true)];
        let running = [task("s-7", 1, true), task("s-7-c100", 2, false)];
        let attempt_done = [task("s-7", 1, true), task("s-7-c100", 2, true)];
        let other = [SpawnedTask {
            item_id: Some("8".into()),
            ..task("s-8", 1, false)
        }];
        type Case<'a> = (&'a str, Verb, u64, &'a [SpawnedTask], &'a [ItemMemory]);
        let cases: [Case; 11] = [
            ("run, no Task", Verb::Run, 100, &[], &[]),
            ("run, another item's Task", Verb::Run, 100, &other, &[]),
            ("retry, no Task", Verb::Retry, 100, &[], &[]),
            ("run, Task finished", Verb::Run, 100, &finished, &[]),
            (
                "run, Task deleted by TTL",
                Verb::Retry,
                100,
                &[],
                &[memory(3)],
            ),
            ("run, an attempt running", Verb::Run, 200, &running, &[]),
            (
                "redelivered after it finished",
                Verb::Run,
                100,
                &attempt_done,
                &[],
            ),
            (
                "a new comment after that",
                Verb::Retry,
                200,
                &attempt_done,
                &[],
            ),
            (
                "the first Task's comment again",
                Verb::Run,
                50,
                &attempt_done,
                &[],
            ),
            ("cancel, running", Verb::Cancel, 300, &running, &[]),
            ("cancel, nothing running", Verb::Cancel, 300, &finished, &[]),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, verb, comment, tasks, mem)| {
                format!(
                    "{what}: {:?}",
                    plan_command(
                        "s",
                        "7",
                        *verb,
                        *comment,
                        tasks,
                        mem,
                        (*comment == 50).then_some("s-7"),
                    )
                )
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        run, no Task: Create { name: "s-7", generation: 1 }
        run, another item's Task: Create { name: "s-7", generation: 1 }
        retry, no Task: Create { name: "s-7", generation: 1 }
        run, Task finished: Create { name: "s-7-c100", generation: 2 }
        run, Task deleted by TTL: Create { name: "s-7-c100", generation: 4 }
        run, an attempt running: Running { task: "s-7-c100" }
        redelivered after it finished: Exists { task: "s-7-c100" }
        a new comment after that: Create { name: "s-7-c200", generation: 3 }
        the first Task's comment again: Exists { task: "s-7" }
        cancel, running: Cancel { task: "s-7-c100" }
        cancel, nothing running: NothingToCancel
        "#);
    }
}
