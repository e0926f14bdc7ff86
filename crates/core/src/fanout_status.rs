//! `status.items` of a fan-out TaskSpawner (`when.items`): how many items succeeded, failed,
//! are running or waiting, and the branches and pull requests of the finished ones, so that
//! `axon get taskspawner X` answers "how is my fleet-wide change going" without listing Tasks.
//!
//! Computed at every poll from the items in the spec, the spawner's Tasks and the previous
//! summary. A finished Task deleted by `ttlSecondsAfterFinished` keeps its item's result: the
//! previous summary's entry is carried over, so counts do not go back to "waiting" when Tasks
//! are cleaned up. Items removed from the spec leave the summary (their Tasks stay).

use axon_api::{ItemResult, ItemsSummary, TaskPhase};
use std::collections::{HashMap, HashSet};

/// What the summary needs to know about one of the spawner's Tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemTask {
    /// The Task's name.
    pub name: String,
    /// Its phase (`None`: not yet reported, i.e. Pending).
    pub phase: Option<TaskPhase>,
    /// The branch the agent left (`status.outputs.branch`).
    pub branch: Option<String>,
    /// Pull requests of that branch (`status.outputs.pullRequests`).
    pub pull_requests: Vec<String>,
}

/// The summary for items `keys` (in spec order) of spawner `spawner`, from its Tasks, the keys
/// whose Task the spawner created at some point (its memory; a Task of such an item that is
/// gone without a recorded result was deleted before it finished) and the previous summary.
pub fn summarise(
    spawner: &str,
    keys: &[String],
    tasks: &[ItemTask],
    created: &HashSet<String>,
    previous: Option<&ItemsSummary>,
) -> ItemsSummary {
    let tasks: HashMap<&str, &ItemTask> = tasks.iter().map(|t| (t.name.as_str(), t)).collect();
    let previous: HashMap<&str, &ItemResult> = previous
        .map(|p| p.results.iter().map(|r| (r.item.as_str(), r)).collect())
        .unwrap_or_default();
    let mut s = ItemsSummary {
        total: i64::try_from(keys.len()).unwrap_or(i64::MAX),
        ..ItemsSummary::default()
    };
    for key in keys {
        let name = format!("{spawner}-{key}");
        let result = match tasks.get(name.as_str()) {
            Some(task) => match task.phase {
                // A cancelled item's Task counts with the failed ones: it did not succeed.
                Some(phase) if phase.is_finished() => Some(ItemResult {
                    item: key.clone(),
                    task: name,
                    phase: phase.as_str().to_string(),
                    branch: task.branch.clone(),
                    pull_requests: task.pull_requests.clone(),
                }),
                _ => {
                    s.running += 1;
                    None
                }
            },
            None => match previous.get(key.as_str()) {
                Some(kept) if kept.task == name => Some((*kept).clone()),
                _ if created.contains(key) => {
                    s.deleted += 1;
                    None
                }
                _ => {
                    s.waiting += 1;
                    None
                }
            },
        };
        if let Some(result) = result {
            if result.phase == TaskPhase::Succeeded.as_str() {
                s.succeeded += 1;
            } else {
                s.failed += 1;
            }
            s.results.push(result);
        }
    }
    s
}

/// One line for tables: `3 items: 2 succeeded, 1 failed, 0 running, 0 waiting`.
pub fn progress_line(s: &ItemsSummary) -> String {
    let mut line = format!(
        "{} items: {} succeeded, {} failed, {} running, {} waiting",
        s.total, s.succeeded, s.failed, s.running, s.waiting
    );
    if s.deleted > 0 {
        line.push_str(&format!(", {} deleted", s.deleted));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    fn task(name: &str, phase: Option<TaskPhase>, pr: Option<&str>) -> ItemTask {
        ItemTask {
            name: name.into(),
            phase,
            branch: pr.map(|_| format!("axon/{name}")),
            pull_requests: pr.into_iter().map(String::from).collect(),
        }
    }

    #[test]
    fn every_item_is_counted_once() {
        let items = keys(&["billing", "search", "auth", "cart", "mail"]);
        let tasks = [
            task(
                "s-billing",
                Some(TaskPhase::Succeeded),
                Some("https://example.test/billing/pull/1"),
            ),
            task("s-search", Some(TaskPhase::Failed), None),
            task("s-auth", Some(TaskPhase::Running), None),
            task("s-cart", None, None),
            task("unrelated", Some(TaskPhase::Succeeded), None),
        ];
        let created: HashSet<String> = ["billing", "search", "auth", "cart"]
            .map(String::from)
            .into();
        let s = summarise("s", &items, &tasks, &created, None);
        assert_eq!(
            progress_line(&s),
            "5 items: 1 succeeded, 1 failed, 2 running, 1 waiting"
        );
        insta::assert_yaml_snapshot!(s, @r#"
        total: 5
        succeeded: 1
        failed: 1
        running: 2
        waiting: 1
        deleted: 0
        results:
          - item: billing
            task: s-billing
            phase: Succeeded
            branch: axon/s-billing
            pullRequests:
              - "https://example.test/billing/pull/1"
          - item: search
            task: s-search
            phase: Failed
        "#);
    }

    #[test]
    fn results_outlive_deleted_tasks_and_removed_items_leave() {
        let items = keys(&["billing", "search"]);
        let created: HashSet<String> = ["billing", "search"].map(String::from).into();
        let done = [
            task(
                "s-billing",
                Some(TaskPhase::Succeeded),
                Some("https://example.test/pull/1"),
            ),
            task("s-search", Some(TaskPhase::Running), None),
        ];
        let first = summarise("s", &items, &done, &created, None);
        // TTL deletes both Tasks: billing had finished, search had not.
        let after = summarise("s", &items, &[], &created, Some(&first));
        assert_eq!(after.succeeded, 1);
        assert_eq!(after.results, first.results);
        assert_eq!(after.deleted, 1);
        assert_eq!(
            progress_line(&after),
            "2 items: 1 succeeded, 0 failed, 0 running, 0 waiting, 1 deleted"
        );
        // billing removed from the spec: it leaves the summary.
        let after = summarise("s", &keys(&["search"]), &[], &created, Some(&first));
        assert_eq!(after.total, 1);
        assert!(after.results.is_empty());
    }
}
