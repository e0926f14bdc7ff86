//! What a failed CI check does to a pull request (CI remediation), decided from the spawner's
//! Tasks and memory alone (as [`crate::spawn_command`] decides a comment command), so a
//! redelivered check decides the same way again.
//!
//! * The Task is `<spawner>-<PR>-ci<check id>` ([`crate::spawn_name::check_task_name`]), the
//!   item's next generation, and carries the check (`axon.io/source-check`,
//!   `<event>/<id>`): any number of deliveries of one check's failure make one Task, even
//!   after it finished.
//! * While the pull request's Task (any: the poll's, a command's, a CI one) is running,
//!   nothing starts: an item never has two live Tasks, and the running agent may be fixing
//!   it already.
//! * At most `maxAttempts` CI Tasks per pull request: an agent whose push fails CI again gets
//!   another try, but the loop push → red CI → new Task ends there, and the answer says so.
//!   Counted from the spawner's Tasks that carry `axon.io/source-check`, so a CI Task
//!   deleted by its TTL no longer counts.

use crate::spawn::SpawnedTask;
use crate::spawn_memory::ItemMemory;
use crate::spawn_name::check_task_name;
use serde::Serialize;

/// The decision for one failed check on one pull request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CheckPlan {
    /// Create this Task.
    Create {
        /// Its name.
        name: String,
        /// The item's generation it is.
        generation: u32,
    },
    /// This check's Task exists already (a redelivery): nothing new.
    Exists {
        /// That Task.
        task: String,
    },
    /// The pull request's Task is still running: nothing started.
    Running {
        /// That Task.
        task: String,
    },
    /// The pull request had `max` CI Tasks already: nothing started.
    Exhausted {
        /// CI Tasks it had.
        attempts: usize,
        /// `webhook.checks.maxAttempts`.
        max: u32,
    },
}

/// Decides a failed check `check_id` for pull request `item_id` of `spawner`, given its
/// Tasks and memory, the names of the item's Tasks a check made (`check_tasks`, those
/// carrying `axon.io/source-check`), and the Task this very check made already, if any.
#[allow(clippy::too_many_arguments)]
pub fn plan_check(
    spawner: &str,
    item_id: &str,
    check_id: u64,
    max_attempts: u32,
    existing: &[SpawnedTask],
    memory: &[ItemMemory],
    check_tasks: &[String],
    made_by_check: Option<&str>,
) -> CheckPlan {
    let tasks: Vec<&SpawnedTask> = existing
        .iter()
        .filter(|t| t.item_id.as_deref() == Some(item_id))
        .collect();
    let own = check_task_name(spawner, item_id, check_id);
    if let Some(task) = made_by_check.or_else(|| {
        tasks
            .iter()
            .find(|t| t.name == own)
            .map(|t| t.name.as_str())
    }) {
        return CheckPlan::Exists {
            task: task.to_string(),
        };
    }
    if let Some(t) = tasks
        .iter()
        .filter(|t| !t.finished)
        .max_by_key(|t| t.generation)
    {
        return CheckPlan::Running {
            task: t.name.clone(),
        };
    }
    let attempts = tasks
        .iter()
        .filter(|t| check_tasks.contains(&t.name))
        .count();
    if attempts >= usize::try_from(max_attempts).unwrap_or(usize::MAX) {
        return CheckPlan::Exhausted {
            attempts,
            max: max_attempts,
        };
    }
    let last = tasks
        .iter()
        .map(|t| t.generation)
        .max()
        .max(
            memory
                .iter()
                .find(|m| m.id == item_id)
                .map(|m| m.generation),
        )
        .unwrap_or(0);
    CheckPlan::Create {
        name: own,
        generation: last.saturating_add(1),
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

    #[test]
    fn decisions() {
        let poll_done = [task("s-7", 1, true)];
        let poll_running = [task("s-7", 1, false)];
        let one_done = [task("s-7", 1, true), task("s-7-ci100", 2, true)];
        let three_done = [
            task("s-7", 1, true),
            task("s-7-ci100", 2, true),
            task("s-7-ci200", 3, true),
            task("s-7-ci300", 4, true),
        ];
        let other = [SpawnedTask {
            item_id: Some("8".into()),
            ..task("s-8", 1, false)
        }];
        let memory = [ItemMemory {
            id: "7".into(),
            generation: 5,
            updated_at: None,
            needs_input_seen: false,
        }];
        let ci: Vec<String> = ["s-7-ci100", "s-7-ci200", "s-7-ci300"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        type Case<'a> = (&'a str, u64, &'a [SpawnedTask], &'a [ItemMemory]);
        let cases: [Case; 9] = [
            ("no Task", 100, &[], &[]),
            ("another item's Task running", 100, &other, &[]),
            ("the poll's Task finished", 100, &poll_done, &[]),
            ("the poll's Task running", 100, &poll_running, &[]),
            ("Tasks deleted by TTL", 100, &[], &memory),
            ("redelivered after it finished", 100, &one_done, &[]),
            ("a second failure", 200, &one_done, &[]),
            ("the fourth failure (max 3)", 400, &three_done, &[]),
            (
                "its Task renamed (hashed), found by annotation",
                900,
                &one_done,
                &[],
            ),
        ];
        let lines: Vec<String> = cases
            .iter()
            .map(|(what, check, tasks, mem)| {
                format!(
                    "{what}: {:?}",
                    plan_check(
                        "s",
                        "7",
                        *check,
                        3,
                        tasks,
                        mem,
                        &ci,
                        (*check == 900).then_some("s-7-ci100"),
                    )
                )
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"), @r#"
        no Task: Create { name: "s-7-ci100", generation: 1 }
        another item's Task running: Create { name: "s-7-ci100", generation: 1 }
        the poll's Task finished: Create { name: "s-7-ci100", generation: 2 }
        the poll's Task running: Running { task: "s-7" }
        Tasks deleted by TTL: Create { name: "s-7-ci100", generation: 6 }
        redelivered after it finished: Exists { task: "s-7-ci100" }
        a second failure: Create { name: "s-7-ci200", generation: 3 }
        the fourth failure (max 3): Exhausted { attempts: 3, max: 3 }
        its Task renamed (hashed), found by annotation: Exists { task: "s-7-ci100" }
        "#);
    }
}
