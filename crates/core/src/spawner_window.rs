//! What the start gate needs to know about a Task's TaskSpawner budget, gathered the same way
//! by both drivers: which spawner owns the Task, that spawner's window limits, and what the
//! Tasks it owns spent ([`SpawnerWindow::of`]).
//!
//! Why here and not in each driver: the local engine reads the store and the Kubernetes
//! controller reads the API, but which Tasks count (those the spawner owns, by the uid in
//! their owner reference, as [`crate::ownership`] decides deletion), when a spending happened
//! (a finished Task's completion time; a running Task's now, with its live `status.usage`),
//! and what a spending is (cost, input plus output tokens) must not differ between them, or
//! one YAML would hold a Task on one backend and start it on the other.
//!
//! A Task deleted (by hand or by its `ttlSecondsAfterFinished`) takes its spending with it:
//! only Tasks that still exist are counted.

use crate::ownership::is_owned_by;
use crate::spawner_budget::{SpawnerBudget, Spend};
use crate::start_gate::WaitKind;
use axon_api::{Kind, Task, TaskPhase, TaskSpawner};
use jiff::Timestamp;

/// A Task's spawner, its window limits and its Tasks' spending.
#[derive(Clone, Debug, PartialEq)]
pub struct SpawnerWindow {
    /// The TaskSpawner's name (named in the Task's waiting message).
    pub spawner: String,
    /// Its `spec.budget`.
    pub budget: SpawnerBudget,
    /// What its Tasks spent, one entry per Task that used anything.
    pub spent: Vec<Spend>,
}

/// The name of the TaskSpawner that owns `task` (its controller owner reference of kind
/// TaskSpawner): the spawner a driver looks up. `None` for a Task no spawner made.
pub fn owning_spawner(task: &Task) -> Option<&str> {
    task.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.kind == Kind::TaskSpawner.as_str() && r.controller == Some(true))
        .map(|r| r.name.as_str())
}

/// What `task` spent, as its status says, at `now`: `None` when it used nothing (or has not
/// run). A finished Task's spending happened at its completion time (its start time, or `now`,
/// when that is not recorded); any other Task with usage is still running.
pub fn spend_of(task: &Task, now: Timestamp) -> Option<Spend> {
    let status = task.status.as_ref()?;
    let usage = status.usage.as_ref()?;
    let tokens = usage.input_tokens.saturating_add(usage.output_tokens);
    if tokens == 0 && usage.cost_usd.unwrap_or(0.0) <= 0.0 {
        return None;
    }
    let finished = status.phase.is_some_and(TaskPhase::is_finished);
    Some(if finished {
        let at = [&status.completion_time, &status.start_time]
            .into_iter()
            .flatten()
            .find_map(|t| t.parse::<Timestamp>().ok())
            .unwrap_or(now);
        Spend::finished(at, usage.cost_usd, tokens)
    } else {
        Spend::running(now, usage.cost_usd, tokens)
    })
}

/// Whether `task` waits Pending because its spawner's budget is full (its `Waiting`
/// condition says so): the Tasks a driver looks at again when the spawner changes (a raised
/// limit) or one of its Tasks does (a deleted one takes its spending with it).
pub fn held_by_spawner_budget(task: &Task) -> bool {
    let Some(status) = task.status.as_ref() else {
        return false;
    };
    status.phase.unwrap_or_default() == TaskPhase::Pending
        && status.conditions.iter().any(|c| {
            c.type_ == "Waiting"
                && c.status == "True"
                && c.reason == WaitKind::SpawnerBudget.reason()
        })
}

impl SpawnerWindow {
    /// The window facts of `task`, given the spawner a driver found under the name
    /// [`owning_spawner`] gave (`None`: not found) and the Tasks it could see (all of the
    /// namespace, or those labelled with the spawner's name). `None` when the gate has nothing
    /// to check: the Task has no spawner, the spawner is gone or is a later one of the same name
    /// (another uid), or its budget sets no limit.
    pub fn of<'t>(
        task: &Task,
        spawner: Option<&TaskSpawner>,
        tasks: impl IntoIterator<Item = &'t Task>,
        now: Timestamp,
    ) -> Option<SpawnerWindow> {
        let spawner = spawner?;
        if !is_owned_by(task, spawner) {
            return None;
        }
        let budget = SpawnerBudget::from(spawner.spec.budget.as_ref()?);
        if !budget.is_limited() {
            return None;
        }
        let spent = tasks
            .into_iter()
            .filter(|t| is_owned_by(t, spawner))
            .filter_map(|t| spend_of(t, now))
            .collect();
        Some(SpawnerWindow {
            spawner: spawner.metadata.name.clone().unwrap_or_default(),
            budget,
            spent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::owned_task;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn spawner(uid: &str, budget: serde_json::Value) -> TaskSpawner {
        serde_json::from_value(json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "TaskSpawner",
            "metadata": {"name": "nightly", "namespace": "ns", "uid": uid},
            "spec": {
                "when": {"cron": {"schedule": "0 * * * *"}},
                "budget": budget,
                "taskTemplate": {"type": "codex",
                    "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
            },
        }))
        .expect("spawner")
    }

    fn task(name: &str, status: serde_json::Value) -> Task {
        serde_json::from_value(json!({
            "apiVersion": "axon.io/v1alpha1",
            "kind": "Task",
            "metadata": {"name": name},
            "spec": {"type": "codex", "prompt": "p",
                "credentials": {"type": "api-key", "secretRef": {"name": "c"}}},
            "status": status,
        }))
        .expect("task")
    }

    #[test]
    fn finished_tasks_spend_at_completion_running_ones_now_unused_ones_nothing() {
        let now = ts("2026-05-02T10:00:00Z");
        let done = task(
            "a",
            json!({"phase": "Failed", "startTime": "2026-05-02T08:00:00Z",
                "completionTime": "2026-05-02T09:00:00Z",
                "usage": {"inputTokens": 700, "outputTokens": 50, "costUSD": 0.25, "turns": 3}}),
        );
        assert_eq!(
            spend_of(&done, now),
            Some(Spend::finished(ts("2026-05-02T09:00:00Z"), Some(0.25), 750))
        );
        let running = task(
            "b",
            json!({"phase": "Running", "startTime": "2026-05-02T09:30:00Z",
                "usage": {"inputTokens": 10, "outputTokens": 5, "turns": 1}}),
        );
        assert_eq!(spend_of(&running, now), Some(Spend::running(now, None, 15)));
        let idle = task("c", json!({"phase": "Succeeded", "usage": {"turns": 0}}));
        assert_eq!(spend_of(&idle, now), None);
        assert_eq!(spend_of(&task("d", json!({"phase": "Pending"})), now), None);
        // No completion time recorded: the start time, else now.
        let odd = task(
            "e",
            json!({"phase": "Succeeded", "startTime": "2026-05-02T07:00:00Z",
                "usage": {"outputTokens": 1}}),
        );
        assert_eq!(
            spend_of(&odd, now).map(|s| s.at),
            Some(ts("2026-05-02T07:00:00Z"))
        );
    }

    #[test]
    fn only_the_tasks_the_spawner_owns_count() {
        let now = ts("2026-05-02T10:00:00Z");
        let sp = spawner("uid-1", json!({"perDay": {"maxTokens": 1000}}));
        let used = json!({"phase": "Succeeded", "completionTime": "2026-05-02T09:00:00Z",
            "usage": {"inputTokens": 400, "outputTokens": 100}});
        let mine = owned_task(&sp, task("nightly-1", used.clone()));
        let waiting = owned_task(&sp, task("nightly-2", json!({"phase": "Pending"})));
        // Same label by hand, no owner reference; and one owned by an earlier spawner.
        let mut labelled = task("stranger", used.clone());
        labelled.metadata.labels = mine.metadata.labels.clone();
        let earlier = owned_task(
            &spawner("uid-0", json!({})),
            task("nightly-0", used.clone()),
        );
        let all = [&mine, &waiting, &labelled, &earlier];
        assert_eq!(owning_spawner(&waiting), Some("nightly"));
        assert_eq!(owning_spawner(&labelled), None);
        let w = SpawnerWindow::of(&waiting, Some(&sp), all, now).expect("a window to check");
        assert_eq!(w.spawner, "nightly");
        assert_eq!(
            w.spent,
            [Spend::finished(ts("2026-05-02T09:00:00Z"), None, 500)]
        );
        assert_eq!(w.budget.per_day.and_then(|d| d.max_tokens), Some(1000));
        // Nothing to check: no spawner found, a later spawner of the same name, no limit.
        assert_eq!(SpawnerWindow::of(&waiting, None, all, now), None);
        let later = spawner("uid-2", json!({"perDay": {"maxTokens": 1000}}));
        assert_eq!(SpawnerWindow::of(&waiting, Some(&later), all, now), None);
        let unlimited = spawner("uid-1", json!({"perHour": {}}));
        assert_eq!(
            SpawnerWindow::of(&waiting, Some(&unlimited), all, now),
            None
        );
    }

    #[test]
    fn a_task_held_by_the_budget_says_so_in_its_waiting_condition() {
        let held = |phase: &str, reason: &str, status: &str| {
            held_by_spawner_budget(&task(
                "t",
                json!({"phase": phase, "conditions": [{"type": "Waiting", "status": status,
                    "reason": reason, "message": "m"}]}),
            ))
        };
        assert!(held("Pending", "SpawnerBudgetReached", "True"));
        assert!(!held("Pending", "SpawnerBudgetReached", "False"));
        assert!(!held("Pending", "BranchInUse", "True"));
        assert!(!held("Running", "SpawnerBudgetReached", "True"));
        assert!(!held_by_spawner_budget(&task("t", json!(null))));
    }
}
